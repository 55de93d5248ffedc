use std::net::IpAddr;

use trailhound_core::{Enrichment, Event, SmallStr};

use crate::cache::IpCache;
use crate::{AsnRanges, CloudRanges, EnrichConfig, GeoDatabase, Result};

/// Counters of an [`Enricher`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnricherStats {
    /// Events enriched (an address was looked up, from the cache or the sources).
    pub enriched: u64,
    /// Lookups answered by the cache.
    pub cache_hits: u64,
    /// Lookups that went to the sources.
    pub cache_misses: u64,
}

/// Sets [`Enrichment`] on events from the configured sources, caching by address.
#[derive(Debug)]
pub struct Enricher {
    databases: Vec<GeoDatabase>,
    asn_ranges: AsnRanges,
    cloud: CloudRanges,
    cache: IpCache,
    stats: EnricherStats,
}

/// Builds an [`Enricher`] from sources already loaded.
#[derive(Debug, Default)]
pub struct EnricherBuilder {
    databases: Vec<GeoDatabase>,
    asn_ranges: AsnRanges,
    cloud: CloudRanges,
    cache_size: Option<usize>,
}

impl EnricherBuilder {
    /// Adds a `.mmdb` database (earlier ones win per field).
    #[must_use]
    pub fn database(mut self, database: GeoDatabase) -> Self {
        self.databases.push(database);
        self
    }
    /// Adds ASN ranges (used when no database gives an ASN).
    #[must_use]
    pub fn asn_ranges(mut self, ranges: AsnRanges) -> Self {
        self.asn_ranges.extend(ranges);
        self
    }
    /// Sets the cloud ranges.
    #[must_use]
    pub fn cloud_ranges(mut self, ranges: CloudRanges) -> Self {
        self.cloud = ranges;
        self
    }
    /// Sets the cache capacity (addresses).
    #[must_use]
    pub fn cache_size(mut self, size: usize) -> Self {
        self.cache_size = Some(size);
        self
    }
    /// The enricher.
    #[must_use]
    pub fn build(self) -> Enricher {
        Enricher {
            databases: self.databases,
            asn_ranges: self.asn_ranges,
            cloud: self.cloud,
            cache: IpCache::new(
                self.cache_size
                    .unwrap_or(EnrichConfig::default().cache_size),
            ),
            stats: EnricherStats::default(),
        }
    }
}

impl Enricher {
    /// A builder.
    #[must_use]
    pub fn builder() -> EnricherBuilder {
        EnricherBuilder::default()
    }

    /// Loads every source of the configuration.
    ///
    /// # Errors
    /// The first source that cannot be read or parsed.
    pub fn from_config(config: &EnrichConfig) -> Result<Enricher> {
        let mut builder = Enricher::builder().cache_size(config.cache_size);
        for path in &config.mmdb {
            let database = GeoDatabase::open(path)?;
            tracing::info!(path = %path.display(), kind = database.database_type(), "loaded mmdb");
            builder = builder.database(database);
        }
        for path in &config.asn_csv {
            let ranges = AsnRanges::open(path)?;
            tracing::info!(path = %path.display(), ranges = ranges.len(), "loaded asn ranges");
            builder = builder.asn_ranges(ranges);
        }
        if let Some(path) = &config.aws_ip_ranges {
            let ranges = CloudRanges::open(path)?;
            tracing::info!(path = %path.display(), prefixes = ranges.len(), "loaded aws ip ranges");
            builder = builder.cloud_ranges(ranges);
        }
        Ok(builder.build())
    }

    /// True when no source is loaded (enriching is then a no-op).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty() && self.asn_ranges.is_empty() && self.cloud.is_empty()
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> EnricherStats {
        self.stats
    }

    /// Everything the sources say about an address.
    pub fn lookup(&mut self, ip: IpAddr) -> Enrichment {
        if let Some(found) = self.cache.get(&ip) {
            self.stats.cache_hits += 1;
            return found;
        }
        self.stats.cache_misses += 1;
        let found = self.lookup_uncached(ip);
        self.cache.insert(ip, found.clone());
        found
    }

    fn lookup_uncached(&self, ip: IpAddr) -> Enrichment {
        let mut out = Enrichment::default();
        for database in &self.databases {
            let record = database.lookup(ip);
            if out.country.is_none() {
                out.country = record.country;
            }
            if out.asn.is_none() && record.asn.is_some() {
                out.asn = record.asn;
                out.as_org = record.as_org;
            }
        }
        if out.asn.is_none()
            && let Some((asn, org)) = self.asn_ranges.lookup(ip)
        {
            out.asn = Some(asn);
            out.as_org = (!org.is_empty()).then(|| SmallStr::new(org));
        }
        out.cloud = self.cloud.lookup(ip).map(SmallStr::new);
        out
    }

    /// Sets the enrichment of an event whose source is an address. Events from AWS service
    /// names, and events already enriched, are left alone. Returns true when it was set.
    pub fn enrich(&mut self, event: &Event) -> bool {
        self.enrichment_for(event)
            .is_some_and(|found| event.set_enrichment(found))
    }

    /// [`Enricher::enrich`] for an event this thread holds alone (see
    /// [`Event::set_enrichment_mut`]).
    pub fn enrich_mut(&mut self, event: &mut Event) -> bool {
        self.enrichment_for(event)
            .is_some_and(|found| event.set_enrichment_mut(found))
    }

    /// What to set on an event not enriched yet whose source is an address.
    fn enrichment_for(&mut self, event: &Event) -> Option<Enrichment> {
        if self.is_empty() || event.enrichment().is_some() {
            return None;
        }
        let ip = event.source_ip()?;
        self.stats.enriched += 1;
        Some(self.lookup(ip))
    }

    /// Enriches every event of a slice.
    pub fn enrich_all(&mut self, events: &[Event]) {
        for event in events {
            self.enrich(event);
        }
    }
}
