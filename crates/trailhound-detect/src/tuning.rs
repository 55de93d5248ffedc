//! Tuning without editing rules: per-rule enable/disable and severity override, exceptions
//! as data, and known-benign presets, applied to alerts before they leave the engine.
//!
//! The `[tuning]` section of the configuration deserialises into [`TuningConfig`];
//! [`TuningConfig::build`] validates it into a [`Tuning`], and [`Tuning::wrap`] puts a
//! [`Tuned`] detector around each detector so that every alert is checked against the event
//! that triggered it (for alerts raised when a window closes, against the alert's entity).
//!
//! An exception matches when **every** criterion it names matches (a criterion lists
//! alternatives: any of them may match), and only while the event time is before its
//! `expires`. Every exception carries a `reason`, shown in logs when it drops an alert.
//!
//! ```
//! use trailhound_detect::tuning::TuningConfig;
//! let config: TuningConfig = toml::from_str(r#"
//!     presets = ["service-linked-roles"]
//!     disabled = ["TH1038"]
//!     [rules.TH1023]
//!     severity = "medium"
//!     [[exceptions]]
//!     rules = ["inline-policy-put"]
//!     roles = ["github-deploy"]
//!     reason = "the CI role deploys inline policies"
//!     expires = "2027-06-30"
//! "#).unwrap();
//! let tuning = config.build().unwrap();
//! assert!(!tuning.is_enabled("TH1038", "security-group-changed"));
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, IdentityType, Severity, Timestamp};

use crate::glob::Glob;
use crate::{Detector, Error, Interest, Result};

/// The `[tuning]` configuration section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningConfig {
    /// Known-benign presets to switch on, by name: `aws-service-principals`,
    /// `service-linked-roles`, `security-scanners` (see [`PRESETS`]).
    #[serde(default)]
    pub presets: Vec<String>,
    /// Rules switched off, by id (`TH1038`) or name (`security-group-changed`).
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Per-rule settings, keyed by rule id or name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleTuning>,
    /// Exceptions for any rule (narrow them with `rules`).
    #[serde(default)]
    pub exceptions: Vec<ExceptionConfig>,
}

/// Settings of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTuning {
    /// `false` switches the rule off (same as listing it in `disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Severity to report instead of the rule's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Exceptions of this rule only (their `rules` must be empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionConfig>,
}

/// One exception: alerts whose triggering event matches every listed criterion are dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionConfig {
    /// Rule ids or names it applies to; empty means every rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Principal ARN globs (`*` wildcard), matched against the principal ARN and, for role
    /// sessions, the role ARN (`arn:aws:iam::123456789012:role/github-deploy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// Role-name globs (`github-deploy`, `AWSReservedSSO_ReadOnly_*`), matched against the
    /// role of an assumed-role session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// User-agent globs, case-insensitive (`*prowler*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<String>,
    /// Source networks (`192.0.2.0/24`, `2001:db8::/32`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_cidrs: Vec<IpNet>,
    /// `sourceIPAddress` globs for non-address sources (`*.amazonaws.com`, `AWS Internal`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Source autonomous system numbers (needs ASN enrichment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asns: Vec<u32>,
    /// Account ids where the event happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// `userIdentity.type` values (`AWSService`, `Root`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_types: Vec<String>,
    /// `userIdentity.invokedBy` globs (`*` = any AWS service acting for the principal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoked_by: Vec<String>,
    /// Why this is benign; required, and logged when the exception drops an alert.
    #[serde(default)]
    pub reason: String,
    /// The exception stops applying to events at or after this time (RFC 3339 or a date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A known-benign preset: a name, what it covers, and its exceptions.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name used in `presets = [...]`.
    pub name: &'static str,
    /// What it suppresses, in one line.
    pub description: &'static str,
    /// Its exceptions.
    pub exceptions: fn() -> Vec<ExceptionConfig>,
}

