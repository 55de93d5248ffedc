//! Modifier, condition, CloudTrail-semantics, routing and correlation tests of the engine.

#![allow(clippy::unwrap_used)]

use trailhound_core::{Event, Origin, Timestamp};
use trailhound_sigma::{Evaluator, Hit, RuleSet, SigmaConfig};

fn event_json(extra: &str, name: &str, time: &str) -> Event {
    let raw = format!(
        r#"{{"eventVersion":"1.10","eventTime":"{time}","eventSource":"iam.amazonaws.com",
        "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
        "userAgent":"aws-cli/2.15.0 Python/3.11","eventID":"id-{time}","readOnly":false,
        "recipientAccountId":"123456789012",
        "userIdentity":{{"type":"IAMUser","userName":"alice","accountId":"123456789012",
          "arn":"arn:aws:iam::123456789012:user/alice","accessKeyId":"AKIAEXAMPLE"}}
        {extra}}}"#
    );
    Event::from_json(raw, Origin::new("t.json", 0)).unwrap()
}

fn ev(extra: &str) -> Event {
    event_json(extra, "CreateUser", "2026-03-04T05:06:07Z")
}

fn rule(detection: &str) -> RuleSet {
    let text = format!(
        "title: t\nid: 00000000-0000-4000-8000-000000000000\nlogsource: {{product: aws}}\ndetection:\n{detection}\nlevel: low\n"
    );
    RuleSet::from_texts([("t.yml", text.as_str())], &SigmaConfig::default()).unwrap()
}

fn fires(detection: &str, event: &Event) -> bool {
    let set = rule(detection);
    let mut out = Vec::new();
    set.matching(event, &mut out);
    let mut unrouted = Vec::new();
    set.matching_unrouted(event, &mut unrouted);
    assert_eq!(out, unrouted, "routing must not change the outcome");
    !out.is_empty()
}

fn compile_err(detection: &str) -> String {
    let text = format!("title: t\nlogsource: {{product: aws}}\ndetection:\n{detection}\n");
    RuleSet::from_texts([("t.yml", text.as_str())], &SigmaConfig::default())
        .unwrap_err()
        .to_string()
}

const RP: &str = r#","requestParameters":{"userName":"Bob-Admin","policy":"{\"Effect\":\"Allow\"}",
  "cmd":"powershell -enc SQBFAFgA","count":42,"ratio":0.5,"flag":true,"none":null,
  "tags":[{"key":"env","value":"prod"},{"key":"team","value":"sec"}],
  "b64":"aGVsbG8gd29ybGQ=","wide":"h\u0000i\u0000","ip":"10.1.2.3","when":"2026-03-04T22:15:00Z",
  "other":"alice","nested":{"a":{"b":"deep"}}}"#;

#[test]
fn plain_values_are_case_insensitive_and_exact() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.userName: bob-admin}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.userName: bob}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName|cased: Bob-Admin}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.userName|cased: bob-admin}\n  condition: s",
        &e
    ));
}

#[test]
fn wildcards_and_escapes() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.userName: 'bob-*'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName: 'b?b-admin'}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.userName: 'bob-\\*'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName: '*ADMIN'}\n  condition: s",
        &e
    ));
}

#[test]
fn contains_startswith_endswith_all() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.cmd|contains: '-ENC'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|startswith: 'power'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|endswith: 'FAFgA'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|contains|all: [power, enc]}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.cmd|contains|all: [power, bash]}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|contains: [bash, shell]}\n  condition: s",
        &e
    ));
}

#[test]
fn encodings() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.b64|base64: 'hello world'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.b64|base64offset|contains: 'world'}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.b64|base64offset|contains: 'planet'}\n  condition: s",
        &e
    ));
    // utf16le of "IEX" base64-encoded is SQBFAFgA.
    assert!(fires(
        "  s: {requestParameters.cmd|wide|base64offset|contains: 'IEX'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|utf16le|base64|contains: 'IEX'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.wide|wide: 'hi'}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.wide|utf16be: 'hi'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|windash|contains: ' /enc'}\n  condition: s",
        &e
    ));
}

