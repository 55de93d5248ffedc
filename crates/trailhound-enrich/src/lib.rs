//! Enrichment of CloudTrail source addresses: country, autonomous system and cloud provider.
//!
//! Sources, all offline and user-supplied:
//! - MaxMind-format `.mmdb` databases, in MaxMind's GeoIP2 layout (`country.iso_code`,
//!   `autonomous_system_number`, `autonomous_system_organization`) or the flat layout of the
//!   ip-location-db packages (`country_code`, and `asn`/`as_organization` when present);
//! - ASN ranges in the ip-location-db CSV format `start_ip,end_ip,asn,org`;
//! - AWS's published `ip-ranges.json` (`prefixes[].ip_prefix/region/service`,
//!   `ipv6_prefixes[].ipv6_prefix/region/service`), giving a cloud tag such as
//!   `aws:EC2:us-east-1`.
//!
//! An [`Enricher`] combines them, caches results by address, and sets
//! [`trailhound_core::Enrichment`] on events before detection.
//!
//! ```
//! use trailhound_enrich::{AsnRanges, Enricher};
//! let ranges = AsnRanges::parse_csv("203.0.113.0,203.0.113.255,64500,Example VPN\n").unwrap();
//! let mut enricher = Enricher::builder().asn_ranges(ranges).build();
//! let found = enricher.lookup("203.0.113.9".parse().unwrap());
//! assert_eq!(found.asn, Some(64500));
//! assert_eq!(found.as_org.as_deref(), Some("Example VPN"));
//! ```

mod asn;
mod cache;
mod cloud;
mod config;
mod enricher;
mod error;
mod mmdb;
mod net;

pub use asn::AsnRanges;
pub use cloud::CloudRanges;
pub use config::EnrichConfig;
pub use enricher::{Enricher, EnricherBuilder, EnricherStats};
pub use error::{Error, Result};
pub use mmdb::{GeoDatabase, GeoRecord};
