//! A deterministic generator of a believable AWS organisation's CloudTrail, with labelled
//! attack scenarios.
//!
//! The same options and seed give the same bytes: every random choice comes from ChaCha
//! generators seeded from the seed, the account and the day; nothing reads the clock; output
//! is ordered by account, day, region and time.
//!
//! ```no_run
//! let options = trailhound_gen::GenOptions::new("/tmp/org");
//! let summary = trailhound_gen::generate(&options, &|_| {})?;
//! println!("{} events in {} files", summary.events, summary.files);
//! # Ok::<(), trailhound_gen::Error>(())
//! ```

mod benign;
pub mod digests;
mod emit;
pub mod geo;
mod ident;
mod org;
mod record;
mod scenario;
mod score;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use trailhound_core::Timestamp;

pub use digests::{DigestSummary, write_digests};
pub use emit::Label;
pub use org::{
    Account, App, CANARY_ACCESS_KEY_ID, CANARY_USER, HONEYPOT_BUCKET, HONEYPOT_PREFIX,
    HONEYPOT_TABLE, IamUser, OUTSIDE_ACCOUNT, Org, PRIMARY_REGION, Person, Role, Runtime,
    SECONDARY_REGIONS,
};
pub use scenario::{SCENARIOS, ScenarioInfo, scenario};
pub use score::{ScenarioScore, Scorecard};

use benign::DAY;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A scenario name is not in the catalogue.
    #[error("unknown scenario {0:?} (see SCENARIOS)")]
    UnknownScenario(String),
    /// JSON could not be written or read.
    #[error("json error in {what}")]
    Json {
        /// What was being written or read.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    Invalid(String),
    /// Digest files could not be signed or written.
    #[error("digest files: {0}")]
    Digests(String),
}

/// Result of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The S3 delivery layout, gzip-compressed `{"Records":[…]}` files.
    #[default]
    S3,
    /// JSON lines, one file per account, region and day.
    Jsonl,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Days to generate.
    pub days: u32,
    /// Accounts (the first is the management account).
    pub accounts: u32,
    /// Benign events per account per weekday (weekends are quieter).
    pub events_per_day: u64,
    /// Scenarios to inject; empty for all (unless `inject` is false).
    pub scenarios: Vec<String>,
    /// Inject scenarios at all; false gives benign activity only.
    pub inject: bool,
    /// Seed.
    pub seed: u64,
    /// Output layout.
    pub format: Format,
    /// First day (midnight UTC).
    pub start: Timestamp,
    /// Days of clean history before any scenario, when `days` allows.
    pub warmup_days: u32,
    /// Gzip level (0–9).
    pub gzip_level: u32,
}

/// The default first day, 2026-01-01.
pub const DEFAULT_START: Timestamp = Timestamp::from_secs(1_767_225_600);

impl GenOptions {
    /// Defaults: 3 days, 3 accounts, 20,000 events per account-day, all scenarios, seed 1.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        GenOptions {
            out: out.into(),
            days: 3,
            accounts: 3,
            events_per_day: 20_000,
            scenarios: Vec::new(),
            inject: true,
            seed: 1,
            format: Format::S3,
            start: DEFAULT_START,
            warmup_days: 14,
            gzip_level: 6,
        }
    }
}

/// Where and when a scenario was injected.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Injected {
    /// Scenario name.
    pub name: String,
    /// Account id.
    pub account: String,
    /// First event time.
    pub start: String,
    /// Labelled events.
    pub events: u64,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Organisation id.
    pub org_id: String,
    /// Files written (records, not labels).
    pub files: u64,
    /// Records written.
    pub events: u64,
    /// Uncompressed bytes of records.
    pub bytes: u64,
    /// Labelled scenario records.
    pub scenario_events: u64,
    /// Scenarios injected.
    pub scenarios: Vec<Injected>,
}

fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A planned injection: scenario, account index, day index, start time.
#[derive(Debug, Clone)]
struct Plan {
    name: &'static str,
    account: usize,
    day: u32,
    time: i64,
}