#[test]
fn regex_with_flags() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.userName|re: '^Bob-[A-Z]'}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.userName|re: '^bob'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName|re|i: '^bob'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.cmd|re|s|m: '^powershell.*$'}\n  condition: s",
        &e
    ));
    let err = compile_err("  s: {eventName|re: '(a'}\n  condition: s");
    assert!(err.contains("bad regular expression"), "{err}");
    let huge = compile_err("  s: {eventName|re: '(((a{100}){100}){100})'}\n  condition: s");
    assert!(huge.contains("bad regular expression"), "{huge}");
}

#[test]
fn cidr_exists_numbers_neq_fieldref() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.ip|cidr: 10.0.0.0/8}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {sourceIPAddress|cidr: 203.0.113.0/24}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName|exists: true}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.none|exists: false}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.count|gt: 41}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.count|gte: 42}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.count|lt: 42}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.ratio|lte: 0.5}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.userName|neq: carol}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {requestParameters.userName|neq: [carol, BOB-ADMIN]}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {userIdentity.userName|fieldref: requestParameters.other}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s: {userIdentity.userName|fieldref: requestParameters.userName}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {userIdentity.arn|fieldref|endswith: requestParameters.other}\n  condition: s",
        &e
    ));
}

#[test]
fn time_modifiers() {
    let e = ev(RP);
    assert!(fires(
        "  s: {requestParameters.when|hour: 22}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.when|minute: 15}\n  condition: s",
        &e
    ));
    assert!(fires("  s: {eventTime|day: 4}\n  condition: s", &e));
    assert!(fires("  s: {eventTime|month: 3}\n  condition: s", &e));
    assert!(fires("  s: {eventTime|year: 2026}\n  condition: s", &e));
    // 2026-03-04 is in ISO week 10.
    assert!(fires("  s: {eventTime|week: 10}\n  condition: s", &e));
    assert!(fires("  s: {eventTime|hour|lt: 6}\n  condition: s", &e));
    assert!(!fires("  s: {eventTime|hour|gte: 6}\n  condition: s", &e));
}

#[test]
fn expand_placeholders() {
    let mut config = SigmaConfig::default();
    config
        .compile
        .placeholders
        .insert("admins".into(), vec!["bob-*".into(), "root".into()]);
    let text = "title: t\nlogsource: {product: aws}\ndetection:\n  s: {requestParameters.userName|expand: '%admins%'}\n  condition: s\n";
    let set = RuleSet::from_texts([("t.yml", text)], &config).unwrap();
    let mut out = Vec::new();
    set.matching(&ev(RP), &mut out);
    assert_eq!(out, [0]);
    let err = RuleSet::from_texts([("t.yml", text)], &SigmaConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("placeholder %admins% has no value"), "{err}");
}

#[test]
fn unknown_modifier_is_an_error_with_position() {
    let err = compile_err("  s: {eventName|bogus: x}\n  condition: s");
    assert!(
        err.contains("t.yml:4:7") && err.contains("unknown modifier \"bogus\""),
        "{err}"
    );
}

#[test]
fn cloudtrail_semantics() {
    let e = ev(RP);
    // Dotted paths, fan-out over arrays (any element).
    assert!(fires(
        "  s: {requestParameters.tags.value: prod}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.tags.key: team}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.nested.a.b: deep}\n  condition: s",
        &e
    ));
    // Numbers and booleans as their text for string modifiers.
    assert!(fires(
        "  s: {requestParameters.count|startswith: '4'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.flag: 'true'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.flag: true}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.count: 42}\n  condition: s",
        &e
    ));
    assert!(fires("  s: {readOnly: false}\n  condition: s", &e));
    // Null equals missing.
    assert!(fires(
        "  s: {requestParameters.none: null}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters.absent: null}\n  condition: s",
        &e
    ));
    assert!(fires("  s: {errorCode: null}\n  condition: s", &e));
    assert!(!fires(
        "  s: {requestParameters.userName: null}\n  condition: s",
        &e
    ));
    // String modifiers on an object: its compact JSON (and the strings inside).
    assert!(fires(
        "  s: {requestParameters.nested|contains: '{\"a\":{\"b\":\"deep\"}}'}\n  condition: s",
        &e
    ));
    assert!(fires(
        "  s: {requestParameters|contains: '\"Effect\":\"Allow\"'}\n  condition: s",
        &e
    ));
}

