//! The generated tree: determinism, layout, decodability, labels and scenarios.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use trailhound_core::{Event, IdentityType, Origin};
use trailhound_gen::{Format, GenOptions, SCENARIOS, generate, read_labels};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

// Tests read back small files the generator just wrote; no size cap is needed.
#[allow(clippy::disallowed_methods)]
fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn small(dir: &Path, seed: u64) -> GenOptions {
    let mut o = GenOptions::new(dir);
    o.days = 3;
    o.accounts = 3;
    o.events_per_day = 400;
    o.seed = seed;
    o.warmup_days = 1;
    o
}

/// Every record of an S3 tree, with its file.
fn records(dir: &Path) -> Vec<(PathBuf, Event)> {
    let mut out = Vec::new();
    for path in files(&dir.join("AWSLogs")) {
        let text = gunzip(&path);
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (i, r) in doc["Records"].as_array().unwrap().iter().enumerate() {
            let raw = serde_json::to_string(r).unwrap();
            let origin = Origin::new(path.display().to_string(), u32::try_from(i).unwrap());
            out.push((path.clone(), Event::from_json(raw, origin).unwrap()));
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let read_all = |dir: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        files(dir)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let c = tmp.path().join("c");
    generate(&small(&a, 7), &|_| {}).unwrap();
    generate(&small(&b, 7), &|_| {}).unwrap();
    generate(&small(&c, 8), &|_| {}).unwrap();
    let (ta, tb, tc) = (read_all(&a), read_all(&b), read_all(&c));
    assert!(ta.len() > 10);
    assert_eq!(ta, tb, "same seed must give identical trees");
    assert_ne!(ta.keys().collect::<Vec<_>>(), tc.keys().collect::<Vec<_>>());
    assert_ne!(
        ta.get(Path::new("labels.jsonl")),
        tc.get(Path::new("labels.jsonl"))
    );
}

#[test]
fn layout_records_and_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let summary = generate(&small(dir, 3), &|_| {}).unwrap();
    let all = records(dir);
    assert_eq!(all.len() as u64, summary.events);

    // Layout: AWSLogs/o-…/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<t>_<16>.json.gz
    let mut names = BTreeSet::new();
    for path in files(&dir.join("AWSLogs")) {
        let rel = path.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 9, "{rel}");
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[1], summary.org_id);
        assert!(parts[1].starts_with("o-") && parts[1].len() == 12);
        let (acct, region) = (parts[2], parts[4]);
        assert!(acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(parts[3], "CloudTrail");
        let file = parts[8];
        let prefix = format!(
            "{acct}_CloudTrail_{region}_{}{}{}T",
            parts[5], parts[6], parts[7]
        );
        assert!(file.starts_with(&prefix), "{file}");
        let rest = file
            .strip_prefix(&prefix)
            .unwrap()
            .strip_suffix(".json.gz")
            .unwrap();
        let (hhmm, suffix) = rest.split_once("Z_").unwrap();
        assert_eq!(hhmm.len(), 4);
        assert_eq!(hhmm[2..].parse::<u32>().unwrap() % 5, 0);
        assert_eq!(suffix.len(), 16);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(names.insert(file.to_owned()));
    }

    // Records: decodable, in their file's account and region, sorted by time, realistic.
    let mut bytes = 0;
    let mut last: Option<(&Path, i64)> = None;
    let mut kinds = BTreeSet::new();
    for (path, e) in &all {
        let file = path.file_name().unwrap().to_str().unwrap();
        assert!(file.starts_with(e.recipient_account_id().unwrap()));
        assert!(file.contains(&format!("_{}_", e.aws_region())) || e.aws_region() == "us-east-1");
        let t = e.event_time().as_millis();
        if let Some((p, prev)) = last
            && p == path.as_path()
        {
            assert!(prev <= t, "records sorted by time in {file}");
        }
        last = Some((path.as_path(), t));
        assert!(["1.08", "1.09", "1.10", "1.11"].contains(&e.event_version()));
        assert_eq!(e.event_id().len(), 36);
        if let Some(k) = e.user_identity().access_key_id.as_deref() {
            assert!(
                k.len() == 20 && (k.starts_with("AKIA") || k.starts_with("ASIA")),
                "{k}"
            );
        }
        kinds.insert(format!("{:?}", e.user_identity().kind));
        bytes += e.raw().len();
    }
    let average = bytes / all.len();
    assert!(
        (1200..2300).contains(&average),
        "average record size {average}"
    );
    for kind in [
        "AssumedRole",
        "AWSService",
        "IAMUser",
        "Root",
        "WebIdentityUser",
        "FederatedUser",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }

    // Labels: every label is a record with the same name, time and account.
    let labels = read_labels(dir).unwrap();
    assert_eq!(labels.len() as u64, summary.scenario_events);
    let by_id: BTreeMap<&str, &Event> = all.iter().map(|(_, e)| (e.event_id(), e)).collect();
    assert_eq!(by_id.len(), all.len(), "event ids are unique");
    for l in &labels {
        let e = by_id
            .get(l.event_id.as_str())
            .unwrap_or_else(|| panic!("{l:?} not in tree"));
        assert_eq!(e.event_name(), l.event_name);
        assert_eq!(e.event_time().to_string(), l.event_time);
        assert_eq!(e.recipient_account_id(), Some(l.account.as_str()));
    }
    let scenarios: BTreeSet<&str> = labels.iter().map(|l| l.scenario.as_str()).collect();
    for s in SCENARIOS {
        assert!(
            scenarios.contains(s.name),
            "scenario {} has no events",
            s.name
        );
    }
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scenarios.json")).unwrap())
            .unwrap();
    assert_eq!(file["scenarios"].as_array().unwrap().len(), SCENARIOS.len());
}

