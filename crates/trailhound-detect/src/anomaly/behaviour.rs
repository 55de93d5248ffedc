//! Per-entity behaviour baselines and the rarity, burst and location detectors built on them,
//! with the identity roll-up.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, IdentityType, Timestamp};

use super::AnomalyConfig;
use super::baseline::{CappedMap, Labels, stable_hash};
use super::finding::{AnomalyRule, Finding, severity_for_score};
use super::useragent::normalise_user_agent;
use crate::{Detector, Error, Interest, Result};

const SECS_PER_DAY: i64 = 86_400;
const STATE_VERSION: u32 = 1;
/// Most recent read or failed calls kept per principal for burst windows.
const BURST_WINDOW_CAP: usize = 256;
/// Error-message spike window (seconds).
const MESSAGE_WINDOW_SECS: i64 = 600;
/// Earlier console sign-ins a user needs before a new sign-in country is judged.
const CONSOLE_MIN_LOGINS: u32 = 5;
/// Rare write APIs of one principal within the roll-up window that make a roll-up alone.
const RARE_WRITE_RUN: usize = 3;
/// Evidence kept per roll-up.
const ROLLUP_CAP: usize = 20;

/// API names that enumerate or read secrets and that an intruder reaches for; a rare one of
/// these scores higher.
const SENSITIVE_APIS: &[&str] = &[
    "ListBuckets",
    "GetSecretValue",
    "ListSecrets",
    "GetCallerIdentity",
    "ListUsers",
    "ListRoles",
    "ListAccessKeys",
    "CreateAccessKey",
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "GetParametersByPath",
    "GetParameters",
    "Decrypt",
    "ListKeys",
    "PutBucketPolicy",
    "PutBucketAcl",
    "DeleteBucketPolicy",
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "GetPasswordData",
    "AssumeRole",
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
];

/// The busiest burst-window count of an entity. A window's count joins the norm only once the
/// window has passed, so a burst does not raise the bar it is judged against.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct BurstNorm {
    peak: u32,
    candidate: u32,
    since: i64,
}

impl BurstNorm {
    /// Commits the previous window's count when it is over.
    fn roll(&mut self, now: i64, window: i64) {
        if now - self.since > window {
            self.peak = self.peak.max(self.candidate);
            self.candidate = 0;
            self.since = now;
        }
    }

    fn record(&mut self, count: u32) {
        self.candidate = self.candidate.max(count);
    }
}

/// Per-principal baseline (a role across its sessions, a user, an access key's owner).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PrincipalState {
    name: std::sync::Arc<str>,
    first: i64,
    last: i64,
    events: u64,
    active_days: u32,
    last_day: i64,
    apis: CappedMap,
    countries: CappedMap,
    country_labels: Labels,
    asns: CappedMap,
    asn_labels: Labels,
    regions: CappedMap,
    region_labels: Labels,
    agents: CappedMap,
    agent_labels: Labels,
    sources: CappedMap,
    console_logins: u32,
    console_countries: CappedMap,
    recon: VecDeque<(i64, u64)>,
    /// Distinct keys in `recon`, kept as it moves (rebuilt after a restore).
    #[serde(skip)]
    recon_distinct: Option<u32>,
    recon_norm: BurstNorm,
    recon_quiet_until: i64,
    failed: VecDeque<i64>,
    failed_norm: BurstNorm,
    failed_quiet_until: i64,
}

/// Per-account baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountState {
    first: i64,
    events: u64,
    regions: CappedMap,
    region_labels: Labels,
    error_codes: CappedMap,
    messages: VecDeque<(i64, u64)>,
    /// Distinct keys in `messages`, kept as it moves (rebuilt after a restore).
    #[serde(skip)]
    messages_distinct: Option<u32>,
    message_norm: BurstNorm,
    message_quiet_until: i64,
}

/// Weak findings of one principal waiting in the roll-up window.
#[derive(Debug, Clone)]
struct Pending {
    opened: Timestamp,
    group: String,
    findings: Vec<Finding>,
    emitted: usize,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    principals: Vec<(u64, PrincipalState)>,
    accounts: Vec<(u64, AccountState)>,
}

/// The behaviour detector (id `anomaly-behaviour`): learns per principal and per account what
/// is usual (APIs, countries, ASNs, regions, user agents, console sign-ins, read and failure
/// rates, error codes) as events arrive in event time, and reports departures from it
/// (TH3001–TH3013). Weak findings of one principal are combined by the roll-up (TH3020).
///
/// ## What it detects
/// Rare API for a principal, new country or ASN, new region for an account or principal,
/// new user-agent family, first console login and console login from a new country,
/// reconnaissance bursts, bursts of failed calls on sensitive services, rare error codes and
/// error-message spikes of an account, and instance-role credentials used outside AWS.
///
/// ## Tuning
/// `[anomaly]`: `min_events`, `min_days` (warm-up), `strong_score`, `single_weak_min_score`,
/// `rollup_window_minutes`, `recon_*`, `failed_sensitive_min`, `error_message_spike_min`, and
/// the memory caps `max_principals`, `max_accounts`, `max_apis_per_principal`,
/// `max_values_per_principal`.
pub struct BehaviourDetector {
    config: AnomalyConfig,
    principals: HashMap<u64, PrincipalState>,
    accounts: HashMap<u64, AccountState>,
    pending: BTreeMap<u64, Pending>,
    /// User agent → (family, the family's baseline hash): one lookup per event instead of
    /// lowering, searching and formatting the agent each time. Not part of the baselines.
    agent_families: HashMap<Box<str>, (std::sync::Arc<str>, u64)>,
}