#[test]
fn keywords_search_the_record() {
    let e = ev(RP);
    assert!(fires("  k: [SQBFAFgA, nothing]\n  condition: k", &e));
    assert!(!fires("  k: [nothing]\n  condition: k", &e));
    assert!(fires("  k: 'bob-admin'\n  condition: k", &e));
}

#[test]
fn condition_precedence_and_quantifiers() {
    let e = ev(RP);
    let sels = "  a: {eventName: CreateUser}\n  b: {eventName: DeleteUser}\n  c: {userIdentity.userName: alice}\n  _x: {eventName: Nope}\n";
    // not > and > or: `b and c or a` is `(b and c) or a`.
    assert!(fires(&format!("{sels}  condition: b and c or a"), &e));
    assert!(!fires(&format!("{sels}  condition: b and (c or a)"), &e));
    assert!(!fires(&format!("{sels}  condition: not a and c"), &e));
    assert!(fires(&format!("{sels}  condition: not b and c"), &e));
    assert!(fires(&format!("{sels}  condition: 1 of them"), &e));
    assert!(!fires(&format!("{sels}  condition: all of them"), &e));
    assert!(fires(&format!("{sels}  condition: all of a*"), &e));
    assert!(!fires(&format!("{sels}  condition: 1 of _*"), &e));
    assert!(fires(&format!("{sels}  condition: [b, c]"), &e));
    assert!(
        compile_err(&format!("{sels}  condition: a and missing")).contains("unknown selection")
    );
    assert!(compile_err(&format!("{sels}  condition: a | count() > 5")).contains("correlation"));
}

#[test]
fn list_of_maps_is_or() {
    let e = ev(RP);
    assert!(fires(
        "  s:\n    - {eventName: DeleteUser}\n    - {eventName: CreateUser, userIdentity.userName: alice}\n  condition: s",
        &e
    ));
    assert!(!fires(
        "  s:\n    - {eventName: DeleteUser}\n    - {eventName: CreateUser, userIdentity.userName: bob}\n  condition: s",
        &e
    ));
}

#[test]
fn routing_analysis() {
    let names = |d: &str| rule(d).event_names();
    assert_eq!(
        names("  s: {eventName: [A1, B1]}\n  condition: s"),
        Some(vec!["A1".into(), "B1".into()])
    );
    // AND intersects, OR unions, NOT and modifiers do not route.
    assert_eq!(
        names("  s: {eventName: [A1, B1]}\n  t: {eventName: B1}\n  condition: s and t"),
        Some(vec!["B1".into()])
    );
    assert_eq!(
        names("  s: {eventName: A1}\n  t: {eventName: B1}\n  condition: s or t"),
        Some(vec!["A1".into(), "B1".into()])
    );
    assert_eq!(
        names("  s: {eventName: A1}\n  t: {errorCode: x}\n  condition: s or t"),
        None
    );
    assert_eq!(names("  s: {eventName: A1}\n  condition: not s"), None);
    assert_eq!(
        names("  s: {eventName|startswith: A}\n  condition: s"),
        None
    );
    assert_eq!(names("  s: {eventName: a1}\n  condition: s"), None);
    assert_eq!(
        names("  s: {eventName: A1}\n  f: {userAgent: x}\n  condition: s and not f"),
        Some(vec!["A1".into()])
    );
    // Contradiction: never matches, routed to nothing.
    assert_eq!(
        names("  s: {eventName: A1}\n  t: {eventName: B1}\n  condition: s and t"),
        Some(vec![])
    );
}

