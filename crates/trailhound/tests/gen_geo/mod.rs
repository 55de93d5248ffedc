//! A MaxMind-format country/ASN database of the generator's networks
//! (`trailhound_gen::geo::NETWORKS`), written at test time with the PyPI package
//! `mmdb-writer` (installed by scripts/test-deps.sh), in MaxMind's GeoIP2 layout.

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

const WRITER: &str = r#"
import json, sys
from netaddr import IPSet
from mmdb_writer import MMDBWriter
networks = json.load(open(sys.argv[1]))
db = MMDBWriter(ip_version=6, database_type='GeoIP2-Country', languages=['en'],
                description='trailhound generated networks', ipv4_compatible=True)
for n in networks:
    db.insert_network(IPSet([n['cidr']]), {
        'country': {'iso_code': n['country']},
        'registered_country': {'iso_code': n['country']},
        'autonomous_system_number': n['asn'],
        'autonomous_system_organization': n['org'],
    })
db.to_db_file(sys.argv[2])
"#;

/// Writes `dir/generated-networks.mmdb` and returns its path. Fails the test with a clear
/// message when Python or mmdb-writer is missing.
pub(crate) fn write_mmdb(dir: &Path) -> PathBuf {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let networks = dir.join("generated-networks.json");
    std::fs::write(
        &networks,
        serde_json::to_string(trailhound_gen::geo::NETWORKS).unwrap(),
    )
    .unwrap();
    let db = dir.join("generated-networks.mmdb");
    let output = Command::new(&python)
        .arg("-c")
        .arg(WRITER)
        .arg(&networks)
        .arg(&db)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{python} is needed to write the test GeoIP database (scripts/test-deps.sh): {e}"
            )
        });
    assert!(
        output.status.success(),
        "mmdb-writer failed (run scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    db
}
