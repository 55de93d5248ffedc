//! Rules disabled in `[tuning]` are not compiled, unless a correlation counts them.
#![allow(clippy::unwrap_used)]

use trailhound_detect::sigma::load_dirs_enabled;
use trailhound_sigma::SigmaConfig;

const RULE: &str = "title: {TITLE}
id: {ID}
name: {NAME}
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: {EVENT}
  condition: selection
level: medium
";

fn rule(id: &str, name: &str, event: &str) -> String {
    RULE.replace("{TITLE}", &format!("Rule {name}"))
        .replace("{ID}", id)
        .replace("{NAME}", name)
        .replace("{EVENT}", event)
}

#[test]
fn disabled_rules_are_not_compiled_unless_a_correlation_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.path().join(file), text).unwrap();
    write(
        "a.yml",
        &rule(
            "11111111-1111-4111-8111-111111111111",
            "noisy_role_use",
            "AssumeRole",
        ),
    );
    write(
        "b.yml",
        &rule(
            "22222222-2222-4222-8222-222222222222",
            "bucket_listing",
            "ListBuckets",
        ),
    );
    write(
        "c.yml",
        &rule(
            "33333333-3333-4333-8333-333333333333",
            "trail_stopped",
            "StopLogging",
        ),
    );
    write(
        "corr.yml",
        "title: Many bucket listings
id: 44444444-4444-4444-8444-444444444444
correlation:
  type: event_count
  rules:
    - bucket_listing
  group-by:
    - userIdentity.arn
  timespan: 10m
  condition:
    gte: 5
level: high
",
    );
    let disabled = [
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    ];
    let detectors = load_dirs_enabled(&[dir.path()], &SigmaConfig::default(), |id, _| {
        !disabled.contains(&id)
    })
    .unwrap();
    let mut ids: Vec<String> = detectors
        .iter()
        .flat_map(|d| d.rule_set().rules().iter().map(|r| r.doc.id.clone()))
        .collect();
    ids.sort();
    // The disabled rule nobody refers to is gone; the one the correlation counts stays.
    assert_eq!(
        ids,
        [
            "22222222-2222-4222-8222-222222222222",
            "33333333-3333-4333-8333-333333333333"
        ]
    );
    let correlations: usize = detectors
        .iter()
        .map(|d| d.rule_set().correlations().len())
        .sum();
    assert_eq!(correlations, 1);

    // Disabling the correlation too frees its rule.
    let detectors = load_dirs_enabled(&[dir.path()], &SigmaConfig::default(), |id, _| {
        !disabled.contains(&id) && id != "44444444-4444-4444-8444-444444444444"
    })
    .unwrap();
    let rules: usize = detectors.iter().map(|d| d.rule_set().rules().len()).sum();
    assert_eq!(rules, 1);
}
