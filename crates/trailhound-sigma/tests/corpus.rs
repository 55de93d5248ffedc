//! The SigmaHQ AWS CloudTrail rules, run unchanged against hand-written CloudTrail records.
//!
//! The rules are read from the shared corpus beside the repository
//! (`../shared/corpus/sigma`, Detection Rule License: never copied into this repository).
//! Fixtures live in `tests/corpus/<rule-file-stem>/{match,nomatch}_*.json`, one record each.
//!
//! Every fixture is a named test (`fixture::<rule>::<file>`): the rule must fire on `match_*`
//! records and stay silent on `nomatch_*` ones. A meta-test fails when a corpus rule lacks
//! either kind of fixture, and a report of which rules fire on which fixture (including rules
//! firing on other rules' fixtures) is snapshotted with insta and written to
//! `$CARGO_TARGET_TMPDIR/sigma-corpus-report.txt`.
//!
//! Run with `cargo test -p trailhound-sigma --test corpus`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use trailhound_core::{Enrichment, Event, Origin};
use trailhound_sigma::{Evaluator, Hit, RuleSet, RuleSource, SigmaConfig};

/// The shared corpus, relative to this crate (CI clones the repository with `shared/` beside it).
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/sigma");
/// Our fixtures.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
/// The page that documents the corpus; it must list every rule.
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sigma-corpus.md");
/// Where the report is written on every run.
const REPORT: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/sigma-corpus-report.txt");
/// The corpus folders whose rules must all load and have fixtures.
const RULE_DIRS: &[&str] = &[
    "rules/cloud/aws/cloudtrail",
    "rules-placeholder/cloud/aws/cloudtrail",
];

/// Values for the placeholder rules' `%name%` placeholders (the `expand` modifier), as a
/// deployment would configure them: the countries and source addresses sign-ins are expected
/// from.
const PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("Legitimate_Countries", &["US", "CA"]),
    ("Legitimate_IP_Ranges", &["198.51.100.*", "192.0.2.10"]),
];

/// Fixtures their rule, run unchanged, cannot judge as a CloudTrail engine should, with the
/// reason. Their test asserts the rule still behaves that way, so a change in the engine that
/// makes the rule behave as expected fails the test until the entry is removed (the fixture then
/// becomes an ordinary test).
const KNOWN_MISSES: &[(&str, &str)] = &[(
    "aws_delete_saml_provider/match_delete_saml_provider",
    "the rule requires status: success, and CloudTrail records have no status field",
)];

/// GeoIP country of a fixture's source address, as enrichment would set it before detection
/// (`src_country` in Sigma reads it). Fixtures not listed have no enrichment.
const FIXTURE_COUNTRIES: &[(&str, &str)] = &[
    (
        "aws_cloudtrail_console_login_success_from_susp_locations/match_success_from_unexpected_address",
        "RO",
    ),
    (
        "aws_cloudtrail_console_login_success_from_susp_locations/nomatch_success_from_expected_country",
        "CA",
    ),
];

/// What a fixture expects of its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Match,
    NoMatch,
}

/// One corpus rule file.
struct Rule {
    /// File stem, e.g. `aws_cloudtrail_disable_logging`.
    stem: String,
    /// Path relative to the corpus root, e.g. `rules/cloud/aws/cloudtrail/….yml`.
    rel: String,
    /// The YAML text, unchanged.
    text: String,
}

/// One fixture record.
struct Fixture {
    /// The rule directory it belongs to.
    rule: String,
    /// File stem, e.g. `match_stop_logging`.
    name: String,
    expect: Option<Expect>,
    event: Result<Event, String>,
}

impl Fixture {
    fn id(&self) -> String {
        format!("{}/{}", self.rule, self.name)
    }
}

/// The outcome of one fixture through the whole corpus.
struct Outcome {
    /// Rule stems that fired, sorted.
    fired: BTreeSet<String>,
    /// Rule stems the unrouted evaluation (every rule tested) matched, sorted.
    fired_unrouted: BTreeSet<String>,
}

fn main() {
    let args = Arguments::from_args();
    let trials = match build_trials() {
        Ok(trials) => trials,
        Err(message) => vec![Trial::test("corpus::loads", move || {
            Err(Failed::from(message))
        })],
    };
    libtest_mimic::run(&args, trials).exit();
}

