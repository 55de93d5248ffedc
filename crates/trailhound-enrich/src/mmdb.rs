use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trailhound_core::SmallStr;

use crate::{Error, Result};

/// A MaxMind-format database (`.mmdb`), read into memory.
///
/// Both record layouts are understood: MaxMind's GeoIP2/GeoLite2 (`country.iso_code`,
/// `registered_country.iso_code`, `autonomous_system_number`,
/// `autonomous_system_organization`) and the flat layout of the ip-location-db packages
/// (`country_code`, and `asn`/`as_organization` or the MaxMind ASN keys when present).
pub struct GeoDatabase {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDatabase")
            .field("path", &self.path)
            .field("database_type", &self.reader.metadata.database_type)
            .finish()
    }
}

/// What one database says about an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoRecord {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<SmallStr>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Organisation owning the AS.
    pub as_org: Option<SmallStr>,
}

#[derive(Deserialize, Default)]
struct RawRecord<'a> {
    #[serde(borrow, default)]
    country: Option<RawCountry<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<RawCountry<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    asn: Option<NumberOrText<'a>>,
    #[serde(borrow, default)]
    as_organization: Option<&'a str>,
    #[serde(borrow, default)]
    as_name: Option<&'a str>,
}

#[derive(Deserialize)]
struct RawCountry<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText<'a> {
    Number(u32),
    Text(&'a str),
}

impl NumberOrText<'_> {
    fn as_u32(&self) -> Option<u32> {
        match self {
            NumberOrText::Number(n) => Some(*n),
            NumberOrText::Text(t) => t.trim_start_matches("AS").parse().ok(),
        }
    }
}

impl GeoDatabase {
    /// Opens a `.mmdb` file.
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Mmdb`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::from_bytes(crate::net::read_bytes(path)?, path)
    }

    /// A database from its bytes; `path` is for messages.
    ///
    /// # Errors
    /// [`Error::Mmdb`] when the bytes are not a MaxMind database.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|source| Error::Mmdb {
            path: path.to_owned(),
            source,
        })?;
        Ok(GeoDatabase {
            reader,
            path: path.to_owned(),
        })
    }

    /// The database's `database_type` metadata.
    #[must_use]
    pub fn database_type(&self) -> &str {
        &self.reader.metadata.database_type
    }

    /// What the database says about an address; an address it does not cover, or a record it
    /// cannot decode, gives an empty record (logged at debug level).
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> GeoRecord {
        let raw: RawRecord<'_> = match self.reader.lookup(ip) {
            Ok(Some(raw)) => raw,
            Ok(None) => return GeoRecord::default(),
            Err(error) => {
                tracing::debug!(%error, %ip, path = %self.path.display(), "mmdb lookup failed");
                return GeoRecord::default();
            }
        };
        let country = raw
            .country
            .and_then(|c| c.iso_code)
            .or(raw.country_code)
            .or_else(|| raw.registered_country.and_then(|c| c.iso_code))
            .filter(|c| !c.is_empty())
            .map(SmallStr::new);
        let asn = raw
            .autonomous_system_number
            .or_else(|| raw.asn.as_ref().and_then(NumberOrText::as_u32));
        let as_org = raw
            .autonomous_system_organization
            .or(raw.as_organization)
            .or(raw.as_name)
            .filter(|o| !o.is_empty())
            .map(SmallStr::new);
        GeoRecord {
            country,
            asn,
            as_org,
        }
    }
}