/// The presets users can switch on by name.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "aws-service-principals",
        description: "AWS services acting on their own or for a principal: userIdentity.type AWSService, \
                      any userIdentity.invokedBy, sourceIPAddress or userAgent `AWS Internal` or a \
                      service name (`*.amazonaws.com`)",
        exceptions: aws_service_exceptions,
    },
    Preset {
        name: "service-linked-roles",
        description: "Sessions of service-linked roles (`AWSServiceRoleFor*`, path /aws-service-role/)",
        exceptions: service_linked_role_exceptions,
    },
    Preset {
        name: "security-scanners",
        description: "Read-only posture scanners by user agent (Prowler, ScoutSuite, Steampipe, \
                      CloudSploit, CloudQuery, Cartography); user agents can be forged, so this \
                      applies only to read-only calls and windowed recon rules",
        exceptions: scanner_exceptions,
    },
];

fn preset_exception(reason: &str) -> ExceptionConfig {
    ExceptionConfig {
        reason: reason.to_owned(),
        ..ExceptionConfig::default()
    }
}

fn aws_service_exceptions() -> Vec<ExceptionConfig> {
    let reason = "preset aws-service-principals";
    vec![
        ExceptionConfig {
            identity_types: vec!["AWSService".into()],
            ..preset_exception(reason)
        },
        ExceptionConfig {
            invoked_by: vec!["*".into()],
            ..preset_exception(reason)
        },
        ExceptionConfig {
            sources: vec!["AWS Internal".into(), "*.amazonaws.com".into()],
            ..preset_exception(reason)
        },
        ExceptionConfig {
            user_agents: vec!["AWS Internal".into(), "*.amazonaws.com".into()],
            ..preset_exception(reason)
        },
    ]
}

fn service_linked_role_exceptions() -> Vec<ExceptionConfig> {
    let reason = "preset service-linked-roles";
    vec![
        ExceptionConfig {
            roles: vec!["AWSServiceRoleFor*".into()],
            ..preset_exception(reason)
        },
        ExceptionConfig {
            principals: vec!["arn:aws:iam::*:role/aws-service-role/*".into()],
            ..preset_exception(reason)
        },
    ]
}

/// Rules no preset silences: they detect AWS itself acting on a finding (the compromised-key
/// quarantine policy is attached by AWS, from `AWS Internal`).
pub const PRESET_NEVER_SILENCES: &[&str] = &["TH1079"];

/// Rules the scanner preset may silence: windowed recon rules and read-only single events.
const SCANNER_RULES: &[&str] = &["TH2001", "TH2004", "TH2005", "TH1090"];

fn scanner_exceptions() -> Vec<ExceptionConfig> {
    vec![ExceptionConfig {
        rules: SCANNER_RULES.iter().map(|s| (*s).to_owned()).collect(),
        user_agents: [
            "*prowler*",
            "*scoutsuite*",
            "*steampipe*",
            "*cloudsploit*",
            "*cloudquery*",
            "*cartography*",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        ..preset_exception("preset security-scanners")
    }]
}

/// A validated exception.
#[derive(Debug, Clone)]
struct Exception {
    rules: Vec<String>,
    principals: Vec<Glob>,
    roles: Vec<Glob>,
    user_agents: Vec<Glob>,
    source_cidrs: Vec<IpNet>,
    sources: Vec<Glob>,
    asns: Vec<u32>,
    accounts: Vec<String>,
    identity_types: Vec<String>,
    invoked_by: Vec<Glob>,
    reason: Arc<str>,
    expires: Option<Timestamp>,
    /// Rules a preset never silences (set by presets only).
    never_rules: &'static [&'static str],
}

impl ExceptionConfig {
    fn has_criteria(&self) -> bool {
        !(self.principals.is_empty()
            && self.roles.is_empty()
            && self.user_agents.is_empty()
            && self.source_cidrs.is_empty()
            && self.sources.is_empty()
            && self.asns.is_empty()
            && self.accounts.is_empty()
            && self.identity_types.is_empty()
            && self.invoked_by.is_empty())
    }