fn placeholder_config() -> SigmaConfig {
    let mut config = SigmaConfig::default();
    for (name, values) in PLACEHOLDERS {
        config.compile.placeholders.insert(
            (*name).to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
    }
    config
}

fn build_trials() -> Result<Vec<Trial>, String> {
    let corpus = Path::new(CORPUS);
    if !corpus.is_dir() {
        return Err(format!(
            "the shared Sigma corpus is missing: expected the SigmaHQ rules at {CORPUS} \
             (clone the repository with shared/ beside it, so that ../shared/corpus/sigma exists)"
        ));
    }
    let rules = read_rules(corpus)?;
    let fixtures = read_fixtures(Path::new(FIXTURES))?;
    let config = placeholder_config();

    let mut trials = Vec::new();

    // Each rule loads on its own, unchanged, as one AWS CloudTrail detection rule.
    let mut loaded = Vec::new();
    for rule in &rules {
        let result = load_one(rule, &config);
        if result.is_ok() {
            loaded.push(RuleSource {
                path: rule.rel.clone(),
                text: rule.text.clone(),
            });
        }
        trials.push(Trial::test(format!("load::{}", rule.stem), move || {
            result.map_err(Failed::from)
        }));
    }

    // The meta-check: every rule has both kinds of fixtures, every fixture belongs to a rule.
    let meta = meta_check(&rules, &fixtures);
    trials.push(Trial::test(
        "meta::every_rule_has_match_and_nomatch_fixtures",
        move || meta.map_err(Failed::from),
    ));

    // The documentation lists every rule.
    let documented = docs_check(&rules);
    trials.push(Trial::test(
        "docs::every_rule_listed_in_sigma_corpus_md",
        move || documented.map_err(Failed::from),
    ));

    // Run every fixture through the whole corpus (the rules that loaded).
    let set = RuleSet::compile(&loaded, &config)
        .map_err(|e| format!("the loaded corpus rules do not compile together: {e}"))?;
    let (routed, every_event) = set.routing_summary();
    let routes = route_descriptions(&set);
    let mut evaluator = Evaluator::new(set);
    let mut outcomes = BTreeMap::new();
    for fixture in &fixtures {
        if let Ok(event) = &fixture.event {
            outcomes.insert(fixture.id(), run(&mut evaluator, event));
        }
    }

    // Routing never loses or adds a match.
    let routing = routing_check(&outcomes);
    trials.push(Trial::test(
        "routing::same_matches_as_testing_every_rule",
        move || routing.map_err(Failed::from),
    ));

    // One named test per fixture.
    for fixture in &fixtures {
        let verdict = judge(fixture, outcomes.get(&fixture.id()));
        trials.push(Trial::test(
            format!("fixture::{}::{}", fixture.rule, fixture.name),
            move || verdict.map_err(Failed::from),
        ));
    }

    // The report of which rules fire on which fixture, snapshotted.
    let report = render_report(&rules, &fixtures, &outcomes, &routes, routed, every_event);
    trials.push(Trial::test("report::snapshot", move || {
        fs::write(REPORT, &report)
            .map_err(|e| Failed::from(format!("cannot write {REPORT}: {e}")))?;
        insta::assert_snapshot!("corpus_report", report);
        Ok(())
    }));
    Ok(trials)
}

/// Reads every rule file of [`RULE_DIRS`], sorted by path.
fn read_rules(corpus: &Path) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for dir in RULE_DIRS {
        let path = corpus.join(dir);
        let entries =
            fs::read_dir(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let stem = file_stem(&file);
            let rel = format!("{dir}/{stem}.yml");
            rules.push(Rule { stem, rel, text });
        }
    }
    if rules.is_empty() {
        return Err(format!(
            "no rule files under {CORPUS} ({})",
            RULE_DIRS.join(", ")
        ));
    }
    Ok(rules)
}

/// Reads every `tests/corpus/<rule>/*.json` fixture, sorted by rule and name.
fn read_fixtures(root: &Path) -> Result<Vec<Fixture>, String> {
    let entries = fs::read_dir(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut fixtures = Vec::new();
    for dir in dirs {
        let rule = file_stem(&dir);
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let name = file_stem(&file);
            let expect = if file.extension().is_none_or(|x| x != "json") {
                None
            } else if name.starts_with("match_") {
                Some(Expect::Match)
            } else if name.starts_with("nomatch_") {
                Some(Expect::NoMatch)
            } else {
                None
            };
            let origin = format!("tests/corpus/{rule}/{name}.json");
            let event = fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))
                .and_then(|text| {
                    Event::from_json(text, Origin::new(origin.as_str(), 0))
                        .map_err(|e| format!("{origin} is not a CloudTrail record: {e}"))
                })
                .inspect(|event| enrich(&format!("{rule}/{name}"), event));
            fixtures.push(Fixture {
                rule: rule.clone(),
                name,
                expect,
                event,
            });
        }
    }
    Ok(fixtures)
}