/// Distinct user agents whose family is remembered; the cache starts over beyond it.
const AGENT_FAMILY_CACHE: usize = 16_384;

impl std::fmt::Debug for BehaviourDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BehaviourDetector")
            .field("principals", &self.principals.len())
            .field("accounts", &self.accounts.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// The detector id of [`BehaviourDetector`].
pub const BEHAVIOUR_ID: &str = "anomaly-behaviour";

impl BehaviourDetector {
    /// A detector with empty baselines.
    #[must_use]
    pub fn new(config: AnomalyConfig) -> Self {
        BehaviourDetector {
            config,
            principals: HashMap::default(),
            accounts: HashMap::default(),
            pending: BTreeMap::new(),
            agent_families: HashMap::default(),
        }
    }

    /// The normalised family of a user agent and its baseline hash, remembered.
    fn agent_family(&mut self, agent: &str) -> (std::sync::Arc<str>, u64) {
        if let Some(known) = self.agent_families.get(agent) {
            return known.clone();
        }
        if self.agent_families.len() >= AGENT_FAMILY_CACHE {
            self.agent_families.clear();
        }
        let family = normalise_user_agent(agent);
        let hash = stable_hash(&family);
        let known = (std::sync::Arc::<str>::from(family), hash);
        self.agent_families.insert(agent.into(), known.clone());
        known
    }

    /// How many principals and accounts have a baseline.
    #[must_use]
    pub fn entity_counts(&self) -> (usize, usize) {
        (self.principals.len(), self.accounts.len())
    }

    /// An estimate of the heap bytes held by the baselines.
    #[must_use]
    pub fn approx_heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, PrincipalState)>() + 8;
        let principals: usize = self
            .principals
            .values()
            .map(|p| {
                entry
                    + p.name.len()
                    + 16
                    + p.apis.heap_bytes()
                    + p.countries.heap_bytes()
                    + p.asns.heap_bytes()
                    + p.regions.heap_bytes()
                    + p.agents.heap_bytes()
                    + p.sources.heap_bytes()
                    + p.console_countries.heap_bytes()
                    + p.recon.capacity() * 16
                    + p.failed.capacity() * 8
                    + (p.country_labels.as_slice().len()
                        + p.asn_labels.as_slice().len()
                        + p.region_labels.as_slice().len()
                        + p.agent_labels.as_slice().len())
                        * 40
            })
            .sum();
        let accounts = self.accounts.len() * (std::mem::size_of::<(u64, AccountState)>() + 512);
        principals + accounts
    }

    fn is_warm(&self, first: i64, events: u64, now: i64) -> bool {
        events >= u64::from(self.config.min_events)
            && now - first >= i64::from(self.config.min_days) * SECS_PER_DAY
    }

    fn evict_principals(&mut self) {
        let cap = self.config.max_principals.max(1);
        if self.principals.len() <= cap + cap / 10 {
            return;
        }
        let mut by_age: Vec<(i64, u64)> =
            self.principals.iter().map(|(k, p)| (p.last, *k)).collect();
        by_age.sort_unstable();
        let excess = self.principals.len() - cap;
        for (_, key) in by_age.into_iter().take(excess) {
            self.principals.remove(&key);
        }
        tracing::debug!(
            evicted = excess,
            "anomaly: forgot least recently seen principals"
        );
    }

    fn evict_accounts(&mut self) {
        let cap = self.config.max_accounts.max(1);
        if self.accounts.len() <= cap + cap / 10 {
            return;
        }
        let mut by_age: Vec<(i64, u64)> = self
            .accounts
            .iter()
            .map(|(k, a)| (a.first.saturating_add(a.events as i64), *k))
            .collect();
        by_age.sort_unstable();
        let excess = self.accounts.len() - cap;
        for (_, key) in by_age.into_iter().take(excess) {
            self.accounts.remove(&key);
        }
    }

    fn observe_account(&mut self, event: &Event, findings: &mut Vec<Finding>) {
        let Some(account) = event.account_id() else {
            return;
        };
        let key = stable_hash(account);
        let now = event.event_time().as_secs();
        let time = event.event_time();
        let values_cap = self.config.max_values_per_principal;
        let config = self.config.clone();
        let inserted = match self.accounts.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(AccountState {
                    first: now,
                    ..AccountState::default()
                });
                true
            }
            Entry::Occupied(_) => false,
        };
        if inserted {
            self.evict_accounts();
        }
        let Some(state) = self.accounts.get_mut(&key) else {
            return;
        };
        let warm = state.events >= u64::from(config.min_events)
            && now - state.first >= i64::from(config.min_days) * SECS_PER_DAY;
        let days = now.div_euclid(SECS_PER_DAY) - state.first.div_euclid(SECS_PER_DAY);
        let region = event.aws_region();
        if !region.is_empty() && !event.is_error() {
            let before = state.regions.touch(stable_hash(region), time, values_cap);
            if before.is_none() && warm && !state.regions.is_empty() {
                let usual = state.region_labels.joined();
                let mut context = serde_json::Map::new();
                context.insert("account".into(), account.into());
                context.insert("region".into(), region.into());
                context.insert(
                    "usual_regions".into(),
                    state.region_labels.as_slice().into(),
                );
                context.insert("baseline_days".into(), days.into());
                context.insert("baseline_events".into(), state.events.into());
                findings.push(Finding {
                    rule: AnomalyRule::NewRegionForAccount,
                    score: 50,
                    title: format!("{} in region {region}, new for account {account}", event.event_name()),
                    why: format!(
                        "region {region} used by account {account} for the first time in {days} days of \
                         {} events (usual: {usual})",
                        state.events
                    ),
                    context,
                    event: event.clone(),
                });
            }
            state.region_labels.add(region, values_cap);
        }
        if let Some(code) = event.error_code() {
            let before = state.error_codes.touch(stable_hash(code), time, 128);
            if before.is_none() && warm {
                let mut context = serde_json::Map::new();
                context.insert("account".into(), account.into());
                context.insert("error_code".into(), code.into());
                context.insert(
                    "known_error_codes".into(),
                    state.error_codes.len().saturating_sub(1).into(),
                );
                context.insert("baseline_days".into(), days.into());
                findings.push(Finding {
                    rule: AnomalyRule::RareErrorCode,
                    score: 35,
                    title: format!("error {code} on {} in account {account}, never seen before", event.event_name()),
                    why: format!(
                        "errorCode {code} never seen in account {account} in {days} days of {} events",
                        state.events
                    ),
                    context,
                    event: event.clone(),
                });
            }
            if let Some(message) = event.error_message() {
                let distinct = window_push(
                    &mut state.messages,
                    &mut state.messages_distinct,
                    (now, stable_hash(message)),
                    MESSAGE_WINDOW_SECS,
                );
                state.message_norm.roll(now, MESSAGE_WINDOW_SECS);
                let peak = state.message_norm.peak;
                let threshold = config.error_message_spike_min.max(peak.saturating_mul(2));
                if warm && distinct >= threshold && now >= state.message_quiet_until {
                    state.message_quiet_until = now + 3600;
                    let mut context = serde_json::Map::new();
                    context.insert("account".into(), account.into());
                    context.insert("distinct_messages_10m".into(), distinct.into());
                    context.insert("baseline_peak_10m".into(), peak.into());
                    findings.push(Finding {
                        rule: AnomalyRule::ErrorMessageSpike,
                        score: 50,
                        title: format!("{distinct} distinct error messages in 10 minutes in account {account}"),
                        why: format!(
                            "{distinct} distinct error messages in 10 minutes in account {account}; its busiest \
                             10 minutes so far had {peak}"
                        ),
                        context,
                        event: event.clone(),
                    });
                }
                if distinct < threshold {
                    state.message_norm.record(distinct);
                }
            }
        }
        state.events += 1;
    }

    #[allow(clippy::too_many_lines)]
    fn observe_principal(&mut self, event: &Event, key_text: &str, findings: &mut Vec<Finding>) {
        let key = stable_hash(key_text);
        let time = event.event_time();
        let now = time.as_secs();
        let config = self.config.clone();
        let values_cap = config.max_values_per_principal;
        let inserted = match self.principals.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(PrincipalState {
                    name: display_name(event, key_text).into(),
                    first: now,
                    last: now,
                    last_day: time.day_number(),
                    active_days: 1,
                    ..PrincipalState::default()
                });
                true
            }
            Entry::Occupied(_) => false,
        };
        if inserted {
            self.evict_principals();
        }
        let warm;
        let forget_secs = i64::from(config.forget_after_days) * SECS_PER_DAY;
        let console_login = event.event_name() == "ConsoleLogin";
        let agent = event
            .user_agent()
            .filter(|_| !event.source().is_aws_service() && !console_login)
            .map(|agent| (agent, self.agent_family(agent)));
        {
            let Some(state) = self.principals.get(&key) else {
                return;
            };
            warm = self.is_warm(state.first, state.events, now);
        }
        let Some(state) = self.principals.get_mut(&key) else {
            return;
        };
        let days = now.div_euclid(SECS_PER_DAY) - state.first.div_euclid(SECS_PER_DAY);
        let name = state.name.clone();
        let enrichment = event.enrichment();
        let base_context = |state: &PrincipalState| {
            let mut context = serde_json::Map::new();
            context.insert("principal".into(), key_text.into());
            context.insert("baseline_days".into(), days.into());
            context.insert("baseline_events".into(), state.events.into());
            context.insert("active_days".into(), state.active_days.into());
            context
        };
        let source_text = SourceText(event);

        // Rare API.
        let api_key =
            stable_hash(event.event_name()) ^ stable_hash(event.event_source()).rotate_left(17);
        let api_before = state.apis.get(api_key).copied();
        let api_is_new = api_before.is_none_or(|s| now - s.last > forget_secs);
        if warm && api_is_new && !console_login {
            let api_name = event.event_name();
            let score = if SENSITIVE_APIS.contains(&api_name) {
                55
            } else if api_name.starts_with("Delete") || api_name.contains("Policy") {
                50
            } else {
                40
            };
            let mut context = base_context(state);
            context.insert("event_name".into(), event.event_name().into());
            context.insert("calls_of_this_api".into(), 0.into());
            context.insert("distinct_apis".into(), state.apis.len().into());
            findings.push(Finding {
                rule: AnomalyRule::RareApi,
                score,
                title: format!("{} by {name}, never called by it before", event.event_name()),
                why: format!(
                    "{} by {name}: 0 calls in the previous {days} days of its {} calls; {source_text}",
                    event.event_name(),
                    state.events
                ),
                context,
                event: event.clone(),
            });
        }
        state
            .apis
            .touch(api_key, time, config.max_apis_per_principal);

        // Country and ASN.
        if let Some(enrichment) = enrichment {
            if let Some(country) = enrichment.country.as_deref() {
                let before = state
                    .countries
                    .touch(stable_hash(country), time, values_cap);
                let is_new = before.is_none_or(|s| now - s.last > forget_secs);
                if warm && is_new && !state.country_labels.as_slice().is_empty() {
                    let mut context = base_context(state);
                    context.insert("country".into(), country.into());
                    context.insert(
                        "usual_countries".into(),
                        state.country_labels.as_slice().into(),
                    );
                    findings.push(Finding {
                        rule: AnomalyRule::NewCountry,
                        score: 55,
                        title: format!("{} by {name} from {country}, a new country for it", event.event_name()),
                        why: format!(
                            "{} by {name}: {source_text}, never seen for this principal in {days} days of {} \
                             calls (usual: {})",
                            event.event_name(),
                            state.events,
                            state.country_labels.joined()
                        ),
                        context,
                        event: event.clone(),
                    });
                }
                state.country_labels.add(country, values_cap);
            }
            if let Some(asn) = enrichment.asn {
                let before = state.asns.touch(u64::from(asn), time, values_cap);
                let is_new = before.is_none_or(|s| now - s.last > forget_secs);
                if warm && is_new && !state.asn_labels.as_slice().is_empty() {
                    let mut context = base_context(state);
                    context.insert("asn".into(), asn.into());
                    context.insert(
                        "as_org".into(),
                        enrichment.as_org.as_deref().unwrap_or("").into(),
                    );
                    context.insert("usual_asns".into(), state.asn_labels.as_slice().into());
                    findings.push(Finding {
                        rule: AnomalyRule::NewAsn,
                        score: 45,
                        title: format!("{} by {name} from AS{asn}, a new network for it", event.event_name()),
                        why: format!(
                            "{} by {name}: {source_text}, AS never seen for this principal in {days} days of \
                             {} calls (usual: {})",
                            event.event_name(),
                            state.events,
                            state.asn_labels.joined()
                        ),
                        context,
                        event: event.clone(),
                    });
                }
                state
                    .asn_labels
                    .add(as_label(asn, &mut [0; 12]), values_cap);
            }
        }

        // Region for the principal.
        let region = event.aws_region();
        if !region.is_empty() && !event.is_error() {
            let before = state.regions.touch(stable_hash(region), time, values_cap);
            let is_new = before.is_none_or(|s| now - s.last > forget_secs);
            if warm && is_new && !state.region_labels.as_slice().is_empty() {
                let mut context = base_context(state);
                context.insert("region".into(), region.into());
                context.insert(
                    "usual_regions".into(),
                    state.region_labels.as_slice().into(),
                );
                findings.push(Finding {
                    rule: AnomalyRule::NewRegionForPrincipal,
                    score: 30,
                    title: format!("{} by {name} in region {region}, new for it", event.event_name()),
                    why: format!(
                        "{} by {name} in {region}: region never used by it in {days} days of {} calls \
                         (usual: {})",
                        event.event_name(),
                        state.events,
                        state.region_labels.joined()
                    ),
                    context,
                    event: event.clone(),
                });
            }
            state.region_labels.add(region, values_cap);
        }

        // User agent family.
        if let Some((agent, (family, family_hash))) = agent {
            let before = state.agents.touch(family_hash, time, values_cap);
            let is_new = before.is_none_or(|s| now - s.last > forget_secs);
            if warm && is_new && !state.agent_labels.as_slice().is_empty() {
                let mut context = base_context(state);
                context.insert("user_agent".into(), agent.into());
                context.insert("user_agent_family".into(), (&*family).into());
                context.insert(
                    "usual_user_agents".into(),
                    state.agent_labels.as_slice().into(),
                );
                findings.push(Finding {
                    rule: AnomalyRule::UnusualUserAgent,
                    score: 35,
                    title: format!("{} by {name} with {family}, a new tool for it", event.event_name()),
                    why: format!(
                        "{} by {name} with user agent {family}: never used by it in {days} days of {} calls \
                         (usual: {})",
                        event.event_name(),
                        state.events,
                        state.agent_labels.joined()
                    ),
                    context,
                    event: event.clone(),
                });
            }
            state.agent_labels.add(&family, values_cap);
        }

        // Console sign-in.
        if event.event_name() == "ConsoleLogin" && !event.is_error() {
            let country = enrichment.and_then(|e| e.country.as_deref());
            if warm && state.console_logins == 0 {
                let mut context = base_context(state);
                context.insert("console_logins".into(), 0.into());
                findings.push(Finding {
                    rule: AnomalyRule::FirstConsoleLogin,
                    score: 50,
                    title: format!("first console sign-in of {name}"),
                    why: format!(
                        "console sign-in by {name}: 0 sign-ins in {days} days of its {} calls; {source_text}",
                        state.events
                    ),
                    context,
                    event: event.clone(),
                });
            } else if let Some(country) = country {
                let known = state.console_countries.get(stable_hash(country)).is_some();
                if warm && state.console_logins >= CONSOLE_MIN_LOGINS && !known {
                    let mut context = base_context(state);
                    context.insert("country".into(), country.into());
                    context.insert("console_logins".into(), state.console_logins.into());
                    context.insert(
                        "usual_countries".into(),
                        state.country_labels.as_slice().into(),
                    );
                    findings.push(Finding {
                        rule: AnomalyRule::ConsoleLoginNewCountry,
                        score: 75,
                        title: format!("console sign-in of {name} from {country}, a new country for it"),
                        why: format!(
                            "console sign-in by {name}: {source_text}; its {} earlier sign-ins never came \
                             from {country}",
                            state.console_logins
                        ),
                        context,
                        event: event.clone(),
                    });
                }
            }
            if let Some(country) = country {
                state
                    .console_countries
                    .touch(stable_hash(country), time, values_cap);
            }
            state.console_logins = state.console_logins.saturating_add(1);
        }

        // Reconnaissance burst.
        let window = i64::from(config.recon_window_minutes.max(1)) * 60;
        if is_recon_call(event.event_name()) {
            let distinct = window_push(
                &mut state.recon,
                &mut state.recon_distinct,
                (now, api_key),
                window,
            );
            state.recon_norm.roll(now, window);
            let peak = state.recon_norm.peak;
            let threshold = config
                .recon_min_distinct
                .max((f64::from(peak) * config.recon_norm_factor).ceil() as u32);
            if warm && distinct >= threshold && now >= state.recon_quiet_until {
                state.recon_quiet_until = now + 3600;
                let mut context = base_context(state);
                context.insert("distinct_read_calls".into(), distinct.into());
                context.insert("window_minutes".into(), config.recon_window_minutes.into());
                context.insert("baseline_peak".into(), peak.into());
                findings.push(Finding {
                    rule: AnomalyRule::ReconBurst,
                    score: 75,
                    title: format!("{name} made {distinct} distinct List/Describe/Get calls in {} minutes", config.recon_window_minutes),
                    why: format!(
                        "{distinct} distinct List/Describe/Get calls by {name} within {} minutes; its busiest \
                         window in {days} days had {}; {source_text}",
                        config.recon_window_minutes, peak
                    ),
                    context,
                    event: event.clone(),
                });
            } else if distinct < threshold {
                state.recon_norm.record(distinct);
            }
        }

        // Failed calls on sensitive services.
        if event.is_error() && is_sensitive_call(event.event_source(), event.event_name()) {
            state.failed.push_back(now);
            while state.failed.front().is_some_and(|t| now - t > window)
                || state.failed.len() > BURST_WINDOW_CAP
            {
                state.failed.pop_front();
            }
            let count = state.failed.len() as u32;
            state.failed_norm.roll(now, window);
            let peak = state.failed_norm.peak;
            let threshold = config.failed_sensitive_min.max(peak.saturating_mul(2));
            if warm && count >= threshold && now >= state.failed_quiet_until {
                state.failed_quiet_until = now + 3600;
                let mut context = base_context(state);
                context.insert("failed_calls".into(), count.into());
                context.insert("window_minutes".into(), config.recon_window_minutes.into());
                context.insert("baseline_peak".into(), peak.into());
                findings.push(Finding {
                    rule: AnomalyRule::FailedSensitiveBurst,
                    score: 70,
                    title: format!("{count} failed calls on sensitive services by {name}"),
                    why: format!(
                        "{count} failed iam/kms/secretsmanager/sts/s3-policy calls by {name} within {} minutes \
                         (last: {} {}); its busiest window in {days} days had {}",
                        config.recon_window_minutes,
                        event.event_name(),
                        event.error_code().unwrap_or(""),
                        peak
                    ),
                    context,
                    event: event.clone(),
                });
            } else if count < threshold {
                state.failed_norm.record(count);
            }
        }

        // Instance credentials outside AWS.
        if let Some(ip) = event.source_ip() {
            let ip_key = match ip {
                IpAddr::V4(v4) => u64::from(u32::from(v4)),
                IpAddr::V6(v6) => {
                    let bits = u128::from(v6);
                    (bits as u64) ^ ((bits >> 64) as u64).rotate_left(1) ^ (1 << 63)
                }
            };
            if is_instance_credential(event) && is_public(ip) {
                let cloud = enrichment.and_then(|e| e.cloud.as_deref());
                let in_aws = cloud.is_some_and(|c| c.starts_with("aws"));
                let asn = enrichment.and_then(|e| e.asn);
                let known_network = match asn {
                    Some(asn) => state.asns.get(u64::from(asn)).is_some_and(|s| s.count > 1),
                    None => state.sources.get(ip_key).is_some(),
                };
                if !in_aws && !known_network && state.events > 0 {
                    let mut context = base_context(state);
                    context.insert("source_ip".into(), ip.to_string().into());
                    context.insert("known_networks".into(), state.asn_labels.as_slice().into());
                    context.insert("known_source_addresses".into(), state.sources.len().into());
                    findings.push(Finding {
                        rule: AnomalyRule::InstanceCredentialsOutside,
                        score: 90,
                        title: format!("instance credentials of {name} used from {ip} outside AWS"),
                        why: format!(
                            "{} with instance-role credentials of {name}: {source_text}, not an AWS range nor \
                             a network this role used in {days} days of {} calls",
                            event.event_name(),
                            state.events
                        ),
                        context,
                        event: event.clone(),
                    });
                }
            }
            state.sources.touch(ip_key, time, values_cap);
        }

        state.events += 1;
        state.last = state.last.max(now);
        let day = time.day_number();
        if day > state.last_day {
            state.last_day = day;
            state.active_days = state.active_days.saturating_add(1);
        }
    }

    fn route(&mut self, findings: Vec<Finding>, principal: &str, out: &mut Vec<Alert>) {
        let strong = self.config.strong_score;
        let key = stable_hash(principal);
        let window_ms = i64::from(self.config.rollup_window_minutes.max(1)) * 60_000;
        let mut touched = false;
        for finding in findings {
            if finding.score >= strong {
                out.push(finding.to_alert(principal));
                continue;
            }
            let time = finding.event.event_time();
            let expired = self
                .pending
                .get(&key)
                .is_some_and(|p| time.millis_since(p.opened) > window_ms);
            if expired && let Some(done) = self.pending.remove(&key) {
                self.close(done, out);
            }
            let pending = self.pending.entry(key).or_insert_with(|| Pending {
                opened: time,
                group: principal.to_owned(),
                findings: Vec::new(),
                emitted: 0,
            });
            if pending.findings.len() < ROLLUP_CAP {
                // Kept for the roll-up window: its own copy of the record, not its file.
                let event = finding.event.detach();
                pending.findings.push(Finding { event, ..finding });
            }
            touched = true;
        }
        if !touched {
            return;
        }
        let min = self.config.rollup_min_anomalies.max(2);
        if let Some(pending) = self.pending.get_mut(&key) {
            let kinds = distinct_count(pending.findings.iter().map(|f| f.rule as u64));
            // Two kinds of anomaly on at least two events, three kinds at once, or a run of
            // rare write APIs.
            let events = distinct_count(
                pending
                    .findings
                    .iter()
                    .map(|f| stable_hash(f.event.event_id())),
            );
            let rare_writes = pending
                .findings
                .iter()
                .filter(|f| f.rule == AnomalyRule::RareApi && f.event.read_only() == Some(false))
                .count();
            let enough = (kinds >= 2 && events >= 2 && pending.findings.len() >= min)
                || kinds >= 3
                || rare_writes >= RARE_WRITE_RUN;
            if pending.emitted == 0 && enough {
                out.extend(rollup_alert(pending));
                pending.emitted = pending.findings.len();
            }
        }
    }

    fn close(&self, pending: Pending, out: &mut Vec<Alert>) {
        if pending.emitted > 0 {
            if pending.findings.len() > pending.emitted {
                out.extend(rollup_alert(&pending));
            }
            return;
        }
        for finding in &pending.findings {
            if finding.score >= self.config.single_weak_min_score {
                out.push(finding.to_alert(&pending.group));
            }
        }
    }
}