fn plan(options: &GenOptions, org: &Org) -> Result<Vec<Plan>> {
    let names: Vec<&'static str> = if !options.inject {
        Vec::new()
    } else if options.scenarios.is_empty() {
        SCENARIOS.iter().map(|s| s.name).collect()
    } else {
        options
            .scenarios
            .iter()
            .map(|n| {
                scenario(n)
                    .map(|s| s.name)
                    .ok_or_else(|| Error::UnknownScenario(n.clone()))
            })
            .collect::<Result<_>>()?
    };
    let mut rng = ChaCha8Rng::seed_from_u64(mix(options.seed, 0x5ce, 0));
    let first = if options.days > options.warmup_days {
        options.warmup_days
    } else {
        options.days / 2
    };
    let n = org.accounts.len();
    let mut plans = Vec::new();
    for name in names {
        let day = rng.random_range(first..options.days.max(first + 1));
        let account = match name {
            "leave-organization" if n > 1 => rng.random_range(1..n),
            "canary-credential" => 1 % n,
            _ if n > 1 => rng.random_range(1..n),
            _ => 0,
        };
        let time =
            options.start.as_secs() + i64::from(day) * DAY + rng.random_range(0..DAY - 3 * 3600);
        plans.push(Plan {
            name,
            account,
            day,
            time,
        });
    }
    Ok(plans)
}

/// Builds the organisation a seed and account count give.
#[must_use]
pub fn organisation(seed: u64, accounts: u32) -> Org {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, 0x0e6, 0));
    Org::build(&mut rng, accounts as usize)
}

struct UnitOut {
    files: u64,
    events: u64,
    bytes: u64,
    labels: Vec<Label>,
}