    fn build(&self, context: &str) -> Result<Exception> {
        let invalid = |message: String| Error::Config {
            detector: format!("tuning {context}"),
            message,
        };
        if self.reason.trim().is_empty() {
            return Err(invalid("every exception needs a reason".to_owned()));
        }
        if !self.has_criteria() {
            return Err(invalid(format!(
                "exception {:?} names no criterion (principals, roles, user_agents, source_cidrs, sources, asns, accounts, identity_types, invoked_by)",
                self.reason
            )));
        }
        let expires = match &self.expires {
            None => None,
            Some(text) => Some(Timestamp::parse(text).map_err(|error| {
                invalid(format!("exception {:?}: expires: {error}", self.reason))
            })?),
        };
        let globs = |patterns: &[String]| patterns.iter().map(|p| Glob::new(p)).collect();
        Ok(Exception {
            rules: self.rules.clone(),
            principals: globs(&self.principals),
            roles: globs(&self.roles),
            user_agents: self
                .user_agents
                .iter()
                .map(|p| Glob::new(&p.to_lowercase()))
                .collect(),
            source_cidrs: self.source_cidrs.clone(),
            sources: globs(&self.sources),
            asns: self.asns.clone(),
            accounts: self.accounts.clone(),
            identity_types: self.identity_types.clone(),
            invoked_by: globs(&self.invoked_by),
            reason: Arc::from(self.reason.trim()),
            expires,
            never_rules: &[],
        })
    }
}

/// What an exception is checked against: the triggering event, or the entity of an alert
/// raised when a window closed.
#[derive(Debug, Default)]
struct Subject<'a> {
    principal_arn: Option<&'a str>,
    role_arn: Option<&'a str>,
    role_name: Option<&'a str>,
    user_agent: Option<&'a str>,
    source_text: Option<&'a str>,
    source_ip: Option<IpAddr>,
    asn: Option<u32>,
    account: Option<&'a str>,
    identity_type: Option<&'a str>,
    invoked_by: Option<&'a str>,
    time: Timestamp,
}

/// The role name in an assumed-role session ARN or a role ARN.
fn role_name_of(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        return rest.split('/').next();
    }
    resource
        .strip_prefix("role/")
        .map(|path| path.rsplit('/').next().unwrap_or(path))
}

impl<'a> Subject<'a> {
    fn of_event(event: &'a Event) -> Self {
        let identity = event.user_identity();
        let issuer = identity.session_issuer.as_ref();
        let principal_arn = identity.arn.as_deref();
        let role_arn = issuer.and_then(|i| i.arn.as_deref());
        let role_name = issuer
            .and_then(|i| i.user_name.as_deref())
            .or_else(|| role_arn.and_then(role_name_of))
            .or_else(|| principal_arn.and_then(role_name_of));
        let source = event.source();
        Subject {
            principal_arn,
            role_arn,
            role_name,
            user_agent: event.user_agent(),
            source_text: (!source.text.is_empty()).then_some(source.text.as_str()),
            source_ip: source.ip,
            asn: event.enrichment().and_then(|e| e.asn),
            account: event.recipient_account_id().or_else(|| event.account_id()),
            identity_type: (identity.kind != IdentityType::Unknown
                || !identity.type_name.is_empty())
            .then_some(identity.type_name.as_str()),
            invoked_by: identity.invoked_by.as_deref(),
            time: event.event_time(),
        }
    }

    fn of_alert(alert: &'a Alert) -> Self {
        let entity = &alert.entity;
        let principal_arn = entity.principal.as_deref();
        let source_text = entity.source_ip.as_deref();
        Subject {
            principal_arn,
            role_arn: None,
            role_name: principal_arn.and_then(role_name_of),
            user_agent: entity.user_agent.as_deref(),
            source_text,
            source_ip: source_text.and_then(|s| s.parse().ok()),
            asn: None,
            account: entity.account.as_deref(),
            identity_type: None,
            invoked_by: None,
            time: alert.last_seen,
        }
    }
}

fn any_glob(globs: &[Glob], value: Option<&str>) -> bool {
    value.is_some_and(|v| globs.iter().any(|g| g.is_match(v)))
}

impl Exception {
    fn applies_to_rule(&self, id: &str, name: &str) -> bool {
        if self.never_rules.iter().any(|r| r.eq_ignore_ascii_case(id)) {
            return false;
        }
        self.rules.is_empty()
            || self
                .rules
                .iter()
                .any(|r| r.eq_ignore_ascii_case(id) || r == name)
    }