#[test]
fn filters_apply_to_named_rules() {
    let text = "title: Create user\nname: create-user\nid: 11111111-0000-4000-8000-000000000000\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s: {eventName: CreateUser}\n  condition: s\n---\ntitle: Skip alice\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n  rules: [create-user]\n  f: {userIdentity.userName: alice}\n  condition: not f\n";
    let set = RuleSet::from_texts([("f.yml", text)], &SigmaConfig::default()).unwrap();
    let mut out = Vec::new();
    set.matching(&ev(""), &mut out);
    assert!(out.is_empty());
    let bob = ev("").clone();
    let raw = bob.raw().replace("alice", "bob");
    let bob = Event::from_json(raw, Origin::new("t", 0)).unwrap();
    set.matching(&bob, &mut out);
    assert_eq!(out, [0]);
}

fn run(text: &str, events: &[Event]) -> Vec<Hit> {
    let set = RuleSet::from_texts([("c.yml", text)], &SigmaConfig::default()).unwrap();
    let mut eval = Evaluator::new(set);
    let mut out = Vec::new();
    for e in events {
        eval.observe(e, &mut out);
    }
    eval.advance(Timestamp::MAX, &mut out);
    out
}

fn corr_hits(hits: &[Hit]) -> Vec<(String, f64, u64)> {
    hits.iter()
        .filter_map(|h| match h {
            Hit::Correlation(c) => Some((c.group_key.clone(), c.value, c.count)),
            Hit::Rule { .. } => None,
        })
        .collect()
}

const BASE: &str = "title: Failed call\nname: failed\nlogsource: {product: aws}\ndetection:\n  s: {errorCode: AccessDenied}\n  condition: s\n---\ntitle: Listing\nname: listing\nlogsource: {product: aws}\ndetection:\n  s: {eventName|startswith: List}\n  condition: s\n---\n";

fn at(name: &str, minute: u32, extra: &str) -> Event {
    event_json(extra, name, &format!("2026-03-04T05:{minute:02}:00Z"))
}

const DENIED: &str = r#","errorCode":"AccessDenied""#;

#[test]
fn event_count_with_group_by_and_timespan_edge() {
    let text = format!(
        "{BASE}title: Many denials\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {{gte: 3}}\n"
    );
    // Three within 5 minutes (00, 02, 05: the edge is inclusive) fire once.
    let hits = run(
        &text,
        &[
            at("GetUser", 0, DENIED),
            at("GetUser", 2, DENIED),
            at("GetUser", 5, DENIED),
        ],
    );
    assert_eq!(
        corr_hits(&hits),
        [("userIdentity.userName=alice".to_owned(), 3.0, 3)]
    );
    // Referenced rules stay silent (generate is false).
    assert!(hits.iter().all(|h| matches!(h, Hit::Correlation(_))));
    // Spread over more than 5 minutes: nothing.
    let hits = run(
        &text,
        &[
            at("GetUser", 0, DENIED),
            at("GetUser", 3, DENIED),
            at("GetUser", 9, DENIED),
        ],
    );
    assert!(corr_hits(&hits).is_empty());
}

#[test]
fn generate_true_keeps_rule_alerts() {
    let text = format!(
        "{BASE}title: Many denials\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5m\n  generate: true\n  condition: {{gte: 2}}\n"
    );
    let hits = run(&text, &[at("GetUser", 0, DENIED), at("GetUser", 1, DENIED)]);
    assert_eq!(
        hits.iter()
            .filter(|h| matches!(h, Hit::Rule { .. }))
            .count(),
        2
    );
    assert_eq!(corr_hits(&hits).len(), 1);
}

#[test]
fn value_count_distinct() {
    let text = format!(
        "{BASE}title: Broad listing\ncorrelation:\n  type: value_count\n  rules: [listing]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n  condition: {{field: eventName, gte: 3}}\n"
    );
    let hits = run(
        &text,
        &[
            at("ListUsers", 0, ""),
            at("ListUsers", 1, ""),
            at("ListRoles", 2, ""),
        ],
    );
    assert!(corr_hits(&hits).is_empty());
    let hits = run(
        &text,
        &[
            at("ListUsers", 0, ""),
            at("ListRoles", 1, ""),
            at("ListBuckets", 2, ""),
        ],
    );
    assert_eq!(
        corr_hits(&hits),
        [("userIdentity.userName=alice".to_owned(), 3.0, 3)]
    );
}