fn rollup_alert(pending: &Pending) -> Option<Alert> {
    let first = pending.findings.first()?;
    let mut miss = 1.0f64;
    for finding in &pending.findings {
        miss *= 1.0 - f64::from(finding.score.min(99)) / 100.0;
    }
    let score = ((1.0 - miss) * 100.0).round().clamp(0.0, 95.0) as u8;
    let name = first
        .title
        .split(" by ")
        .nth(1)
        .map_or(pending.group.as_str(), |rest| {
            rest.split([',', ' ']).next().unwrap_or(rest)
        });
    let mut kinds: Vec<&str> = pending.findings.iter().map(|f| f.rule.name()).collect();
    kinds.dedup();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let title = format!(
        "{} anomalies of {name} within an hour: {}",
        pending.findings.len(),
        sorted.join(", ")
    );
    let why = pending
        .findings
        .iter()
        .map(|f| f.why.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut alert = Alert::for_event(
        AnomalyRule::Rollup.rule_ref(),
        severity_for_score(score),
        title,
        why,
        &first.event,
    );
    for finding in pending.findings.iter().skip(1) {
        alert.add_event(&finding.event);
    }
    alert.attack = AnomalyRule::Rollup
        .attack()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    alert.score = Some(score);
    alert.runbook = super::finding::runbook(AnomalyRule::Rollup).to_owned();
    alert
        .context
        .insert("principal".into(), pending.group.as_str().into());
    alert.context.insert(
        "evidence".into(),
        serde_json::Value::Array(pending.findings.iter().map(Finding::evidence).collect()),
    );
    alert.group_key = Some(format!("{}|{}", pending.group, pending.opened));
    alert.seal();
    Some(alert)
}

/// Appends `(time, key)` to a burst window, drops what is older than `span` seconds or past
/// [`BURST_WINDOW_CAP`], and returns the number of distinct keys left. The count is kept up
/// to date by scanning the (at most 256) keys on each push and pop: this runs for every
/// read-only call, where collecting and sorting the window cost more than the rest of the
/// baseline update.
fn window_push(
    window: &mut VecDeque<(i64, u64)>,
    distinct: &mut Option<u32>,
    (now, key): (i64, u64),
    span: i64,
) -> u32 {
    let mut count = distinct.unwrap_or_else(|| distinct_count(window.iter().map(|(_, k)| *k)));
    if !window.iter().any(|(_, k)| *k == key) {
        count += 1;
    }
    window.push_back((now, key));
    while window.front().is_some_and(|(t, _)| now - t > span) || window.len() > BURST_WINDOW_CAP {
        if let Some((_, gone)) = window.pop_front()
            && !window.iter().any(|(_, k)| *k == gone)
        {
            count = count.saturating_sub(1);
        }
    }
    *distinct = Some(count);
    count
}

fn distinct_count(values: impl Iterator<Item = u64>) -> u32 {
    let mut all: Vec<u64> = values.collect();
    all.sort_unstable();
    all.dedup();
    all.len() as u32
}

/// The entity a principal baseline keys on: a role across its sessions (the session issuer),
/// except Identity Center permission-set roles (`AWSReservedSSO_…`), which many people share:
/// there the session (the person) is the entity. AWS services have none.
fn baseline_key(event: &Event) -> Option<&str> {
    let id = event.user_identity();
    if id.kind == IdentityType::AWSService {
        return None;
    }
    let shared_role = id
        .session_issuer
        .as_ref()
        .and_then(|s| s.user_name.as_deref())
        .is_some_and(|name| name.starts_with("AWSReservedSSO_"));
    if id.kind == IdentityType::AssumedRole && shared_role {
        return event.principal_arn();
    }
    event.principal_key()
}

/// `AS{asn}`, written into `buf`: this label is made for every event from an address, and
/// a `format!` was an allocation each time.
fn as_label(asn: u32, buf: &mut [u8; 12]) -> &str {
    // Ten digits at most, after "AS".
    let mut at = buf.len();
    let mut rest = asn;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    at -= 2;
    buf[at] = b'A';
    buf[at + 1] = b'S';
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

fn display_name(event: &Event, key: &str) -> String {
    let id = event.user_identity();
    let last = key.rsplit(['/', ':']).next().unwrap_or(key);
    match id.kind {
        IdentityType::AssumedRole if key.contains(":assumed-role/") => {
            let mut parts = key.rsplit('/');
            let session = parts.next().unwrap_or(key);
            let role = parts.next().unwrap_or("");
            format!("{session} (role {role})")
        }
        IdentityType::AssumedRole | IdentityType::Role => format!("role {last}"),
        IdentityType::IAMUser => format!("user {last}"),
        IdentityType::Root => "root".to_owned(),
        _ => last.to_owned(),
    }
}

/// "source ADDRESS in ASN 'ORG', country CC, CLOUD", written only when a finding needs it.
struct SourceText<'a>(&'a Event);

impl std::fmt::Display for SourceText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "source {}", self.0.source().text)?;
        if let Some(e) = self.0.enrichment() {
            if let Some(asn) = e.asn {
                write!(f, " in AS{asn}")?;
                if let Some(org) = e.as_org.as_deref() {
                    write!(f, " '{org}'")?;
                }
            }
            if let Some(country) = e.country.as_deref() {
                write!(f, ", country {country}")?;
            }
            if let Some(cloud) = e.cloud.as_deref() {
                write!(f, ", {cloud}")?;
            }
        }
        Ok(())
    }
}

