//! CloudTrail-Insights-style detection: the three worked examples of AWS's Insights
//! documentation as synthetic streams, a 30-day stationary background that must stay quiet,
//! and a stopped periodic job.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod anomaly_support;

use anomaly_support::{Rng, Spec, event, ts};
use trailhound_core::{Alert, Event, Timestamp};
use trailhound_detect::anomaly::{InsightsConfig, InsightsDetector};
use trailhound_detect::{Detector, Engine};

const DAY_MS: i64 = 86_400_000;
const MIN_MS: i64 = 60_000;

/// A Poisson stream of `spec` at `per_minute` from `start` for `days`.
fn poisson(
    rng: &mut Rng,
    spec: &Spec<'static>,
    per_minute: f64,
    start: Timestamp,
    days: i64,
) -> Vec<Spec<'static>> {
    let end = start.add_millis(days * DAY_MS);
    let mut out = Vec::new();
    let mut t = start.add_millis(rng.gap_ms(per_minute));
    while t < end {
        out.push(Spec {
            time: t,
            ..spec.clone()
        });
        t = t.add_millis(rng.gap_ms(per_minute).max(1));
    }
    out
}

/// `per_minute` evenly spaced calls for `minutes` from `start`.
fn burst(
    spec: &Spec<'static>,
    per_minute: i64,
    start: Timestamp,
    minutes: i64,
) -> Vec<Spec<'static>> {
    let step = MIN_MS / per_minute;
    (0..per_minute * minutes)
        .map(|i| Spec {
            time: start.add_millis(i * step + 500),
            ..spec.clone()
        })
        .collect()
}

struct Run {
    records: Vec<serde_json::Value>,
    alerts: Vec<Alert>,
    /// Event time of the event that raised each alert.
    alert_times: Vec<Timestamp>,
}

fn run(mut specs: Vec<Spec<'static>>) -> Run {
    specs.sort_by_key(|s| s.time);
    let detector = InsightsDetector::new(InsightsConfig::default());
    let records = detector.records();
    let mut engine = Engine::new(vec![Box::new(detector)]);
    let mut alerts = Vec::new();
    let mut alert_times = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let e: Event = event(spec, index as u32);
        let before = alerts.len();
        engine.process(&e, &mut alerts);
        alert_times.extend(std::iter::repeat_n(e.event_time(), alerts.len() - before));
    }
    engine.finish(&mut alerts);
    Run {
        records: records.drain(),
        alerts,
        alert_times,
    }
}

fn background(rng: &mut Rng, start: Timestamp, days: i64) -> Vec<Spec<'static>> {
    let mut describe = Spec::new(start, "ec2.amazonaws.com", "DescribeInstances");
    describe.read_only = true;
    let tags = Spec::new(start, "ec2.amazonaws.com", "CreateTags");
    let mut specs = poisson(rng, &describe, 1.0, start, days);
    specs.extend(poisson(rng, &tags, 0.2, start, days));
    specs
}

fn state_of(record: &serde_json::Value) -> &str {
    record["insightDetails"]["state"].as_str().unwrap()
}

