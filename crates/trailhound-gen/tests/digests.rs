//! Signed digest files of a generated tree: they verify, they are reproducible from the seed,
//! and tampering with a log file is found.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use trailhound_gen::{GenOptions, generate, write_digests};
use trailhound_verify::{FindingKind, PublicKeys, VerifyOptions, verify_tree};

fn options(dir: &Path) -> GenOptions {
    let mut o = GenOptions::new(dir);
    o.days = 1;
    o.accounts = 2;
    o.events_per_day = 300;
    o.seed = 11;
    o.scenarios = vec!["root-login".to_owned()];
    o
}

fn files_under(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(part) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generated_digests_verify_and_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(dir.path());
    generate(&o, &|_| {}).unwrap();
    let written = write_digests(&o, None).unwrap();
    let org = trailhound_gen::organisation(o.seed, o.accounts);
    let regions: usize = org.accounts.iter().map(|a| a.regions.len()).sum();
    // One digest per account, region and hour, every hour, as CloudTrail delivers them.
    assert_eq!(written.files, (regions * 24) as u64);
    let digests = files_under(dir.path(), "CloudTrail-Digest");
    assert_eq!(digests.len() as u64, written.files * 2, "digest + sidecar");

    let keys = PublicKeys::load(&written.public_keys).unwrap();
    let report = verify_tree(
        dir.path(),
        &VerifyOptions {
            public_keys: Some(keys.clone()),
        },
    )
    .unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.summary.digests as u64, written.files);
    assert_eq!(report.summary.signatures_verified as u64, written.files);
    assert!(report.summary.log_files > 0);
    assert_eq!(report.summary.log_files_valid, report.summary.log_files);

    // Same seed, same key and digests.
    let again = tempfile::tempdir().unwrap();
    let o2 = options(again.path());
    generate(&o2, &|_| {}).unwrap();
    let written2 = write_digests(&o2, None).unwrap();
    assert_eq!(written.fingerprint, written2.fingerprint);
    let a = files_under(dir.path(), "CloudTrail-Digest");
    let b = files_under(again.path(), "CloudTrail-Digest");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }

    // A log file rewritten after delivery no longer matches its digest.
    let log = files_under(dir.path(), "_CloudTrail_")
        .into_iter()
        .next()
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, br#"{"Records":[]}"#).unwrap();
    std::fs::write(&log, gz.finish().unwrap()).unwrap();
    let report = verify_tree(
        dir.path(),
        &VerifyOptions {
            public_keys: Some(keys),
        },
    )
    .unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::LogFileModified),
        "{:#?}",
        report.findings
    );
}

#[test]
fn digests_need_the_s3_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path());
    o.format = trailhound_gen::Format::Jsonl;
    assert!(write_digests(&o, None).is_err());
}