/// Generates the tree. `progress` is called with the number of records of each finished
/// account-day, from worker threads.
///
/// # Errors
/// Unknown scenarios, invalid options and write failures.
pub fn generate(options: &GenOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Summary> {
    if options.days == 0 || options.accounts == 0 {
        return Err(Error::Invalid(
            "days and accounts must be at least 1".to_owned(),
        ));
    }
    if options.gzip_level > 9 {
        return Err(Error::Invalid(format!(
            "gzip level {} is above 9",
            options.gzip_level
        )));
    }
    let org = organisation(options.seed, options.accounts);
    let plans = plan(options, &org)?;
    fs::create_dir_all(&options.out).map_err(|source| Error::Write {
        path: options.out.clone(),
        source,
    })?;
    let units: Vec<(usize, u32)> = (0..org.accounts.len())
        .flat_map(|a| (0..options.days).map(move |d| (a, d)))
        .collect();
    let outs: Vec<UnitOut> = units
        .par_iter()
        .map(|&(a, d)| {
            let out = unit(options, &org, &plans, a, d)?;
            progress(out.events);
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut summary = Summary {
        org_id: org.id.clone(),
        files: 0,
        events: 0,
        bytes: 0,
        scenario_events: 0,
        scenarios: Vec::new(),
    };
    let mut labels = Vec::new();
    for out in outs {
        summary.files += out.files;
        summary.events += out.events;
        summary.bytes += out.bytes;
        labels.extend(out.labels);
    }
    labels.sort_by(|a, b| {
        (a.scenario.as_str(), a.event_time.as_str())
            .cmp(&(b.scenario.as_str(), b.event_time.as_str()))
    });
    summary.scenario_events = labels.len() as u64;
    for p in &plans {
        let mine: Vec<&Label> = labels.iter().filter(|l| l.scenario == p.name).collect();
        summary.scenarios.push(Injected {
            name: p.name.to_owned(),
            account: org.accounts[p.account].id.clone(),
            start: mine
                .first()
                .map_or_else(|| record::time_string(p.time), |l| l.event_time.clone()),
            events: mine.len() as u64,
        });
    }
    write_labels(&options.out, &labels, &summary)?;
    write_networks(&options.out)?;
    tracing::info!(events = summary.events, files = summary.files, "generated");
    Ok(summary)
}

fn write_labels(out: &Path, labels: &[Label], summary: &Summary) -> Result<()> {
    let mut text = String::new();
    for label in labels {
        let line = serde_json::to_string(label).map_err(|source| Error::Json {
            what: "labels",
            source,
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    let path = out.join("labels.jsonl");
    fs::write(&path, text).map_err(|source| Error::Write { path, source })?;
    #[derive(Serialize)]
    struct ScenarioFile<'a> {
        org_id: &'a str,
        scenarios: Vec<ScenarioEntry<'a>>,
    }
    #[derive(Serialize)]
    struct ScenarioEntry<'a> {
        #[serde(flatten)]
        injected: &'a Injected,
        description: &'static str,
        attack: &'static [&'static str],
        detectors: &'static [&'static str],
    }
    let file = ScenarioFile {
        org_id: &summary.org_id,
        scenarios: summary
            .scenarios
            .iter()
            .filter_map(|i| {
                scenario(&i.name).map(|s| ScenarioEntry {
                    injected: i,
                    description: s.description,
                    attack: s.attack,
                    detectors: s.detectors,
                })
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&file).map_err(|source| Error::Json {
        what: "scenarios",
        source,
    })?;
    let path = out.join("scenarios.json");
    fs::write(&path, json + "\n").map_err(|source| Error::Write { path, source })
}

/// The file beside `labels.jsonl` listing [`geo::NETWORKS`], the networks every generated
/// public address comes from, to build a matching GeoIP/ASN database.
pub const NETWORKS_FILE: &str = "networks.json";

/// The same networks as an ASN ranges file (`start_ip,end_ip,asn,org`, the format `[enrich]
/// asn_csv` reads), so a generated tree can be hunted with ASN enrichment without building a
/// MaxMind database.
pub const ASN_CSV_FILE: &str = "networks-asn.csv";

fn write_networks(out: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(geo::NETWORKS).map_err(|source| Error::Json {
        what: "networks",
        source,
    })?;
    let path = out.join(NETWORKS_FILE);
    fs::write(&path, json + "\n").map_err(|source| Error::Write { path, source })?;
    let path = out.join(ASN_CSV_FILE);
    fs::write(&path, asn_csv(geo::NETWORKS)).map_err(|source| Error::Write { path, source })
}

/// `networks` as `start_ip,end_ip,asn,"org"` lines under a header.
fn asn_csv(networks: &[geo::Network]) -> String {
    let mut csv = String::from("start_ip,end_ip,asn,org\n");
    for n in networks {
        let Some((base, len)) = n.cidr.split_once('/') else {
            continue;
        };
        let (Ok(base), Ok(len)) = (base.parse::<std::net::Ipv4Addr>(), len.parse::<u32>()) else {
            continue;
        };
        let mask = u32::MAX.checked_shl(32 - len.min(32)).unwrap_or(0);
        let start = std::net::Ipv4Addr::from(u32::from(base) & mask);
        let end = std::net::Ipv4Addr::from(u32::from(base) | !mask);
        csv.push_str(&format!(
            "{start},{end},{},\"{}\"\n",
            n.asn,
            n.org.replace('"', "")
        ));
    }
    csv
}

/// Reads `labels.jsonl` of a generated tree.
///
/// # Errors
/// An unreadable file or a bad line.
pub fn read_labels(dir: &Path) -> Result<Vec<Label>> {
    let path = dir.join("labels.jsonl");
    let text = fs::read_to_string(&path).map_err(|source| Error::Read { path, source })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|source| Error::Json {
                what: "labels",
                source,
            })
        })
        .collect()
}

fn unit(options: &GenOptions, org: &Org, plans: &[Plan], a: usize, d: u32) -> Result<UnitOut> {
    let rng = ChaCha8Rng::seed_from_u64(mix(options.seed, a as u64 + 1, u64::from(d) + 1));
    let mut em = emit::Emitter::new(rng);
    let day = options.start.as_secs().div_euclid(DAY) * DAY + i64::from(d) * DAY;
    benign::day(&mut em, org, a, day, options.events_per_day);
    for p in plans.iter().filter(|p| p.account == a && p.day == d) {
        let mut cx = scenario::Ctx {
            em: &mut em,
            org,
            a,
            t: p.time,
            name: p.name,
        };
        scenario::inject(&mut cx);
    }
    let mut records = std::mem::take(&mut em.out);
    records.sort_by(|x, y| (x.region, x.time, x.seq).cmp(&(y.region, y.time, y.seq)));
    let account = &org.accounts[a];
    let mut out = UnitOut {
        files: 0,
        events: records.len() as u64,
        bytes: 0,
        labels: em.labels,
    };
    let mut name_rng =
        ChaCha8Rng::seed_from_u64(mix(options.seed, a as u64 + 1, u64::from(d) + 0x1000));
    let mut start = 0;
    while start < records.len() {
        let region = records[start].region;
        let (group, window) = match options.format {
            Format::S3 => (records[start].time.div_euclid(300), 300),
            Format::Jsonl => (records[start].time.div_euclid(DAY), DAY),
        };
        let end = records[start..]
            .iter()
            .position(|r| r.region != region || r.time.div_euclid(window) != group)
            .map_or(records.len(), |n| start + n);
        let slice = &records[start..end];
        let window_start = group * window;
        let path = file_path(
            options,
            &org.id,
            &account.id,
            region,
            window_start,
            &mut name_rng,
        );
        out.bytes += write_file(options, &path, slice)?;
        out.files += 1;
        start = end;
    }
    Ok(out)
}

fn file_path(
    options: &GenOptions,
    org: &str,
    account: &str,
    region: &str,
    window_start: i64,
    rng: &mut ChaCha8Rng,
) -> PathBuf {
    let (y, mo, d, h, mi, _, _) = Timestamp::from_secs(window_start).parts();
    match options.format {
        Format::S3 => {
            let suffix = record::random_chars(rng, record::ALNUM, 16);
            options.out.join(format!(
                "AWSLogs/{org}/{account}/CloudTrail/{region}/{y:04}/{mo:02}/{d:02}/{account}_CloudTrail_{region}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{suffix}.json.gz"
            ))
        }
        Format::Jsonl => options.out.join(format!(
            "jsonl/{account}/{account}_CloudTrail_{region}_{y:04}{mo:02}{d:02}.jsonl"
        )),
    }
}

fn write_file(options: &GenOptions, path: &Path, records: &[emit::Rendered]) -> Result<u64> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut text =
        String::with_capacity(records.iter().map(|r| r.json.len() + 1).sum::<usize>() + 16);
    match options.format {
        Format::S3 => {
            text.push_str("{\"Records\":[");
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&r.json);
            }
            text.push_str("]}");
            let file = fs::File::create(path).map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
            let mut gz = flate2::write::GzEncoder::new(
                std::io::BufWriter::with_capacity(1 << 16, file),
                flate2::Compression::new(options.gzip_level),
            );
            gz.write_all(text.as_bytes())
                .and_then(|()| gz.finish())
                .and_then(|mut w| w.flush())
                .map_err(|source| Error::Write {
                    path: path.to_owned(),
                    source,
                })?;
        }
        Format::Jsonl => {
            for r in records {
                text.push_str(&r.json);
                text.push('\n');
            }
            fs::write(path, &text).map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    Ok(text.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_csv_lists_every_network_as_a_range() {
        let csv = asn_csv(geo::NETWORKS);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("start_ip,end_ip,asn,org"));
        assert_eq!(
            lines.next(),
            Some("192.0.2.0,192.0.2.63,64496,\"Example Corp Offices\"")
        );
        assert_eq!(csv.lines().count(), geo::NETWORKS.len() + 1);
    }
}