/// True for List/Describe/Get-style read calls.
fn is_recon_call(name: &str) -> bool {
    name.starts_with("List") || name.starts_with("Describe") || name.starts_with("Get")
}

/// True for calls on sensitive services: iam, kms, secretsmanager, sts, and S3 policy APIs.
fn is_sensitive_call(source: &str, name: &str) -> bool {
    match source {
        "iam.amazonaws.com"
        | "kms.amazonaws.com"
        | "secretsmanager.amazonaws.com"
        | "sts.amazonaws.com" => true,
        "s3.amazonaws.com" => {
            name.contains("Policy") || name.contains("Acl") || name.contains("PublicAccessBlock")
        }
        _ => false,
    }
}

/// Instance-role credentials: `ec2RoleDelivery` present, or an assumed-role session whose
/// principal id ends with an instance id and whose key is temporary.
fn is_instance_credential(event: &Event) -> bool {
    let id = event.user_identity();
    if id.ec2_role_delivery.is_some() {
        return true;
    }
    id.kind == IdentityType::AssumedRole
        && id
            .access_key_id
            .as_deref()
            .is_some_and(|k| k.starts_with("ASIA"))
        && id
            .principal_id
            .as_deref()
            .and_then(|p| p.rsplit_once(':'))
            .is_some_and(|(_, session)| session.starts_with("i-"))
}

