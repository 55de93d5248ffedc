use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[enrich]`: offline GeoIP, ASN and cloud-range sources for source addresses.
///
/// Every source is optional; with none configured events carry no enrichment and the anomaly
/// detectors that need it (new country, new ASN) stay silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichConfig {
    /// `.mmdb` files (MaxMind GeoIP2/GeoLite2 country, city or ASN databases, or the flat
    /// ip-location-db databases). Looked up in order; the first database giving a field wins.
    pub mmdb: Vec<PathBuf>,
    /// ASN range files in the ip-location-db CSV format `start_ip,end_ip,asn,org`
    /// (e.g. `asn-ipv4.csv` of `@ip-location-db/asn`, CC-BY: DB-IP and Route Views).
    pub asn_csv: Vec<PathBuf>,
    /// AWS's published `ip-ranges.json`: addresses inside get a cloud tag
    /// `aws:SERVICE:REGION`.
    pub aws_ip_ranges: Option<PathBuf>,
    /// How many addresses' results are cached (the cache keeps the most recently used).
    pub cache_size: usize,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            mmdb: Vec::new(),
            asn_csv: Vec::new(),
            aws_ip_ranges: None,
            cache_size: 65_536,
        }
    }
}

impl EnrichConfig {
    /// True when no source is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mmdb.is_empty() && self.asn_csv.is_empty() && self.aws_ip_ranges.is_none()
    }
}