    fn matches(&self, subject: &Subject<'_>) -> bool {
        if self.expires.is_some_and(|expires| subject.time >= expires) {
            return false;
        }
        if !self.principals.is_empty()
            && !any_glob(&self.principals, subject.principal_arn)
            && !any_glob(&self.principals, subject.role_arn)
        {
            return false;
        }
        if !self.roles.is_empty() && !any_glob(&self.roles, subject.role_name) {
            return false;
        }
        if !self.user_agents.is_empty() {
            let lowered = subject.user_agent.map(str::to_lowercase);
            if !any_glob(&self.user_agents, lowered.as_deref()) {
                return false;
            }
        }
        if !self.source_cidrs.is_empty()
            && !subject
                .source_ip
                .is_some_and(|ip| self.source_cidrs.iter().any(|net| net.contains(&ip)))
        {
            return false;
        }
        if !self.sources.is_empty() && !any_glob(&self.sources, subject.source_text) {
            return false;
        }
        if !self.asns.is_empty() && !subject.asn.is_some_and(|asn| self.asns.contains(&asn)) {
            return false;
        }
        if !self.accounts.is_empty()
            && !subject
                .account
                .is_some_and(|a| self.accounts.iter().any(|x| x == a))
        {
            return false;
        }
        if !self.identity_types.is_empty()
            && !subject
                .identity_type
                .is_some_and(|t| self.identity_types.iter().any(|x| x == t))
        {
            return false;
        }
        if !self.invoked_by.is_empty() && !any_glob(&self.invoked_by, subject.invoked_by) {
            return false;
        }
        true
    }
}

/// Counters of a [`Tuning`], shared by every [`Tuned`] detector built from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TuningStats {
    /// Alerts dropped because their rule is disabled.
    pub disabled: u64,
    /// Alerts dropped by an exception or preset.
    pub excepted: u64,
    /// Alerts whose severity was overridden.
    pub severity_overridden: u64,
}

/// Validated tuning, shared (`Arc`) by the [`Tuned`] detectors.
#[derive(Debug, Default)]
pub struct Tuning {
    disabled: Vec<String>,
    severities: BTreeMap<String, Severity>,
    exceptions: Vec<Exception>,
    disabled_count: AtomicU64,
    excepted_count: AtomicU64,
    overridden_count: AtomicU64,
}