/// Checks Start within 2 minutes of the burst, End after it, shared ids, statistics.
fn check_insight(
    run: &Run,
    name: &str,
    insight_type: &str,
    burst_start: Timestamp,
    burst_end: Timestamp,
    baseline: (f64, f64),
) {
    let mine: Vec<&serde_json::Value> = run
        .records
        .iter()
        .filter(|r| r["insightDetails"]["eventName"] == name)
        .collect();
    assert_eq!(mine.len(), 2, "one Start and one End for {name}: {mine:#?}");
    let (start, end) = (mine[0], mine[1]);
    assert_eq!(state_of(start), "Start");
    assert_eq!(state_of(end), "End");
    assert_eq!(start["eventType"], "AwsCloudTrailInsight");
    assert_eq!(start["insightDetails"]["insightType"], insight_type);
    assert_eq!(start["sharedEventID"], end["sharedEventID"]);
    assert_ne!(start["eventID"], end["eventID"]);

    let alert_index = run
        .alerts
        .iter()
        .position(|a| a.context["insight_type"] == insight_type)
        .unwrap();
    let raised_at = run.alert_times[alert_index];
    assert!(
        raised_at.millis_since(burst_start) <= 2 * MIN_MS,
        "{name}: Start raised at {raised_at}, burst began {burst_start}"
    );
    let start_time = ts(start["eventTime"].as_str().unwrap());
    assert!(
        start_time.millis_since(burst_start).abs() <= 2 * MIN_MS,
        "{name}: Start at {start_time}"
    );
    let end_time = ts(end["eventTime"].as_str().unwrap());
    assert!(
        end_time >= burst_end,
        "{name}: End at {end_time} before the burst ended at {burst_end}"
    );
    assert!(
        end_time.millis_since(burst_end) <= 10 * MIN_MS,
        "{name}: End at {end_time} long after {burst_end}"
    );

    let stats = &end["insightDetails"]["insightContext"]["statistics"];
    let base = stats["baseline"]["average"].as_f64().unwrap();
    assert!(
        base >= baseline.0 && base <= baseline.1,
        "{name}: baseline average {base} not in {baseline:?}"
    );
    assert!(
        stats["insight"]["average"].as_f64().unwrap() > 3.0,
        "{stats}"
    );
    assert!(stats["insightDuration"].as_i64().unwrap() >= 8, "{stats}");
    assert_eq!(stats["baselineDuration"], 10_080);
    let attributions = end["insightDetails"]["insightContext"]["attributions"]
        .as_array()
        .unwrap();
    let kinds: Vec<&str> = attributions
        .iter()
        .map(|a| a["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["userIdentityArn", "userAgent", "errorCode"]);
    for attribution in attributions {
        assert!(attribution["insight"].as_array().unwrap().len() <= 5);
        assert!(attribution["baseline"].as_array().unwrap().len() <= 5);
    }
}

#[test]
fn ssm_send_command_burst_over_0_0442_per_minute() {
    let mut rng = Rng(1);
    let t0 = ts("2026-03-01T00:00:00Z");
    let mut specs = background(&mut rng, t0, 9);
    let send = Spec::new(t0, "ssm.amazonaws.com", "SendCommand");
    specs.extend(poisson(&mut rng, &send, 0.0442, t0, 9));
    let burst_start = t0.add_millis(8 * DAY_MS + 14 * 3_600_000);
    specs.extend(burst(
        &Spec {
            role: "ops-automation",
            ..send.clone()
        },
        7,
        burst_start,
        15,
    ));
    let run = run(specs);
    check_insight(
        &run,
        "SendCommand",
        "ApiCallRateInsight",
        burst_start,
        burst_start.add_millis(15 * MIN_MS),
        (0.03, 0.06),
    );
    let alert = run.alerts.iter().find(|a| a.rule.id == "TH3030").unwrap();
    assert!(
        alert
            .why
            .contains("SendCommand calls in account 123456789012 region us-east-1"),
        "{}",
        alert.why
    );
    let end = run.records.iter().find(|r| state_of(r) == "End").unwrap();
    let users = &end["insightDetails"]["insightContext"]["attributions"][0]["insight"];
    assert_eq!(
        users[0]["value"],
        "arn:aws:sts::123456789012:assumed-role/ops-automation/session"
    );
}

#[test]
fn iam_get_role_policy_no_such_entity_over_0_0017_per_minute() {
    let mut rng = Rng(2);
    let t0 = ts("2026-03-01T00:00:00Z");
    let mut specs = background(&mut rng, t0, 9);
    let mut get = Spec::new(t0, "iam.amazonaws.com", "GetRolePolicy");
    get.read_only = true;
    specs.extend(poisson(&mut rng, &get, 0.3, t0, 9));
    let failing = Spec {
        error: Some((
            "NoSuchEntityException",
            "The role policy with name x cannot be found.",
        )),
        ..get.clone()
    };
    specs.extend(poisson(&mut rng, &failing, 0.0017, t0, 9));
    let burst_start = t0.add_millis(8 * DAY_MS + 9 * 3_600_000);
    specs.extend(burst(&failing, 6, burst_start, 12));
    let run = run(specs);
    check_insight(
        &run,
        "GetRolePolicy",
        "ApiErrorRateInsight",
        burst_start,
        burst_start.add_millis(12 * MIN_MS),
        (0.0005, 0.004),
    );
    let start = run.records.iter().find(|r| state_of(r) == "Start").unwrap();
    assert_eq!(
        start["insightDetails"]["errorCode"],
        "NoSuchEntityException"
    );
    assert!(
        run.alerts.iter().all(|a| a.rule.id == "TH3031"),
        "only the error-rate insight"
    );
}

#[test]
fn autoscaling_complete_lifecycle_action_at_5_per_minute_over_1e_4() {
    let mut rng = Rng(3);
    let t0 = ts("2026-03-01T00:00:00Z");
    let mut specs = background(&mut rng, t0, 9);
    let complete = Spec::new(t0, "autoscaling.amazonaws.com", "CompleteLifecycleAction");
    // One call in the baseline week: 1 / 10,080 ≈ 1e-4 per minute.
    specs.push(Spec {
        time: t0.add_millis(3 * DAY_MS + 3_600_000),
        ..complete.clone()
    });
    let burst_start = t0.add_millis(8 * DAY_MS + 20 * 3_600_000);
    specs.extend(burst(&complete, 5, burst_start, 10));
    let run = run(specs);
    check_insight(
        &run,
        "CompleteLifecycleAction",
        "ApiCallRateInsight",
        burst_start,
        burst_start.add_millis(10 * MIN_MS),
        (0.00005, 0.0002),
    );
}

#[test]
fn no_insight_on_a_30_day_stationary_background() {
    let mut rng = Rng(4);
    let t0 = ts("2026-03-01T00:00:00Z");
    let mut specs = background(&mut rng, t0, 30);
    let run_instances = Spec::new(t0, "ec2.amazonaws.com", "RunInstances");
    specs.extend(poisson(&mut rng, &run_instances, 0.02, t0, 30));
    let put = Spec::new(t0, "ssm.amazonaws.com", "PutParameter");
    specs.extend(poisson(&mut rng, &put, 1.0, t0, 30));
    let mut denied = Spec::new(t0, "s3.amazonaws.com", "GetBucketAcl");
    denied.read_only = true;
    denied.error = Some(("AccessDenied", "Access Denied"));
    specs.extend(poisson(&mut rng, &denied, 0.1, t0, 30));
    let count = specs.len();
    let run = run(specs);
    assert!(count > 90_000, "{count}");
    assert!(
        run.records.is_empty(),
        "spurious insights: {:#?}",
        run.records
    );
    assert!(run.alerts.is_empty(), "spurious alerts: {:#?}", run.alerts);
}

#[test]
fn stopped_periodic_job_is_a_gap() {
    let mut rng = Rng(5);
    let t0 = ts("2026-03-01T00:00:00Z");
    let mut specs = background(&mut rng, t0, 12);
    let job = Spec {
        role: "nightly-backup",
        ..Spec::new(t0, "backup.amazonaws.com", "StartBackupJob")
    };
    for hour in 0..(10 * 24) {
        specs.push(Spec {
            time: t0.add_millis(hour * 3_600_000 + 120_000),
            ..job.clone()
        });
    }
    let run = run(specs);
    let gaps: Vec<&Alert> = run
        .alerts
        .iter()
        .filter(|a| a.rule.id == "TH3032")
        .collect();
    assert_eq!(gaps.len(), 1, "{:#?}", run.alerts);
    assert!(
        gaps[0]
            .why
            .contains("StartBackupJob ran in account 123456789012"),
        "{}",
        gaps[0].why
    );
    assert!(gaps[0].title.contains("stopped"));
}

#[test]
fn state_round_trip_continues_the_baseline() {
    let mut rng = Rng(6);
    let t0 = ts("2026-03-01T00:00:00Z");
    let send = Spec::new(t0, "ssm.amazonaws.com", "SendCommand");
    let mut first: Vec<Spec<'static>> = background(&mut rng, t0, 8);
    first.extend(poisson(&mut rng, &send, 0.05, t0, 8));
    first.sort_by_key(|s| s.time);
    let mut detector = InsightsDetector::new(InsightsConfig::default());
    let mut alerts = Vec::new();
    for (i, spec) in first.iter().enumerate() {
        detector.observe(&event(spec, i as u32), &mut alerts);
    }
    let saved = detector.save_state().unwrap();
    let text = serde_json::to_string(&saved).unwrap();
    let mut restored = InsightsDetector::new(InsightsConfig::default());
    restored
        .load_state(serde_json::from_str(&text).unwrap())
        .unwrap();
    assert_eq!(
        serde_json::to_string(&restored.save_state().unwrap()).unwrap(),
        text,
        "deterministic state"
    );
    // The restored detector knows the week: a burst today is an insight at once.
    let burst_start = t0.add_millis(8 * DAY_MS + 60_000);
    let mut out = Vec::new();
    for (i, spec) in burst(&send, 8, burst_start, 3).iter().enumerate() {
        restored.observe(&event(spec, 1_000_000 + i as u32), &mut out);
    }
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(restored.records().len(), 1);
    let mut wrong = saved.clone();
    wrong["version"] = 99.into();
    assert!(
        InsightsDetector::new(InsightsConfig::default())
            .load_state(wrong)
            .is_err()
    );
}