/// True for globally routable addresses (not private, loopback, link-local, CGNAT, unique
/// local).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

impl Detector for BehaviourDetector {
    fn id(&self) -> &str {
        BEHAVIOUR_ID
    }

    fn learns_baselines(&self) -> bool {
        true
    }

    fn interest(&self) -> Interest {
        Interest::all()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.is_insight() {
            return;
        }
        let mut findings = Vec::new();
        self.observe_account(event, &mut findings);
        let principal = baseline_key(event);
        if let Some(principal) = principal {
            self.observe_principal(event, principal, &mut findings);
        }
        if findings.is_empty() {
            return;
        }
        let group = principal
            .or_else(|| event.account_id())
            .unwrap_or_default()
            .to_owned();
        self.route(findings, &group, out);
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        let window_ms = i64::from(self.config.rollup_window_minutes.max(1)) * 60_000;
        let closing: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| watermark.millis_since(p.opened) > window_ms)
            .map(|(k, _)| *k)
            .collect();
        for key in closing {
            if let Some(pending) = self.pending.remove(&key) {
                self.close(pending, out);
            }
        }
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        let mut principals: Vec<(u64, PrincipalState)> = self
            .principals
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        principals.sort_unstable_by_key(|(k, _)| *k);
        let mut accounts: Vec<(u64, AccountState)> =
            self.accounts.iter().map(|(k, v)| (*k, v.clone())).collect();
        accounts.sort_unstable_by_key(|(k, _)| *k);
        serde_json::to_value(SavedState {
            version: STATE_VERSION,
            principals,
            accounts,
        })
        .ok()
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let saved: SavedState = serde_json::from_value(state).map_err(|e| Error::State {
            detector: BEHAVIOUR_ID.to_owned(),
            message: e.to_string(),
        })?;
        if saved.version != STATE_VERSION {
            return Err(Error::State {
                detector: BEHAVIOUR_ID.to_owned(),
                message: format!(
                    "state version {} is not supported (expected {STATE_VERSION})",
                    saved.version
                ),
            });
        }
        self.principals = saved.principals.into_iter().collect();
        self.accounts = saved.accounts.into_iter().collect();
        self.evict_principals();
        self.evict_accounts();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn as_labels_are_written_in_place() {
        for asn in [0, 7, 16509, u32::MAX] {
            assert_eq!(as_label(asn, &mut [0; 12]), format!("AS{asn}"));
        }
    }

