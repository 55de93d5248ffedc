//! Threat-intel lists: IP addresses and CIDR ranges (Tor exit nodes, VPN ranges, known-bad
//! addresses) and user agents, read from files with one entry per line and `#` comments.
//!
//! Authenticated calls from a listed address or with a listed user agent alert (kind
//! `intel`): the caller presented valid credentials (an identity that is not an AWS service),
//! even when the call was then refused (AccessDenied). Unauthenticated noise (invalid keys,
//! failed console sign-ins) is counted, and alerts only with `alert_unauthenticated`.
//!
//! ```
//! use trailhound_detect::intel::IpList;
//! let list = IpList::parse("tor", "# exits\n192.0.2.0/24\n198.51.100.7\n").unwrap();
//! assert!(list.contains("192.0.2.44".parse().unwrap()));
//! assert!(!list.contains("203.0.113.1".parse().unwrap()));
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use aho_corasick::{AhoCorasick, MatchKind};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, IdentityType, RuleKind, RuleRef, Severity};

use crate::{Detector, Error, Interest, Result, RuleDoc};

/// Rule id of IP-list matches.
pub const IP_RULE_ID: &str = "TH2401";
/// Rule id of user-agent-list matches.
pub const USER_AGENT_RULE_ID: &str = "TH2402";

/// `[intel]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntelConfig {
    /// Alert on unauthenticated calls from listed sources too (default: count only).
    pub alert_unauthenticated: bool,
    /// IP/CIDR lists (`[[intel.ip_lists]]`).
    pub ip_lists: Vec<IpListConfig>,
    /// User-agent lists (`[[intel.user_agent_lists]]`).
    pub user_agent_lists: Vec<UserAgentListConfig>,
}

/// One IP/CIDR list file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpListConfig {
    /// The list's name, shown in alerts (`tor-exit-nodes`).
    pub name: String,
    /// The file: one address or CIDR per line, `#` comments.
    pub path: PathBuf,
    /// Alert severity (default high).
    #[serde(default = "high")]
    pub severity: Severity,
}

/// One user-agent list file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAgentListConfig {
    /// The list's name, shown in alerts.
    pub name: String,
    /// The file: one user agent (or fragment) per line, `#` comments.
    pub path: PathBuf,
    /// `substring` (default, case-insensitive) or `exact`.
    #[serde(default)]
    pub r#match: UserAgentMatch,
    /// Alert severity (default medium).
    #[serde(default = "medium")]
    pub severity: Severity,
}

/// How user-agent entries match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserAgentMatch {
    /// The entry occurs in the user agent (case-insensitive).
    #[default]
    Substring,
    /// The user agent equals the entry.
    Exact,
}

fn high() -> Severity {
    Severity::High
}
fn medium() -> Severity {
    Severity::Medium
}

/// Lines of a list file: trimmed, without blanks and `#` comments (whole-line or trailing).
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or("").trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// An IP/CIDR list: merged, sorted ranges per address family, binary-searched.
#[derive(Debug, Clone)]
pub struct IpList {
    name: String,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn merge<T: Ord + Copy>(mut ranges: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut()
            && (start <= last.1 || next(last.1) == Some(start))
        {
            last.1 = last.1.max(end);
            continue;
        }
        out.push((start, end));
    }
    out
}

fn find<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= x);
    i > 0 && ranges[i - 1].1 >= x
}