impl TuningConfig {
    /// Validates the section.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown preset, an exception without a reason or criteria, a
    /// per-rule exception that names `rules`, or an unparsable `expires`.
    pub fn build(&self) -> Result<Tuning> {
        let mut tuning = Tuning {
            disabled: self.disabled.clone(),
            ..Tuning::default()
        };
        for name in &self.presets {
            let preset = PRESETS
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| Error::Config {
                    detector: "tuning".to_owned(),
                    message: format!(
                        "unknown preset {name:?}; known presets: {}",
                        PRESETS
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            for exception in (preset.exceptions)() {
                let mut built = exception.build(&format!("preset {name}"))?;
                built.never_rules = PRESET_NEVER_SILENCES;
                tuning.exceptions.push(built);
            }
        }
        for (index, exception) in self.exceptions.iter().enumerate() {
            tuning
                .exceptions
                .push(exception.build(&format!("exceptions[{index}]"))?);
        }
        for (rule, settings) in &self.rules {
            if settings.enabled == Some(false) {
                tuning.disabled.push(rule.clone());
            }
            if let Some(severity) = settings.severity {
                tuning.severities.insert(rule.clone(), severity);
            }
            for (index, exception) in settings.exceptions.iter().enumerate() {
                let context = format!("rules.{rule}.exceptions[{index}]");
                if !exception.rules.is_empty() {
                    return Err(Error::Config {
                        detector: format!("tuning {context}"),
                        message: "a per-rule exception cannot name other rules; use [[tuning.exceptions]]".to_owned(),
                    });
                }
                let mut built = exception.build(&context)?;
                built.rules = vec![rule.clone()];
                tuning.exceptions.push(built);
            }
        }
        Ok(tuning)
    }

    /// Every rule id or name the section refers to, for checking against the catalogue.
    #[must_use]
    pub fn referenced_rules(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.disabled.iter().map(String::as_str).collect();
        names.extend(self.rules.keys().map(String::as_str));
        for exception in &self.exceptions {
            names.extend(exception.rules.iter().map(String::as_str));
        }
        names.sort_unstable();
        names.dedup();
        names
    }
}

fn names_rule(key: &str, id: &str, name: &str) -> bool {
    key.eq_ignore_ascii_case(id) || key == name
}

impl Tuning {
    /// No tuning: every alert passes unchanged.
    #[must_use]
    pub fn none() -> Tuning {
        Tuning::default()
    }

    /// True unless the rule is disabled.
    #[must_use]
    pub fn is_enabled(&self, id: &str, name: &str) -> bool {
        !self.disabled.iter().any(|key| names_rule(key, id, name))
    }

    /// The overridden severity of a rule, if any.
    #[must_use]
    pub fn severity_of(&self, id: &str, name: &str) -> Option<Severity> {
        self.severities
            .iter()
            .find(|(key, _)| names_rule(key, id, name))
            .map(|(_, s)| *s)
    }

    /// Applies the tuning to an alert, given the event that triggered it (or `None` for an
    /// alert raised when a window closed). Returns false when the alert must be dropped;
    /// otherwise it may have had its severity overridden.
    pub fn admit(&self, alert: &mut Alert, event: Option<&Event>) -> bool {
        let (id, name) = (alert.rule.id.as_str(), alert.rule.name.as_str());
        if !self.is_enabled(id, name) {
            self.disabled_count.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let subject = match event {
            Some(event) => Subject::of_event(event),
            None => Subject::of_alert(alert),
        };
        let hit = self
            .exceptions
            .iter()
            .find(|exception| exception.applies_to_rule(id, name) && exception.matches(&subject));
        if let Some(exception) = hit {
            self.excepted_count.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(rule = id, reason = %exception.reason, alert = %alert.title, "alert dropped by exception");
            return false;
        }
        if let Some(severity) = self.severity_of(id, name)
            && severity != alert.severity
        {
            alert.severity = severity;
            self.overridden_count.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> TuningStats {
        TuningStats {
            disabled: self.disabled_count.load(Ordering::Relaxed),
            excepted: self.excepted_count.load(Ordering::Relaxed),
            severity_overridden: self.overridden_count.load(Ordering::Relaxed),
        }
    }

    /// Wraps every detector so that its alerts pass through this tuning.
    #[must_use]
    pub fn wrap(self: &Arc<Self>, detectors: Vec<Box<dyn Detector>>) -> Vec<Box<dyn Detector>> {
        detectors
            .into_iter()
            .map(|inner| {
                Box::new(Tuned {
                    inner,
                    tuning: Arc::clone(self),
                    scratch: Vec::new(),
                }) as Box<dyn Detector>
            })
            .collect()
    }
}

/// A detector whose alerts pass through a [`Tuning`] before they leave it.
pub struct Tuned {
    inner: Box<dyn Detector>,
    tuning: Arc<Tuning>,
    scratch: Vec<Alert>,
}

impl Tuned {
    /// Wraps one detector.
    #[must_use]
    pub fn new(inner: Box<dyn Detector>, tuning: Arc<Tuning>) -> Self {
        Tuned {
            inner,
            tuning,
            scratch: Vec::new(),
        }
    }

    fn drain(&mut self, event: Option<&Event>, out: &mut Vec<Alert>) {
        // Almost every call has nothing to drain: skip building and dropping the iterator.
        if self.scratch.is_empty() {
            return;
        }
        for mut alert in self.scratch.drain(..) {
            if self.tuning.admit(&mut alert, event) {
                out.push(alert);
            }
        }
    }
}

impl Detector for Tuned {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn interest(&self) -> Interest {
        self.inner.interest()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        self.inner.observe(event, &mut self.scratch);
        self.drain(Some(event), out);
    }

    fn learns_baselines(&self) -> bool {
        self.inner.learns_baselines()
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        self.inner.advance(watermark, &mut self.scratch);
        self.drain(None, out);
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        self.inner.save_state()
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.inner.load_state(state)
    }
}

#[cfg(test)]
mod tests {
    use trailhound_core::{Origin, RuleKind, RuleRef};

    use super::*;

    fn event(identity: &str, extra: &str) -> Event {
        let raw = format!(
            r#"{{"eventVersion":"1.09","eventTime":"2026-11-20T10:15:00Z","eventSource":"iam.amazonaws.com",
            "eventName":"PutRolePolicy","awsRegion":"us-east-1","eventID":"e1",
            "recipientAccountId":"123456789012","userIdentity":{identity}{extra}}}"#
        );
        Event::from_json(raw, Origin::new("t.json", 0)).unwrap()
    }

    const CI: &str = r#"{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/github-deploy/run-1",
        "accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"Role",
        "arn":"arn:aws:iam::123456789012:role/github-deploy","userName":"github-deploy"}}}"#;
    const ALICE: &str = r#"{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"}"#;