#[test]
fn event_count_below_threshold_judged_at_window_close() {
    let text = format!(
        "{BASE}title: Quiet\ncorrelation:\n  type: event_count\n  rules: [listing]\n  timespan: 10m\n  condition: {{lt: 3}}\n"
    );
    let hits = run(&text, &[at("ListUsers", 0, ""), at("ListUsers", 1, "")]);
    assert_eq!(corr_hits(&hits), [(String::new(), 2.0, 2)]);
}

#[test]
fn temporal_and_ordered() {
    let t = format!(
        "{BASE}title: Denied then listing\ncorrelation:\n  type: temporal\n  rules: [failed, listing]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n"
    );
    let hits = run(&t, &[at("ListUsers", 0, ""), at("GetUser", 1, DENIED)]);
    assert_eq!(corr_hits(&hits).len(), 1);
    let o = t.replace("type: temporal", "type: temporal_ordered");
    let hits = run(&o, &[at("ListUsers", 0, ""), at("GetUser", 1, DENIED)]);
    assert!(corr_hits(&hits).is_empty(), "listing came first");
    let hits = run(&o, &[at("GetUser", 0, DENIED), at("ListUsers", 1, "")]);
    assert_eq!(corr_hits(&hits).len(), 1);
    let hits = run(&o, &[at("GetUser", 0, DENIED), at("ListUsers", 9, "")]);
    assert!(corr_hits(&hits).is_empty(), "outside the timespan");
}