impl IpList {
    /// Parses a list's text. Entries are addresses or CIDR ranges; lines may carry other
    /// columns after whitespace or a comma (the first column is used).
    ///
    /// # Errors
    /// [`Error::Config`] naming the line of the first bad entry.
    pub fn parse(name: &str, text: &str) -> Result<IpList> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (line, entry) in entries(text) {
            let entry = entry.split([' ', '\t', ',']).next().unwrap_or(entry);
            let net: IpNet = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(Error::Config {
                            detector: format!("intel.{name}"),
                            message: format!(
                                "line {line}: {entry:?} is not an IP address or CIDR range"
                            ),
                        });
                    }
                },
            };
            match net {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Ok(IpList {
            name: name.to_owned(),
            v4: merge(v4, |x: u32| x.checked_add(1)),
            v6: merge(v6, |x: u128| x.checked_add(1)),
        })
    }

    /// True when `ip` is in the list (IPv4-mapped IPv6 addresses are looked up as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(v6)),
            },
        }
    }

    /// How many merged ranges.
    #[must_use]
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The list's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A user-agent list.
#[derive(Debug, Clone)]
pub struct UserAgentList {
    name: String,
    mode: UserAgentMatch,
    patterns: Vec<String>,
    automaton: Option<AhoCorasick>,
}

impl UserAgentList {
    /// Parses a list's text.
    ///
    /// # Errors
    /// [`Error::Config`] when the automaton cannot be built.
    pub fn parse(name: &str, text: &str, mode: UserAgentMatch) -> Result<UserAgentList> {
        let patterns: Vec<String> = entries(text).map(|(_, e)| e.to_owned()).collect();
        let automaton = match mode {
            UserAgentMatch::Substring if !patterns.is_empty() => Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&patterns)
                    .map_err(|e| Error::Config {
                        detector: format!("intel.{name}"),
                        message: e.to_string(),
                    })?,
            ),
            _ => None,
        };
        Ok(UserAgentList {
            name: name.to_owned(),
            mode,
            patterns,
            automaton,
        })
    }

    /// The entry that matches `agent`, if any.
    #[must_use]
    pub fn find(&self, agent: &str) -> Option<&str> {
        self.find_index(agent)
            .and_then(|i| self.patterns.get(i))
            .map(String::as_str)
    }

    /// The index of the entry that matches `agent`, if any.
    fn find_index(&self, agent: &str) -> Option<usize> {
        match self.mode {
            UserAgentMatch::Exact => self.patterns.iter().position(|p| p.as_str() == agent),
            UserAgentMatch::Substring => {
                Some(self.automaton.as_ref()?.find(agent)?.pattern().as_usize())
            }
        }
    }
}

/// Counters of the intel detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntelStats {
    /// Authenticated calls that matched a list (alerted).
    pub authenticated_hits: u64,
    /// Unauthenticated calls that matched a list (counted; alerted only when configured).
    pub unauthenticated_hits: u64,
}

/// One list match.
struct Hit {
    rule_id: &'static str,
    name: &'static str,
    list: String,
    entry: String,
    severity: Severity,
}

/// The intel detector over every configured list.
#[derive(Debug)]
pub struct IntelDetector {
    ip_lists: Vec<(IpList, Severity)>,
    ua_lists: Vec<(UserAgentList, Severity)>,
    /// The user-agent lists' verdicts by user agent: (list, entry) pairs that match. A fleet
    /// sends a few thousand distinct user agents in millions of calls, and a lookup here is
    /// several times cheaper than running the automata over a 150-byte agent again.
    ua_seen: HashMap<Box<str>, Box<[ListEntry]>, FastHash>,
    alert_unauthenticated: bool,
    stats: IntelStats,
}

type FastHash = foldhash::fast::RandomState;

/// A user-agent list's index and the index of its matching entry.
type ListEntry = (u32, u32);

/// Distinct user agents whose verdicts are kept (about 10 MB at most); the cache starts over
/// when full.
const UA_CACHE: usize = 65_536;

impl IntelConfig {
    /// Reads the list files and builds the detector.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable file or a bad entry.
    pub fn build(&self) -> Result<IntelDetector> {
        let read = |name: &str, path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|e| Error::Config {
                detector: format!("intel.{name}"),
                message: format!("cannot read {}: {e}", path.display()),
            })
        };
        let mut ip_lists = Vec::new();
        for list in &self.ip_lists {
            ip_lists.push((
                IpList::parse(&list.name, &read(&list.name, &list.path)?)?,
                list.severity,
            ));
        }
        let mut ua_lists = Vec::new();
        for list in &self.user_agent_lists {
            ua_lists.push((
                UserAgentList::parse(&list.name, &read(&list.name, &list.path)?, list.r#match)?,
                list.severity,
            ));
        }
        Ok(IntelDetector::new(
            ip_lists,
            ua_lists,
            self.alert_unauthenticated,
        ))
    }
}

