//! CloudTrail digest files as `trailhound verify` reads them: the input is split at the first
//! two NUL bytes into a digest's JSON, its metadata sidecar (signature) and a log file. They
//! are written into a small `AWSLogs/` tree and verified with a public key list; any content
//! must give a report (or an error), never a panic.
#![no_main]

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trailhound_verify::{PublicKeys, VerifyOptions, verify_tree};

const DIGEST_DIR: &str = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/02";
const DIGEST_NAME: &str =
    "123456789012_CloudTrail-Digest_us-east-1_main_us-east-1_20260102T040000Z.json.gz";
const LOG_DIR: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02";
const LOG_NAME: &str = "123456789012_CloudTrail_us-east-1_20260102T0305Z_abcd.json.gz";

/// A public key list with one 1024-bit test key (the key's value is irrelevant: the fuzzer
/// cannot forge a signature; what matters is that signature checking runs).
const KEYS: &str = include_str!("../data/public-keys.json");

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("trailhound-fuzz-digest-{}", std::process::id()));
        let _ = std::fs::create_dir_all(root.join(DIGEST_DIR));
        let _ = std::fs::create_dir_all(root.join(LOG_DIR));
        root
    })
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn keys() -> &'static Option<PublicKeys> {
    static KEYS_PARSED: OnceLock<Option<PublicKeys>> = OnceLock::new();
    KEYS_PARSED.get_or_init(|| PublicKeys::parse(KEYS).ok())
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let digest = parts.next().unwrap_or_default();
    let metadata = parts.next().unwrap_or_default();
    let log = parts.next().unwrap_or_default();

    // The parsers on their own.
    if let Ok(text) = std::str::from_utf8(metadata) {
        let _ = trailhound_verify::DigestMetadata::parse(text);
        let _ = PublicKeys::parse(text);
    }
    if let Ok(parsed) = serde_json::from_slice::<trailhound_verify::Digest>(digest) {
        let _ = trailhound_verify::signing_string(&parsed, "00");
    }

    // The whole check over a tree.
    let root = root();
    let digest_path = root.join(DIGEST_DIR).join(DIGEST_NAME);
    let mut sidecar = digest_path.clone().into_os_string();
    sidecar.push(".metadata.json");
    if std::fs::write(&digest_path, gz(digest)).is_err()
        || std::fs::write(&sidecar, metadata).is_err()
        || std::fs::write(root.join(LOG_DIR).join(LOG_NAME), gz(log)).is_err()
    {
        return;
    }
    let options = VerifyOptions {
        public_keys: keys().clone(),
    };
    if let Ok(report) = verify_tree(root, &options) {
        for finding in &report.findings {
            let _ = finding.to_alert();
        }
        let _ = serde_json::to_string(&report);
    }
});