/// Sets the fixture's GeoIP country from [`FIXTURE_COUNTRIES`], if it has one.
fn enrich(id: &str, event: &Event) {
    if let Some((_, country)) = FIXTURE_COUNTRIES.iter().find(|(k, _)| *k == id) {
        event.set_enrichment(Enrichment {
            country: Some((*country).into()),
            ..Enrichment::default()
        });
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Compiles one rule file alone and checks it is one AWS CloudTrail detection rule.
fn load_one(rule: &Rule, config: &SigmaConfig) -> Result<(), String> {
    let source = RuleSource {
        path: rule.rel.clone(),
        text: rule.text.clone(),
    };
    let set = RuleSet::compile(std::slice::from_ref(&source), config)
        .map_err(|e| format!("{} does not load: {e}", rule.rel))?;
    let [compiled] = set.rules() else {
        return Err(format!(
            "{} should hold exactly one rule, found {}",
            rule.rel,
            set.rules().len()
        ));
    };
    let logsource = &compiled.doc.logsource;
    let is_cloudtrail = logsource.get("product").is_some_and(|p| p == "aws")
        && logsource.get("service").is_some_and(|s| s == "cloudtrail");
    if !is_cloudtrail {
        return Err(format!(
            "{} is not an aws/cloudtrail rule: logsource {logsource:?}",
            rule.rel
        ));
    }
    if compiled.doc.id.is_empty() || compiled.doc.title.is_empty() {
        return Err(format!("{} lost its id or title when loaded", rule.rel));
    }
    Ok(())
}

fn meta_check(rules: &[Rule], fixtures: &[Fixture]) -> Result<(), String> {
    let mut problems = Vec::new();
    let stems: BTreeSet<&str> = rules.iter().map(|r| r.stem.as_str()).collect();
    for rule in rules {
        let own = fixtures.iter().filter(|f| f.rule == rule.stem);
        let (mut matches, mut nomatches) = (0, 0);
        for f in own {
            match f.expect {
                Some(Expect::Match) => matches += 1,
                Some(Expect::NoMatch) => nomatches += 1,
                None => {}
            }
        }
        if matches == 0 {
            problems.push(format!("{}: no match_*.json fixture", rule.stem));
        }
        if nomatches == 0 {
            problems.push(format!("{}: no nomatch_*.json fixture", rule.stem));
        }
    }
    for (id, _) in KNOWN_MISSES.iter().chain(FIXTURE_COUNTRIES) {
        if !fixtures.iter().any(|f| f.id() == *id) {
            problems.push(format!(
                "{id} is listed in KNOWN_MISSES or FIXTURE_COUNTRIES but is not a fixture"
            ));
        }
    }
    for f in fixtures {
        if !stems.contains(f.rule.as_str()) {
            problems.push(format!("{}: no corpus rule named {}", f.id(), f.rule));
        }
        if f.expect.is_none() {
            problems.push(format!(
                "{}: fixture files must be match_*.json or nomatch_*.json",
                f.id()
            ));
        }
        if let Err(e) = &f.event {
            problems.push(e.clone());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn docs_check(rules: &[Rule]) -> Result<(), String> {
    let text = fs::read_to_string(DOC).map_err(|e| format!("cannot read {DOC}: {e}"))?;
    let missing: Vec<&str> = rules
        .iter()
        .map(|r| r.stem.as_str())
        .filter(|stem| !text.contains(&format!("| `{stem}` |")))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "docs/sigma-corpus.md has no table row for: {}",
            missing.join(", ")
        ))
    }
}

fn rule_stem(path: &str) -> String {
    file_stem(Path::new(path))
}

/// Runs one event through the evaluator, and through the rule set without routing.
fn run(evaluator: &mut Evaluator, event: &Event) -> Outcome {
    let mut hits = Vec::new();
    evaluator.observe(event, &mut hits);
    let mut fired = BTreeSet::new();
    for hit in &hits {
        if let Hit::Rule { rule, .. } = hit {
            fired.insert(rule_stem(&rule.doc.path));
        }
    }
    let set = evaluator.rule_set();
    let mut indices = Vec::new();
    set.matching_unrouted(event, &mut indices);
    let fired_unrouted = indices
        .iter()
        .filter_map(|&i| set.rules().get(i))
        .map(|r| rule_stem(&r.doc.path))
        .collect();
    Outcome {
        fired,
        fired_unrouted,
    }
}

fn routing_check(outcomes: &BTreeMap<String, Outcome>) -> Result<(), String> {
    let problems: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| o.fired != o.fired_unrouted)
        .map(|(id, o)| {
            format!(
                "{id}: routed {:?} but testing every rule gives {:?}",
                o.fired, o.fired_unrouted
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn known_miss(id: &str) -> Option<&'static str> {
    KNOWN_MISSES
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, reason)| *reason)
}

/// Whether the fixture's rule fired as expected (or, for a known miss, still does not).
fn judge(fixture: &Fixture, outcome: Option<&Outcome>) -> Result<(), String> {
    let id = fixture.id();
    let event = fixture.event.as_ref().map_err(Clone::clone)?;
    let expect = fixture
        .expect
        .ok_or_else(|| format!("{id}: not a match_ or nomatch_ fixture"))?;
    let outcome = outcome.ok_or_else(|| format!("{id}: was not evaluated"))?;
    let fired = outcome.fired.contains(&fixture.rule);
    let correct = fired == (expect == Expect::Match);
    let what = format!(
        "{id} ({} {} at {}): rule {} {}; rules that fired: {:?}",
        event.event_source(),
        event.event_name(),
        event.event_time(),
        fixture.rule,
        if fired { "fired" } else { "did not fire" },
        outcome.fired,
    );
    match (known_miss(&id), correct) {
        (None, true) => Ok(()),
        (None, false) => Err(format!(
            "expected the rule to {}: {what}",
            if expect == Expect::Match {
                "fire"
            } else {
                "stay silent"
            }
        )),
        (Some(_), false) => Ok(()),
        (Some(reason), true) => Err(format!(
            "{id} is listed in KNOWN_MISSES ({reason}) but now behaves as expected: \
             remove it from KNOWN_MISSES"
        )),
    }
}

/// A short description of each rule's routing, keyed by stem.
fn route_descriptions(set: &RuleSet) -> BTreeMap<String, String> {
    set.rules()
        .iter()
        .map(|rule| {
            let route = match &rule.event_names {
                Some(names) => {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    format!("eventName in [{}]", names.join(", "))
                }
                None => "every event".to_owned(),
            };
            (rule_stem(&rule.doc.path), route)
        })
        .collect()
}

fn render_report(
    rules: &[Rule],
    fixtures: &[Fixture],
    outcomes: &BTreeMap<String, Outcome>,
    routes: &BTreeMap<String, String>,
    routed: usize,
    every_event: usize,
) -> String {
    let mut out = String::new();
    let matches = fixtures
        .iter()
        .filter(|f| f.expect == Some(Expect::Match))
        .count();
    let nomatches = fixtures
        .iter()
        .filter(|f| f.expect == Some(Expect::NoMatch))
        .count();
    let _ = writeln!(
        out,
        "rules: {} (routed by eventName: {routed}, on every event: {every_event})",
        rules.len()
    );
    let _ = writeln!(
        out,
        "fixtures: {} ({matches} match, {nomatches} nomatch)",
        fixtures.len()
    );
    let _ = writeln!(
        out,
        "legend: fires/silent = the fixture's own rule; UNEXPECTED = wrong outcome; also = other rules that fired"
    );
    let mut cross: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in rules {
        let route = routes.get(&rule.stem).map_or("not loaded", String::as_str);
        let _ = writeln!(out, "\n{}  [{route}]", rule.stem);
        for fixture in fixtures.iter().filter(|f| f.rule == rule.stem) {
            let Some(outcome) = outcomes.get(&fixture.id()) else {
                let _ = writeln!(out, "  {}: not evaluated", fixture.name);
                continue;
            };
            let fired = outcome.fired.contains(&rule.stem);
            let correct = fired == (fixture.expect == Some(Expect::Match));
            let mut line = format!(
                "  {}: {}",
                fixture.name,
                if fired { "fires" } else { "silent" }
            );
            if !correct {
                line.push_str(" UNEXPECTED");
                if let Some(reason) = known_miss(&fixture.id()) {
                    let _ = write!(line, " (known miss: {reason})");
                }
            }
            let others: Vec<&str> = outcome
                .fired
                .iter()
                .map(String::as_str)
                .filter(|s| *s != rule.stem)
                .collect();
            if !others.is_empty() {
                let _ = write!(line, "; also {}", others.join(", "));
            }
            for other in others {
                *cross.entry(other).or_default() += 1;
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "\nrules firing on other rules' fixtures:");
    for (rule, count) in &cross {
        let _ = writeln!(out, "  {rule}: {count}");
    }
    out
}