/// Error codes of calls whose credentials were not valid.
const UNAUTHENTICATED_ERRORS: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
];

/// True when the caller presented valid credentials: an identity that is not an AWS
/// service, and no error saying the credentials were invalid. A refused call (AccessDenied)
/// is authenticated; a failed console sign-in is not.
#[must_use]
pub fn is_authenticated(event: &Event) -> bool {
    let id = event.user_identity();
    if matches!(id.kind, IdentityType::Unknown | IdentityType::AWSService)
        || id.invoked_by.is_some()
    {
        return false;
    }
    if event
        .error_code()
        .is_some_and(|c| UNAUTHENTICATED_ERRORS.contains(&c))
    {
        return false;
    }
    if event.event_name() == "ConsoleLogin"
        && (event.error_message().is_some()
            || event
                .pointer("responseElements.ConsoleLogin")
                .and_then(|v| v.as_str())
                == Some("Failure"))
    {
        return false;
    }
    true
}

impl IntelDetector {
    /// A detector over parsed lists.
    #[must_use]
    pub fn new(
        ip_lists: Vec<(IpList, Severity)>,
        ua_lists: Vec<(UserAgentList, Severity)>,
        alert_unauthenticated: bool,
    ) -> Self {
        IntelDetector {
            ip_lists,
            ua_lists,
            ua_seen: HashMap::default(),
            alert_unauthenticated,
            stats: IntelStats::default(),
        }
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> IntelStats {
        self.stats
    }

    fn alert(event: &Event, hit: &Hit, authenticated: bool) -> Alert {
        let Hit {
            rule_id,
            name,
            list,
            entry,
            severity,
        } = hit;
        let (rule_id, name, severity) = (*rule_id, *name, *severity);
        let rule = RuleRef {
            id: rule_id.to_owned(),
            name: name.to_owned(),
            kind: RuleKind::Intel,
            author: None,
        };
        let what = if rule_id == IP_RULE_ID {
            format!("from {entry}")
        } else {
            format!("with user agent matching {entry:?}")
        };
        let auth = if authenticated {
            "authenticated"
        } else {
            "unauthenticated"
        };
        let title = format!(
            "{} by {} {what} (list {list})",
            event.event_name(),
            event.principal_name()
        );
        let why = format!(
            "{auth} call {what}, which is on the threat-intel list {list:?}{}",
            event
                .error_code()
                .map(|c| format!("; the call failed with {c}"))
                .unwrap_or_default()
        );
        let mut alert = Alert::for_event(
            rule,
            if authenticated {
                severity
            } else {
                Severity::Low
            },
            title,
            why,
            event,
        );
        alert.attack = vec!["T1078.004".to_owned(), "T1090.003".to_owned()];
        alert.runbook = "Valid credentials are in use from a listed source. Confirm with the principal's owner; if unexpected, disable the access key or revoke the role's sessions, and pivot on the address for other principals.".to_owned();
        alert.group_key = Some(format!(
            "{list}|{}|{}",
            event.principal_arn().unwrap_or(""),
            event.source().text
        ));
        alert.context.insert(
            "intel".into(),
            serde_json::json!({"list": list, "entry": entry, "authenticated": authenticated}),
        );
        alert.seal();
        alert
    }
}

impl Detector for IntelDetector {
    fn id(&self) -> &str {
        "intel"
    }