#[test]
fn scenarios_carry_their_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(&small(dir, 11), &|_| {}).unwrap();
    let all = records(dir);
    let labels = read_labels(dir).unwrap();
    let of = |name: &str| -> Vec<&Event> {
        let ids: BTreeSet<&str> = labels
            .iter()
            .filter(|l| l.scenario == name)
            .map(|l| l.event_id.as_str())
            .collect();
        all.iter()
            .map(|(_, e)| e)
            .filter(|e| ids.contains(e.event_id()))
            .collect()
    };
    let canary = of("canary-credential");
    assert!(
        canary
            .iter()
            .all(|e| e.user_identity().access_key_id.as_deref()
                == Some(trailhound_gen::CANARY_ACCESS_KEY_ID))
    );
    assert!(
        of("honeypot-access")
            .iter()
            .any(|e| e.raw().contains(trailhound_gen::HONEYPOT_TABLE))
    );
    let ssrf = of("ssrf-credential-theft");
    assert!(ssrf.len() > 20);
    for e in &ssrf {
        assert!(e.user_identity().ec2_role_delivery.is_some());
        let ip = match e.source_ip() {
            Some(std::net::IpAddr::V4(ip)) => ip,
            other => panic!("{other:?}"),
        };
        let net = trailhound_gen::geo::lookup(ip).unwrap();
        assert_eq!(net.purpose, trailhound_gen::geo::Purpose::Hosting);
    }
    let snap = of("snapshot-exfil");
    assert!(
        snap.iter()
            .any(|e| e.event_name() == "ModifySnapshotAttribute"
                && e.raw().contains(trailhound_gen::OUTSIDE_ACCOUNT))
    );
    let root = of("root-login");
    assert!(
        root.iter()
            .any(|e| e.user_identity().kind == IdentityType::Root
                && e.event_name() == "ConsoleLogin")
    );
    let brute = of("console-bruteforce");
    assert!(brute.iter().filter(|e| e.error_message().is_some()).count() >= 20);
    let sg = of("sg-open-world");
    assert!(sg[0].raw().contains("0.0.0.0/0"));
    // The canary user never acts outside its scenario.
    let canary_ids: BTreeSet<&str> = canary.iter().map(|e| e.event_id()).collect();
    for (_, e) in &all {
        if e.user_identity().access_key_id.as_deref() == Some(trailhound_gen::CANARY_ACCESS_KEY_ID)
        {
            assert!(canary_ids.contains(e.event_id()));
        }
    }
}

#[test]
fn jsonl_format_and_scenario_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = small(tmp.path(), 5);
    o.format = Format::Jsonl;
    o.scenarios = vec!["root-login".into(), "recon-burst".into()];
    let summary = generate(&o, &|_| {}).unwrap();
    let mut n = 0;
    for path in files(&tmp.path().join("jsonl")) {
        assert!(path.extension().unwrap() == "jsonl");
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            Event::from_json(line, Origin::new("x", 0)).unwrap();
            n += 1;
        }
    }
    assert_eq!(n, summary.events);
    let names: BTreeSet<String> = read_labels(tmp.path())
        .unwrap()
        .into_iter()
        .map(|l| l.scenario)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["recon-burst".to_owned(), "root-login".to_owned()])
    );
    o.scenarios = vec!["no-such-scenario".into()];
    assert!(generate(&o, &|_| {}).is_err());
    o.scenarios.clear();
    o.inject = false;
    let summary = generate(&o, &|_| {}).unwrap();
    assert_eq!(summary.scenario_events, 0);
}