    use super::*;

    #[test]
    fn burst_window_distinct_count_matches_a_recount() {
        // A deterministic mix of repeats, expiries and overflow past the cap.
        let mut window = VecDeque::new();
        let mut distinct = None;
        let mut seed: u64 = 7;
        for step in 0..5_000i64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = (seed >> 33) % 40 + if step > 2_500 { 100 } else { 0 };
            let now = step * 3 + i64::try_from(seed % 5).unwrap();
            let got = window_push(&mut window, &mut distinct, (now, key), 120);
            assert_eq!(
                got,
                distinct_count(window.iter().map(|(_, k)| *k)),
                "step {step}"
            );
            assert!(window.len() <= BURST_WINDOW_CAP);
            if step == 1_000 {
                // After a restore the count is rebuilt from the window.
                distinct = None;
            }
        }
    }

    #[test]
    fn classifies_calls_and_addresses() {
        assert!(is_recon_call("ListBuckets"));
        assert!(!is_recon_call("PutObject"));
        assert!(is_sensitive_call("iam.amazonaws.com", "GetUser"));
        assert!(is_sensitive_call("s3.amazonaws.com", "GetBucketPolicy"));
        assert!(!is_sensitive_call("s3.amazonaws.com", "GetObject"));
        assert!(!is_public("10.1.2.3".parse().unwrap()));
        assert!(!is_public("100.64.0.1".parse().unwrap()));
        assert!(is_public("203.0.113.9".parse().unwrap()));
        assert!(!is_public("fd00::1".parse().unwrap()));
    }
}