#[test]
fn value_sum_avg_percentile() {
    let size = |n: u32| format!(r#","additionalEventData":{{"bytesTransferredOut":{n}}}"#);
    let events = [
        at("ListUsers", 0, &size(100)),
        at("ListUsers", 1, &size(300)),
        at("ListUsers", 2, &size(800)),
    ];
    let mk = |kind: &str, cond: &str| {
        format!(
            "{BASE}title: Volume\ncorrelation:\n  type: {kind}\n  rules: [listing]\n  timespan: 10m\n  condition: {{field: additionalEventData.bytesTransferredOut, {cond}}}\n"
        )
    };
    assert_eq!(
        corr_hits(&run(&mk("value_sum", "gte: 1200"), &events)),
        [(String::new(), 1200.0, 3)]
    );
    assert_eq!(
        corr_hits(&run(&mk("value_avg", "gt: 399"), &events)),
        [(String::new(), 400.0, 3)]
    );
    assert_eq!(
        corr_hits(&run(
            &mk("value_percentile", "percentile: 90, gte: 700"),
            &events
        )),
        [(String::new(), 800.0, 3)]
    );
    assert!(corr_hits(&run(&mk("value_sum", "gte: 5000"), &events)).is_empty());
}

#[test]
fn chained_correlation_with_aliases() {
    let text = format!(
        "{BASE}title: Denials\nname: denials\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [user]\n  aliases:\n    user:\n      failed: userIdentity.userName\n  timespan: 10m\n  condition: {{gte: 2}}\n---\ntitle: Denials then listing\ncorrelation:\n  type: temporal_ordered\n  rules: [denials, listing]\n  group-by: [user]\n  aliases:\n    user:\n      denials: user\n      listing: userIdentity.userName\n  timespan: 10m\n"
    );
    let hits = run(
        &text,
        &[
            at("GetUser", 0, DENIED),
            at("GetUser", 1, DENIED),
            at("ListUsers", 3, ""),
        ],
    );
    let c = corr_hits(&hits);
    // The lower correlation feeds the upper one and is not reported itself.
    assert_eq!(c, [("user=alice".to_owned(), 2.0, 3)], "{hits:#?}");
}

#[test]
fn correlation_errors() {
    let bad_ref = format!(
        "{BASE}title: X\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {{gte: 1}}\n"
    );
    assert!(
        RuleSet::from_texts([("c.yml", bad_ref.as_str())], &SigmaConfig::default())
            .unwrap_err()
            .to_string()
            .contains("not a loaded rule")
    );
    let cycle = "title: A\nname: a\ncorrelation: {type: event_count, rules: [b], timespan: 5m, condition: {gte: 1}}\n---\ntitle: B\nname: b\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}}\n";
    assert!(
        RuleSet::from_texts([("c.yml", cycle)], &SigmaConfig::default())
            .unwrap_err()
            .to_string()
            .contains("cycle")
    );
    let bad_span = format!(
        "{BASE}title: X\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5 parsecs\n  condition: {{gte: 1}}\n"
    );
    assert!(RuleSet::from_texts([("c.yml", bad_span.as_str())], &SigmaConfig::default()).is_err());
}

#[test]
fn group_cap_is_enforced() {
    let text = format!(
        "{BASE}title: Many\ncorrelation:\n  type: event_count\n  rules: [listing]\n  group-by: [requestParameters.n]\n  timespan: 10m\n  condition: {{gte: 100}}\n"
    );
    let config = SigmaConfig {
        max_groups: 5,
        ..SigmaConfig::default()
    };
    let set = RuleSet::from_texts([("c.yml", text.as_str())], &config).unwrap();
    let mut eval = Evaluator::new(set);
    let mut out = Vec::new();
    for i in 0..20 {
        eval.observe(
            &at(
                "ListUsers",
                0,
                &format!(r#","requestParameters":{{"n":"{i}"}}"#),
            ),
            &mut out,
        );
    }
    let state = &eval.correlation_states()[0];
    assert_eq!(state.group_count(), 5);
    assert_eq!(state.dropped_groups, 15);
}

#[test]
fn lint_catalogue() {
    use trailhound_sigma::{DiagSeverity, RuleSource, lint_sources};
    let text = "title: Bad modifier\nid: a\nlogsource: {product: aws}\ndetection:\n  s: {eventName|bogus: X}\n  condition: s\n---\ntitle: Never\nid: b\nlogsource: {product: aws}\ndetection:\n  s: {eventName: StopLogging}\n  t: {eventName: DeleteTrail}\n  condition: s and t\n---\ntitle: Placeholder\nid: c\nlogsource: {product: aws}\ndetection:\n  s: {sourceIPAddress|expand: '%office%'}\n  condition: s\n---\ntitle: Regex\nid: d\nlogsource: {product: aws}\ndetection:\n  s: {userAgent|re: '(x'}\n  condition: s\n---\ntitle: Schema\nid: e\nlogsource: {product: aws}\ndetection:\n  s: {eventSource: iam.amazonaws.com, eventName: [CreateUser, StopLogging], status: ok, userIdentity.bogus: x}\n  condition: s\n---\ntitle: Case\nid: f\nlogsource: {product: aws}\ndetection:\n  s: {eventName: stoplogging}\n  condition: s\n";
    let diags = lint_sources(
        &[RuleSource {
            path: "r.yml".into(),
            text: text.into(),
        }],
        &SigmaConfig::default(),
    );
    let got: Vec<(u64, &str, DiagSeverity)> =
        diags.iter().map(|d| (d.line, d.code, d.severity)).collect();
    assert_eq!(
        got,
        [
            (5, "unknown-modifier", DiagSeverity::Error),
            (12, "never-matches", DiagSeverity::Error),
            (20, "placeholder-without-value", DiagSeverity::Error),
            (27, "bad-regex", DiagSeverity::Error),
            (34, "eventname-not-from-source", DiagSeverity::Warning),
            (34, "unknown-field", DiagSeverity::Warning),
            (34, "unknown-field", DiagSeverity::Warning),
            (41, "eventname-case", DiagSeverity::Warning),
        ],
        "{diags:#?}"
    );
    let yaml = lint_sources(
        &[RuleSource {
            path: "y.yml".into(),
            text: "a: [1,\n".into(),
        }],
        &SigmaConfig::default(),
    );
    assert_eq!(yaml[0].code, "yaml");
}
