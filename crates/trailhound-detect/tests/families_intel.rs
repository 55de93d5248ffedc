//! Threat-intel lists: CIDR and user-agent matching, authenticated vs unauthenticated calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod families_common;

use families_common::*;
use serde_json::json;
use trailhound_core::Severity;
use trailhound_detect::intel::{
    IntelConfig, IntelDetector, IpList, IpListConfig, UserAgentList, UserAgentListConfig,
    UserAgentMatch, is_authenticated,
};

const TOR: &str = "# Tor exit nodes (example)\n198.51.100.7\n203.0.113.0/25  # a range\n\n2001:db8:dead::/48\n198.51.100.8\n";

#[test]
fn ip_list_matching() {
    let list = IpList::parse("tor", TOR).unwrap();
    assert_eq!(list.ranges(), 3, "adjacent single addresses merge");
    for (ip, want) in [
        ("198.51.100.7", true),
        ("198.51.100.8", true),
        ("198.51.100.9", false),
        ("203.0.113.0", true),
        ("203.0.113.127", true),
        ("203.0.113.128", false),
        ("2001:db8:dead:1::5", true),
        ("2001:db8:beef::1", false),
        ("::ffff:198.51.100.7", true),
        ("192.0.2.1", false),
    ] {
        assert_eq!(list.contains(ip.parse().unwrap()), want, "{ip}");
    }
    let e = IpList::parse("bad", "192.0.2.1\nnot-an-ip\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn user_agent_lists() {
    let sub = UserAgentList::parse(
        "tools",
        "# offensive tooling\npacu\nkali\n",
        UserAgentMatch::Substring,
    )
    .unwrap();
    assert_eq!(
        sub.find("Boto3/1.9.201 Python/3.7.3 Linux/5.10.0-kali7-amd64 Botocore/1.12.201"),
        Some("kali")
    );
    assert_eq!(sub.find("aws-cli/2.15.0 Pacu/1.0"), Some("pacu"));
    assert_eq!(sub.find("aws-cli/2.15.0"), None);
    let exact = UserAgentList::parse("exact", "curl/7.68.0\n", UserAgentMatch::Exact).unwrap();
    assert_eq!(exact.find("curl/7.68.0"), Some("curl/7.68.0"));
    assert_eq!(exact.find("curl/7.68.0 extra"), None);
}

fn detector(alert_unauthenticated: bool) -> IntelDetector {
    IntelDetector::new(
        vec![(
            IpList::parse("tor-exit-nodes", TOR).unwrap(),
            Severity::High,
        )],
        vec![(
            UserAgentList::parse("offensive-tools", "kali\n", UserAgentMatch::Substring).unwrap(),
            Severity::Medium,
        )],
        alert_unauthenticated,
    )
}

const T: &str = "2026-03-02T10:00:00Z";

#[test]
fn authenticated_calls_alert_unauthenticated_are_counted() {
    let from_tor = record(
        T,
        "s3.amazonaws.com",
        "ListBuckets",
        user("alice"),
        json!({"sourceIPAddress": "198.51.100.7"}),
    );
    let denied = record(
        T,
        "iam.amazonaws.com",
        "ListUsers",
        user("alice"),
        json!({"sourceIPAddress": "198.51.100.7", "errorCode": "AccessDenied"}),
    );
    let bad_key = record(
        T,
        "sts.amazonaws.com",
        "GetCallerIdentity",
        user("alice"),
        json!({"sourceIPAddress": "198.51.100.7", "errorCode": "InvalidClientTokenId"}),
    );
    let no_identity = record(
        T,
        "s3.amazonaws.com",
        "GetObject",
        json!({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}),
        json!({"sourceIPAddress": "198.51.100.7"}),
    );
    let failed_login = record(
        T,
        "signin.amazonaws.com",
        "ConsoleLogin",
        user("alice"),
        json!({"sourceIPAddress": "198.51.100.7", "errorMessage": "Failed authentication", "responseElements": {"ConsoleLogin": "Failure"}}),
    );
    let clean = record(
        T,
        "s3.amazonaws.com",
        "ListBuckets",
        user("alice"),
        json!({"sourceIPAddress": "192.0.2.10"}),
    );
    assert!(is_authenticated(&event(&denied)));
    assert!(!is_authenticated(&event(&bad_key)));
    assert!(!is_authenticated(&event(&failed_login)));

    let mut d = detector(false);
    let alerts = run(
        &mut d,
        &[
            from_tor.clone(),
            denied,
            bad_key.clone(),
            failed_login.clone(),
            clean,
        ],
    );
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(d.stats().authenticated_hits, 2);
    assert_eq!(d.stats().unauthenticated_hits, 2);
    insta::assert_json_snapshot!("intel_alert", alerts[0]);
    let _ = no_identity;

    let mut loud = detector(true);
    let alerts = run(&mut loud, &[bad_key]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].severity, Severity::Low);

    let kali = record(
        T,
        "ec2.amazonaws.com",
        "DescribeInstances",
        user("alice"),
        json!({"userAgent": "Boto3/1.9 Linux/5.10.0-kali7-amd64", "sourceIPAddress": "192.0.2.10"}),
    );
    let alerts = run(&mut detector(false), &[kali]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule.id, "TH2402");
}

#[test]
fn lists_load_from_files() {
    let dir = std::env::temp_dir().join(format!("th-intel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tor.txt"), TOR).unwrap();
    std::fs::write(dir.join("ua.txt"), "kali\n").unwrap();
    let config = IntelConfig {
        alert_unauthenticated: false,
        ip_lists: vec![IpListConfig {
            name: "tor".into(),
            path: dir.join("tor.txt"),
            severity: Severity::High,
        }],
        user_agent_lists: vec![UserAgentListConfig {
            name: "ua".into(),
            path: dir.join("ua.txt"),
            r#match: UserAgentMatch::Substring,
            severity: Severity::Medium,
        }],
    };
    assert!(config.build().is_ok());
    let missing = IntelConfig {
        ip_lists: vec![IpListConfig {
            name: "x".into(),
            path: dir.join("nope.txt"),
            severity: Severity::High,
        }],
        ..IntelConfig::default()
    };
    assert!(
        missing
            .build()
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