    fn alert_for(event: &Event) -> Alert {
        let rule = RuleRef {
            id: "TH1023".into(),
            name: "inline-policy-put".into(),
            kind: RuleKind::Builtin,
            author: None,
        };
        Alert::for_event(rule, Severity::Low, "t".into(), "w".into(), event)
    }

    fn build(toml_text: &str) -> Tuning {
        toml::from_str::<TuningConfig>(toml_text)
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn role_exception_drops_only_its_role_until_expiry() {
        let tuning = build(
            r#"[[exceptions]]
            rules = ["inline-policy-put"]
            roles = ["github-*"]
            reason = "ci deploys"
            expires = "2026-12-01"
        "#,
        );
        let ci = event(CI, r#","sourceIPAddress":"198.51.100.7""#);
        assert!(!tuning.admit(&mut alert_for(&ci), Some(&ci)));
        let alice = event(ALICE, r#","sourceIPAddress":"198.51.100.7""#);
        assert!(tuning.admit(&mut alert_for(&alice), Some(&alice)));
        let later = Event::from_json(
            ci.raw().replace("2026-11-20", "2026-12-02"),
            Origin::new("t", 1),
        )
        .unwrap();
        assert!(
            tuning.admit(&mut alert_for(&later), Some(&later)),
            "expired exceptions do not apply"
        );
        assert_eq!(tuning.stats().excepted, 1);
    }

    #[test]
    fn criteria_are_and_ed_and_alternatives_or_ed() {
        let tuning = build(
            r#"[[exceptions]]
            source_cidrs = ["192.0.2.0/24", "203.0.113.0/24"]
            user_agents = ["*Terraform*"]
            reason = "terraform from the office"
        "#,
        );
        let both = event(
            ALICE,
            r#","sourceIPAddress":"203.0.113.9","userAgent":"APN/1.0 HashiCorp/1.0 Terraform/1.9.0""#,
        );
        assert!(!tuning.admit(&mut alert_for(&both), Some(&both)));
        let wrong_net = event(
            ALICE,
            r#","sourceIPAddress":"198.51.100.9","userAgent":"Terraform/1.9.0""#,
        );
        assert!(tuning.admit(&mut alert_for(&wrong_net), Some(&wrong_net)));
        let wrong_agent = event(
            ALICE,
            r#","sourceIPAddress":"192.0.2.9","userAgent":"aws-cli/2.15.30""#,
        );
        assert!(tuning.admit(&mut alert_for(&wrong_agent), Some(&wrong_agent)));
    }

    #[test]
    fn presets_cover_services_and_service_linked_roles() {
        let tuning = build(r#"presets = ["aws-service-principals", "service-linked-roles"]"#);
        let service = event(
            r#"{"type":"AWSService","invokedBy":"config.amazonaws.com"}"#,
            r#","sourceIPAddress":"config.amazonaws.com""#,
        );
        assert!(!tuning.admit(&mut alert_for(&service), Some(&service)));
        let via_cfn = event(
            r#"{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","invokedBy":"cloudformation.amazonaws.com"}"#,
            r#","sourceIPAddress":"cloudformation.amazonaws.com""#,
        );
        assert!(!tuning.admit(&mut alert_for(&via_cfn), Some(&via_cfn)));
        let internal = event(
            ALICE,
            r#","sourceIPAddress":"AWS Internal","userAgent":"AWS Internal""#,
        );
        assert!(!tuning.admit(&mut alert_for(&internal), Some(&internal)));
        let slr = event(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForConfig/session",
              "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig","userName":"AWSServiceRoleForConfig"}}}"#,
            r#","sourceIPAddress":"198.51.100.7""#,
        );
        assert!(!tuning.admit(&mut alert_for(&slr), Some(&slr)));
        let human = event(
            ALICE,
            r#","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.30""#,
        );
        assert!(tuning.admit(&mut alert_for(&human), Some(&human)));
        let mut quarantine = alert_for(&internal);
        quarantine.rule.id = "TH1079".into();
        assert!(
            tuning.admit(&mut quarantine, Some(&internal)),
            "presets never silence TH1079"
        );
    }

    #[test]
    fn scanner_preset_is_limited_to_recon_rules() {
        let tuning = build(r#"presets = ["security-scanners"]"#);
        let scan = event(
            ALICE,
            r#","sourceIPAddress":"198.51.100.7","userAgent":"prowler/4.2.0 aws-cli""#,
        );
        assert!(
            tuning.admit(&mut alert_for(&scan), Some(&scan)),
            "TH1023 is not a recon rule"
        );
        let mut recon = alert_for(&scan);
        recon.rule.id = "TH2001".into();
        assert!(!tuning.admit(&mut recon, Some(&scan)));
    }

    #[test]
    fn disable_and_severity_override() {
        let tuning = build(
            r#"disabled = ["TH1038"]
            [rules.inline-policy-put]
            severity = "high"
            [rules.TH1014]
            enabled = false
        "#,
        );
        assert!(!tuning.is_enabled("TH1038", "security-group-changed"));
        assert!(!tuning.is_enabled("TH1014", "iam-user-created"));
        assert!(tuning.is_enabled("TH1001", "cloudtrail-logging-stopped"));
        let ci = event(CI, "");
        let mut alert = alert_for(&ci);
        assert!(tuning.admit(&mut alert, Some(&ci)));
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(tuning.stats().severity_overridden, 1);
    }

    #[test]
    fn window_alerts_are_checked_against_their_entity() {
        let tuning = build(
            r#"[[exceptions]]
            principals = ["arn:aws:sts::123456789012:assumed-role/github-deploy/*"]
            reason = "ci"
        "#,
        );
        let ci = event(CI, "");
        let mut alert = alert_for(&ci);
        assert!(!tuning.admit(&mut alert, None));
    }

    #[test]
    fn invalid_sections_are_refused() {
        let cases = [
            (r#"presets = ["nope"]"#, "unknown preset"),
            ("[[exceptions]]\nroles = [\"x\"]\n", "needs a reason"),
            ("[[exceptions]]\nreason = \"r\"\n", "names no criterion"),
            (
                "[[exceptions]]\nroles = [\"x\"]\nreason = \"r\"\nexpires = \"soon\"\n",
                "expires",
            ),
            (
                "[rules.TH1001]\nexceptions = [{rules = [\"TH1002\"], roles = [\"x\"], reason = \"r\"}]\n",
                "cannot name other rules",
            ),
        ];
        for (text, expected) in cases {
            let error = toml::from_str::<TuningConfig>(text)
                .unwrap()
                .build()
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        assert!(toml::from_str::<TuningConfig>("unknown_key = 1").is_err());
    }

    #[test]
    fn tuned_wrapper_filters_observed_alerts() {
        struct Always;
        impl Detector for Always {
            fn id(&self) -> &str {
                "always"
            }
            fn interest(&self) -> Interest {
                Interest::all()
            }
            fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
                out.push(alert_for(event));
            }
        }
        let tuning = Arc::new(build(
            "[[exceptions]]\nroles = [\"github-deploy\"]\nreason = \"ci\"\n",
        ));
        let mut detectors = tuning.wrap(vec![Box::new(Always)]);
        let mut out = Vec::new();
        detectors[0].observe(&event(CI, ""), &mut out);
        assert!(out.is_empty());
        detectors[0].observe(&event(ALICE, ""), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(detectors[0].id(), "always");
    }
}
