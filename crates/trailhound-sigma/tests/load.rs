//! Loads every SigmaHQ CloudTrail rule from the shared corpus (read in place, never copied),
//! checks how many the plan routes by eventName, and snapshots a few compiled rules.

use std::path::PathBuf;

use trailhound_sigma::{RuleSet, SigmaConfig, lint_sources, read_dirs};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sigma/rules/cloud/aws/cloudtrail")
}

#[test]
fn every_sigmahq_cloudtrail_rule_compiles_and_most_are_routed() {
    let dir = corpus_dir();
    assert!(
        dir.is_dir(),
        "the SigmaHQ corpus must sit beside the repository at {}",
        dir.display()
    );
    let sources = read_dirs(&[&dir]).unwrap();
    assert_eq!(sources.len(), 57);
    for src in &sources {
        RuleSet::compile(std::slice::from_ref(src), &SigmaConfig::default())
            .unwrap_or_else(|e| panic!("{}: {e}", src.path));
    }
    let set = RuleSet::compile(&sources, &SigmaConfig::default()).unwrap();
    assert_eq!(set.rules().len(), 57);
    let unrouted: Vec<&str> = set
        .rules()
        .iter()
        .filter(|r| !r.is_routed())
        .map(|r| r.doc.title.as_str())
        .collect();
    let (routed, all) = set.routing_summary();
    assert_eq!(
        (routed, all),
        (ROUTED, 57 - ROUTED),
        "not routed: {unrouted:#?}"
    );
    // No rule of the corpus is a contradiction.
    assert!(
        set.rules()
            .iter()
            .all(|r| r.event_names.as_ref().is_none_or(|n| !n.is_empty()))
    );
}

/// SigmaHQ CloudTrail rules whose condition pins eventName to literals.
const ROUTED: usize = 52;

#[test]
fn lint_of_the_corpus_has_no_errors() {
    let sources = read_dirs(&[corpus_dir()]).unwrap();
    let diags = lint_sources(&sources, &SigmaConfig::default());
    let text: Vec<String> = diags
        .iter()
        .map(|d| {
            let file = d.path.rsplit('/').next().unwrap_or("");
            format!(
                "{file}:{}:{}: {:?}[{}]: {}",
                d.line, d.column, d.severity, d.code, d.message
            )
        })
        .collect();
    insta::assert_snapshot!("corpus_lint", text.join("\n"));
    assert!(
        diags
            .iter()
            .all(|d| d.severity == trailhound_sigma::DiagSeverity::Warning)
    );
}

#[test]
fn compiled_debug_forms() {
    let dir = corpus_dir();
    let mut out = String::new();
    for file in [
        "aws_cloudtrail_disable_logging.yml",
        "aws_cloudtrail_bucket_deleted.yml",
        "aws_cloudtrail_imds_malicious_usage.yml",
        "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
    ] {
        let set = RuleSet::load_dirs(&[dir.join(file)], &SigmaConfig::default()).unwrap();
        out.push_str(&set.rules()[0].debug_form());
        out.push('\n');
    }
    insta::assert_snapshot!("compiled_rules", out);
}