    fn interest(&self) -> Interest {
        Interest::all()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let mut hits: Vec<Hit> = Vec::new();
        if let Some(ip) = event.source_ip() {
            for (list, severity) in &self.ip_lists {
                if list.contains(ip) {
                    hits.push(Hit {
                        rule_id: IP_RULE_ID,
                        name: "call-from-listed-address",
                        list: list.name.clone(),
                        entry: ip.to_string(),
                        severity: *severity,
                    });
                }
            }
        }
        if let Some(agent) = event.user_agent()
            && !self.ua_lists.is_empty()
        {
            // One hash of the agent per event: the lists are searched on a miss only.
            let missed;
            let found: &[(u32, u32)] = match self.ua_seen.get(agent) {
                Some(found) => found,
                None => {
                    if self.ua_seen.len() >= UA_CACHE {
                        self.ua_seen.clear();
                    }
                    let found: Box<[(u32, u32)]> = (0u32..)
                        .zip(&self.ua_lists)
                        .filter_map(|(i, (list, _))| {
                            let entry = list.find_index(agent)?;
                            Some((i, u32::try_from(entry).ok()?))
                        })
                        .collect();
                    self.ua_seen.insert(agent.into(), found.clone());
                    missed = found;
                    &missed
                }
            };
            for &(list, entry) in found {
                let Some((list, severity)) = self.ua_lists.get(list as usize) else {
                    continue;
                };
                if let Some(entry) = list.patterns.get(entry as usize) {
                    hits.push(Hit {
                        rule_id: USER_AGENT_RULE_ID,
                        name: "call-with-listed-user-agent",
                        list: list.name.clone(),
                        entry: entry.clone(),
                        severity: *severity,
                    });
                }
            }
        }
        if hits.is_empty() {
            return;
        }
        let authenticated = is_authenticated(event);
        if authenticated {
            self.stats.authenticated_hits += 1;
        } else {
            self.stats.unauthenticated_hits += 1;
            if !self.alert_unauthenticated {
                return;
            }
        }
        for hit in &hits {
            out.push(Self::alert(event, hit, authenticated));
        }
    }

    fn advance(&mut self, watermark: trailhound_core::Timestamp, _out: &mut Vec<Alert>) {
        if watermark == trailhound_core::Timestamp::MAX && self.stats.unauthenticated_hits > 0 {
            tracing::info!(
                authenticated = self.stats.authenticated_hits,
                unauthenticated = self.stats.unauthenticated_hits,
                "threat-intel list matches (unauthenticated ones counted, not alerted)"
            );
        }
    }
}

/// The catalogue entries of the intel family.
#[must_use]
pub fn rule_docs() -> Vec<RuleDoc> {
    let doc = |id: &str, name: &str, title: &str, severity: Severity, description: &str| {
        RuleDoc {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: RuleKind::Intel,
        title: title.to_owned(),
        severity,
        attack: vec!["T1078.004".to_owned(), "T1090.003".to_owned()],
        description: description.to_owned(),
        why_it_matters: "Valid credentials used through anonymising networks or from known-hostile ranges are rarely legitimate.".to_owned(),
        tuning: "[intel] ip_lists / user_agent_lists files; alert_unauthenticated to alert on refused credentials too.".to_owned(),
        false_positives: vec!["Staff who use a listed VPN.".to_owned()],
        runbook: "Confirm with the principal's owner; disable keys or revoke sessions if unexpected.".to_owned(),
        references: vec!["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html".to_owned()],
        author: None,
        behaviours: vec!["Authenticated call from a Tor exit node, VPN or listed hostile IP range".to_owned()],
    }
    };
    vec![
        doc(
            IP_RULE_ID,
            "call-from-listed-address",
            "Authenticated call from a listed address",
            Severity::High,
            "An authenticated call whose sourceIPAddress is in a configured IP/CIDR list (Tor exit nodes, VPNs, known-bad ranges).",
        ),
        doc(
            USER_AGENT_RULE_ID,
            "call-with-listed-user-agent",
            "Authenticated call with a listed user agent",
            Severity::Medium,
            "An authenticated call whose userAgent matches a configured list (offensive tools, scanners).",
        ),
    ]
}
