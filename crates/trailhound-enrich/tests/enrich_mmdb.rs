//! Enrichment from tiny MaxMind databases written at test time with the PyPI package
//! `mmdb-writer` (installed by scripts/test-deps.sh), in both layouts.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

use trailhound_core::{Event, Origin};
use trailhound_enrich::{AsnRanges, CloudRanges, EnrichConfig, Enricher, GeoDatabase};

const WRITER: &str = r#"
import sys
from netaddr import IPSet
from mmdb_writer import MMDBWriter
geo = MMDBWriter(ip_version=6, database_type='GeoIP2-Country', languages=['en'],
                 description='trailhound test', ipv4_compatible=True)
geo.insert_network(IPSet(['203.0.113.0/24']), {'country': {'iso_code': 'NL'},
    'autonomous_system_number': 64500, 'autonomous_system_organization': 'Example VPN'})
geo.insert_network(IPSet(['198.51.100.0/24']), {'country': {'iso_code': 'US'},
    'registered_country': {'iso_code': 'US'}})
geo.to_db_file(sys.argv[1])
flat = MMDBWriter(ip_version=6, database_type='iptoasn-country', languages=['en'],
                  description='flat', ipv4_compatible=True)
flat.insert_network(IPSet(['192.0.2.0/24']), {'country_code': 'DE'})
flat.insert_network(IPSet(['2001:db8::/32']), {'country_code': 'FR', 'asn': 64510,
    'as_organization': 'V6 Example'})
flat.to_db_file(sys.argv[2])
"#;

/// Writes the two test databases; fails the test when Python or mmdb-writer is missing.
fn write_databases(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    assert!(
        Command::new(&python).arg("--version").output().is_ok(),
        "{python} not found: the mmdb tests need Python and mmdb-writer (scripts/test-deps.sh)"
    );
    let geo = dir.join("geo.mmdb");
    let flat = dir.join("flat.mmdb");
    let output = Command::new(&python)
        .arg("-c")
        .arg(WRITER)
        .arg(&geo)
        .arg(&flat)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mmdb-writer failed (run scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (geo, flat)
}

#[test]
fn both_layouts_country_and_asn() {
    let dir = tempfile::tempdir().unwrap();
    let (geo, flat) = write_databases(dir.path());
    let geo_db = GeoDatabase::open(&geo).unwrap();
    assert_eq!(geo_db.database_type(), "GeoIP2-Country");
    let r = geo_db.lookup("203.0.113.9".parse().unwrap());
    assert_eq!(r.country.as_deref(), Some("NL"));
    assert_eq!(r.asn, Some(64500));
    assert_eq!(r.as_org.as_deref(), Some("Example VPN"));
    assert_eq!(
        geo_db
            .lookup("198.51.100.1".parse().unwrap())
            .country
            .as_deref(),
        Some("US")
    );
    assert_eq!(geo_db.lookup("192.0.2.1".parse().unwrap()).country, None);

    let flat_db = GeoDatabase::open(&flat).unwrap();
    assert_eq!(
        flat_db
            .lookup("192.0.2.1".parse().unwrap())
            .country
            .as_deref(),
        Some("DE")
    );
    let v6 = flat_db.lookup("2001:db8::1".parse().unwrap());
    assert_eq!(v6.country.as_deref(), Some("FR"));
    assert_eq!(v6.asn, Some(64510));
    assert_eq!(v6.as_org.as_deref(), Some("V6 Example"));

    // The enricher from a config: mmdb first, CSV ASN fills the gap, cloud tag from ip-ranges.
    std::fs::write(
        dir.path().join("asn.csv"),
        "192.0.2.0,192.0.2.255,64496,Example Transit\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ip-ranges.json"),
        r#"{"prefixes":[{"ip_prefix":"198.51.100.0/24","region":"us-east-1","service":"EC2"}],"ipv6_prefixes":[]}"#,
    )
    .unwrap();
    let config = EnrichConfig {
        mmdb: vec![geo.clone(), flat.clone()],
        asn_csv: vec![dir.path().join("asn.csv")],
        aws_ip_ranges: Some(dir.path().join("ip-ranges.json")),
        cache_size: 16,
    };
    let mut enricher = Enricher::from_config(&config).unwrap();
    let de = enricher.lookup("192.0.2.7".parse().unwrap());
    assert_eq!(
        (de.country.as_deref(), de.asn, de.as_org.as_deref()),
        (Some("DE"), Some(64496), Some("Example Transit"))
    );
    let us = enricher.lookup("198.51.100.3".parse().unwrap());
    assert_eq!(
        (us.country.as_deref(), us.cloud.as_deref()),
        (Some("US"), Some("aws:EC2:us-east-1"))
    );

    let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com",
        "eventName":"ListBuckets","sourceIPAddress":"203.0.113.9","eventID":"e1"}"#;
    let event = Event::from_json(raw, Origin::new("t", 0)).unwrap();
    assert!(enricher.enrich(&event));
    assert!(!enricher.enrich(&event), "enrichment is set once");
    let e = event.enrichment().unwrap();
    assert_eq!((e.country.as_deref(), e.asn), (Some("NL"), Some(64500)));
    let service = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com",
        "eventName":"ListBuckets","sourceIPAddress":"s3.amazonaws.com","eventID":"e2"}"#;
    let service = Event::from_json(service, Origin::new("t", 1)).unwrap();
    assert!(!enricher.enrich(&service));
    // Cached lookups count as hits.
    enricher.lookup("192.0.2.7".parse().unwrap());
    assert!(enricher.stats().cache_hits >= 1);
}

#[test]
fn bad_sources_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mmdb");
    std::fs::write(&bad, b"not a database").unwrap();
    let err = GeoDatabase::open(&bad).unwrap_err();
    assert!(
        err.to_string().contains("invalid maxmind database"),
        "{err}"
    );
    let missing = EnrichConfig {
        asn_csv: vec![dir.path().join("missing.csv")],
        ..EnrichConfig::default()
    };
    assert!(
        Enricher::from_config(&missing)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read")
    );
    assert!(AsnRanges::parse_csv("x,y,z,w").is_err());
    assert!(CloudRanges::parse_aws(r#"{"prefixes": 5}"#).is_err());
    assert!(
        Enricher::from_config(&EnrichConfig::default())
            .unwrap()
            .is_empty()
    );
}
