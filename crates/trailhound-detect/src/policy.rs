//! Workload allow-policies: for a protected resource, which principals may call which
//! actions. Any other call on that resource alerts (kind `policy`), naming the policy rule it
//! broke; [`learn`] proposes policies from observed history.
//!
//! ```
//! use trailhound_detect::policy::{AllowRule, PolicyConfig};
//! let policy = PolicyConfig {
//!     name: "payments-key".into(),
//!     event_source: Some("kms.amazonaws.com".into()),
//!     resource: "arn:aws:kms:us-east-1:123456789012:key/*".into(),
//!     severity: None, ignore_aws_services: true,
//!     allow: vec![AllowRule {
//!         principals: vec!["arn:aws:sts::123456789012:assumed-role/decrypt-fn-role/*".into()],
//!         actions: vec!["Decrypt".into()] }],
//! };
//! assert!(policy.build().is_ok());
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailhound_core::{Alert, Event, IdentityType, RuleKind, RuleRef, Severity, Timestamp};

use crate::glob::Glob;
use crate::resource::ResourceFields;
use crate::trap::{function_name, resource_arns};
use crate::{Detector, Error, Interest, Result, RuleDoc};

/// Rule id of policy violations.
pub const POLICY_RULE_ID: &str = "TH2301";

/// One protected resource and who may do what on it (`[[policies]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The policy's name, shown in alerts.
    pub name: String,
    /// Only calls to this service (`kms.amazonaws.com`); any service when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    /// The resource: an ARN or a name (table, bucket, function, key id or alias, secret,
    /// parameter), `*` wildcards allowed.
    pub resource: String,
    /// Alert severity (default high).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Skip calls made by AWS services on a principal's behalf (`invokedBy`, `AWSService`).
    #[serde(default = "yes")]
    pub ignore_aws_services: bool,
    /// The allowed (principals, actions) pairs; everything else alerts.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
}

fn yes() -> bool {
    true
}

/// Principals allowed to call actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Principal ARN patterns: the caller's ARN (`arn:aws:sts::…:assumed-role/ROLE/*`) or the
    /// role's ARN (`arn:aws:iam::…:role/ROLE`), `*` wildcards allowed.
    pub principals: Vec<String>,
    /// eventNames (`Decrypt`, `Get*`, `*`).
    pub actions: Vec<String>,
}

struct CompiledRule {
    principals: Vec<Glob>,
    actions: Vec<Glob>,
}

struct Policy {
    config: PolicyConfig,
    resource: Glob,
    rules: Vec<CompiledRule>,
}

/// The compiled policies: one detector for all of them.
///
/// Policies are indexed by event source, so a record is compared only with the policies of
/// its service. A record those policies may concern has its resource fields read from its raw
/// text in one pass, without a JSON tree ([`ResourceFields`]): with policies on busy services
/// (every DynamoDB or KMS call) the tree was most of a hunt's policy cost, and a substring
/// prefilter over the whole record measured slower than the one-pass read.
pub struct PolicyDetector {
    policies: Vec<Policy>,
    /// Policies per event source, each including the policies for any source.
    by_source: foldhash::HashMap<String, Candidates>,
    /// Policies for any source: the candidates of sources not in `by_source`.
    any_source: Candidates,
}

/// The policies an event of one source may fall under. Most policies name one resource
/// exactly (learned policies always do): those are found by looking the event's resource ids
/// up, so that an event costs the same with 10 policies as with 1,000.
#[derive(Debug, Default, Clone)]
struct Candidates {
    /// Policies (indices) by their exact resource.
    exact: foldhash::HashMap<String, Vec<usize>>,
    /// Policies whose resource has a wildcard.
    globbed: Vec<usize>,
}

impl Candidates {
    fn add(&mut self, index: usize, policy: &Policy) {
        let resource = policy.config.resource.trim();
        if resource.contains('*') {
            self.globbed.push(index);
        } else {
            self.exact
                .entry(resource.to_owned())
                .or_default()
                .push(index);
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.globbed.is_empty()
    }

    /// The policies whose resource one of `ids` is, each with the first such id, in
    /// configuration order.
    fn matching<'i>(&self, policies: &[Policy], ids: &'i [Cow<'_, str>]) -> Vec<(usize, &'i str)> {
        let mut found: Vec<(usize, &str)> = Vec::new();
        for id in ids {
            for &index in self.exact.get(id.as_ref()).into_iter().flatten() {
                if !found.iter().any(|(i, _)| *i == index) {
                    found.push((index, id));
                }
            }
        }
        for &index in &self.globbed {
            let Some(policy) = policies.get(index) else {
                continue;
            };
            if let Some(id) = ids.iter().find(|id| policy.resource.is_match(id)) {
                found.push((index, id));
            }
        }
        found.sort_by_key(|(index, _)| *index);
        found
    }
}

impl PolicyConfig {
    fn compile(&self) -> Result<Policy> {
        let error = |message: &str| Error::Config {
            detector: format!("policies.{}", self.name),
            message: message.to_owned(),
        };
        if self.resource.trim().is_empty() {
            return Err(error("empty resource"));
        }
        let mut rules = Vec::new();
        for rule in &self.allow {
            if rule.principals.is_empty() || rule.actions.is_empty() {
                return Err(error("an allow rule needs principals and actions"));
            }
            rules.push(CompiledRule {
                principals: rule.principals.iter().map(|p| Glob::new(p)).collect(),
                actions: rule.actions.iter().map(|a| Glob::new(a)).collect(),
            });
        }
        Ok(Policy {
            config: self.clone(),
            resource: Glob::new(self.resource.trim()),
            rules,
        })
    }

    /// Compiles this one policy into a detector.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty resource or an allow rule without principals or actions.
    pub fn build(&self) -> Result<PolicyDetector> {
        Ok(PolicyDetector::new(vec![self.compile()?]))
    }
}

/// Compiles policies into one detector.
///
/// # Errors
/// The first invalid policy.
pub fn build(policies: &[PolicyConfig]) -> Result<PolicyDetector> {
    let mut out = Vec::new();
    for policy in policies {
        out.push(policy.compile()?);
    }
    Ok(PolicyDetector::new(out))
}

impl PolicyDetector {
    fn new(policies: Vec<Policy>) -> Self {
        let mut any_source = Candidates::default();
        let mut by_source: foldhash::HashMap<String, Candidates> = foldhash::HashMap::default();
        for (index, policy) in policies.iter().enumerate() {
            if policy.config.event_source.is_none() {
                any_source.add(index, policy);
            }
        }
        for (index, policy) in policies.iter().enumerate() {
            if let Some(source) = &policy.config.event_source {
                by_source
                    .entry(source.clone())
                    .or_insert_with(|| any_source.clone())
                    .add(index, policy);
            }
        }
        PolicyDetector {
            policies,
            by_source,
            any_source,
        }
    }
}

/// The identifiers of the resources a record acts on: request parameters naming a resource
/// (table, bucket, function, key, secret, parameter, role, user, queue, topic…) and the
/// `resources[]` ARNs, plus the bare names inside those ARNs.
#[must_use]
pub fn resource_ids(event: &Event) -> Vec<String> {
    resource_ids_of(&ResourceFields::read(event), event)
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// [`resource_ids`] borrowed from the record where they are written as they are: every
/// event of a service with a policy reads them, and copying each cost more than the rest.
fn resource_ids_of<'f>(fields: &'f ResourceFields<'_>, event: &Event) -> Vec<Cow<'f, str>> {
    let mut out: Vec<Cow<'f, str>> = Vec::new();
    let mut push = |s: Cow<'f, str>| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    for (key, v) in fields.parameters() {
        push(Cow::Borrowed(v));
        if let Some(table) = v.split(":table/").nth(1) {
            push(Cow::Borrowed(table.split('/').next().unwrap_or(table)));
        }
        if key == "functionName" {
            push(Cow::Owned(function_name(v)));
        }
        if key == "bucketName"
            && let Some(k) = &fields.key
        {
            push(Cow::Owned(format!("{v}/{k}")));
        }
    }
    if event.event_source() == "ssm.amazonaws.com"
        && let Some(name) = &fields.name
    {
        push(Cow::Borrowed(name));
    }
    for arn in &fields.arns {
        let arn: &'f str = arn;
        if let Some(table) = arn.split(":table/").nth(1) {
            push(Cow::Borrowed(table.split('/').next().unwrap_or(table)));
        }
        if let Some(key) = arn.split(":key/").nth(1) {
            push(Cow::Borrowed(key));
        }
        if arn.contains(":function:") {
            push(Cow::Owned(function_name(arn)));
        }
        if let Some(rest) = arn.strip_prefix("arn:aws:s3:::") {
            push(Cow::Borrowed(rest));
            push(Cow::Borrowed(rest.split('/').next().unwrap_or(rest)));
        }
        push(Cow::Borrowed(arn));
    }
    out
}

/// The principal ARNs a rule may name: the caller's ARN and, for role sessions, the role's.
fn principal_arns(event: &Event) -> Vec<&str> {
    let id = event.user_identity();
    let mut out = Vec::new();
    if let Some(arn) = id.arn.as_deref() {
        out.push(arn);
    }
    if let Some(issuer) = id.session_issuer.as_ref().and_then(|s| s.arn.as_deref()) {
        out.push(issuer);
    }
    if out.is_empty()
        && let Some(p) = event.principal_arn()
    {
        out.push(p);
    }
    out
}

fn is_aws_service_call(event: &Event) -> bool {
    let id = event.user_identity();
    id.kind == IdentityType::AWSService || id.invoked_by.is_some()
}

impl PolicyDetector {
    /// How many policies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// True when there is no policy.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

fn render_rule(rule: &AllowRule) -> String {
    format!(
        "allow {} by {}",
        rule.actions.join(", "),
        rule.principals.join(", ")
    )
}

impl Detector for PolicyDetector {
    fn id(&self) -> &str {
        "policies"
    }

    fn interest(&self) -> Interest {
        Interest::all()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let candidates = self
            .by_source
            .get(event.event_source())
            .unwrap_or(&self.any_source);
        if candidates.is_empty() {
            return;
        }
        let aws_service = is_aws_service_call(event);
        let fields = ResourceFields::read(event);
        let ids = resource_ids_of(&fields, event);
        for (index, resource) in candidates.matching(&self.policies, &ids) {
            let Some(policy) = self.policies.get(index) else {
                continue;
            };
            if policy.config.ignore_aws_services && aws_service {
                continue;
            }
            let principals = principal_arns(event);
            let action = event.event_name();
            let allowed = policy.rules.iter().any(|rule| {
                rule.actions.iter().any(|a| a.is_match(action))
                    && rule
                        .principals
                        .iter()
                        .any(|p| principals.iter().any(|arn| p.is_match(arn)))
            });
            if allowed {
                continue;
            }
            let action_rules: Vec<&AllowRule> = policy
                .config
                .allow
                .iter()
                .zip(&policy.rules)
                .filter(|(_, rule)| rule.actions.iter().any(|a| a.is_match(action)))
                .map(|(config, _)| config)
                .collect();
            let broken = if action_rules.is_empty() {
                format!(
                    "no rule of policy {:?} allows {action} on {}",
                    policy.config.name, policy.config.resource
                )
            } else {
                let lines: Vec<String> = action_rules.iter().map(|r| render_rule(r)).collect();
                format!(
                    "policy {:?} allows {action} on {} only as: {}",
                    policy.config.name,
                    policy.config.resource,
                    lines.join("; ")
                )
            };
            let caller = principals
                .first()
                .copied()
                .unwrap_or("an unknown principal");
            let title = format!(
                "{action} on protected {resource} by {} outside policy {:?}{}",
                event.principal_name(),
                policy.config.name,
                event
                    .error_code()
                    .map(|c| format!(" (failed: {c})"))
                    .unwrap_or_default()
            );
            let why = format!("{caller} called {action} on {resource}; {broken}");
            let rule = RuleRef {
                id: POLICY_RULE_ID.to_owned(),
                name: "workload-policy-violated".to_owned(),
                kind: RuleKind::Policy,
                author: None,
            };
            let mut alert = Alert::for_event(
                rule,
                policy.config.severity.unwrap_or(Severity::High),
                title,
                why,
                event,
            );
            alert.attack = vec!["T1078.004".to_owned()];
            alert.runbook = "Ask the resource's owner whether this principal should use it. If not, find how the principal got permission (identity policies with wildcards, admin roles), revoke it, and review what else it did; if yes, add an allow rule to the policy.".to_owned();
            alert.group_key = Some(format!(
                "{}|{}|{}|{action}",
                policy.config.name,
                resource,
                event.principal_key().unwrap_or("")
            ));
            alert.context.insert(
                "policy".into(),
                serde_json::json!({
                    "name": policy.config.name,
                    "resource": policy.config.resource,
                    "event_source": policy.config.event_source,
                    "allow": policy.config.allow.iter().map(render_rule).collect::<Vec<_>>(),
                    "broken": broken,
                }),
            );
            alert.seal();
            out.push(alert);
        }
    }
}

/// Proposes policies from observed history: for every resource that the events name, who
/// called what on it, over the last `days` days of event time (ending at the newest event).
/// Role sessions are generalised to `arn:aws:sts::ACCOUNT:assumed-role/ROLE/*`; AWS-service
/// calls are left out. Resources used by more than `max_principals` principals are skipped
/// (shared resources need a hand-written policy).
#[must_use]
pub fn learn(events: &[Event], days: u32, max_principals: usize) -> Vec<PolicyConfig> {
    let mut learner = PolicyLearner::default();
    for event in events {
        learner.observe(event);
    }
    learner.propose(days, max_principals)
}

/// Streaming form of [`learn`]: memory grows with the distinct (resource, principal, action)
/// triples, not with the events.
#[derive(Debug, Default)]
pub struct PolicyLearner {
    newest: Option<Timestamp>,
    // (source, resource) -> principal -> action -> last seen
    seen: BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, Timestamp>>>,
    events: u64,
}

impl PolicyLearner {
    /// Notes one event.
    pub fn observe(&mut self, event: &Event) {
        self.events += 1;
        let time = event.event_time();
        self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
        if is_aws_service_call(event) {
            return;
        }
        let ids = resource_ids(event);
        let Some(resource) = primary_resource(event, &ids) else {
            return;
        };
        let Some(principal) = generalised_principal(event) else {
            return;
        };
        let last = self
            .seen
            .entry((event.event_source().to_owned(), resource))
            .or_default()
            .entry(principal)
            .or_default()
            .entry(event.event_name().to_owned())
            .or_insert(time);
        *last = (*last).max(time);
    }

    /// How many events were observed.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The proposed policies, one per resource, sorted by service and resource.
    #[must_use]
    pub fn propose(&self, days: u32, max_principals: usize) -> Vec<PolicyConfig> {
        let Some(newest) = self.newest else {
            return Vec::new();
        };
        let since = newest.add_millis(-i64::from(days) * 86_400_000);
        let mut out = Vec::new();
        for ((source, resource), principals) in &self.seen {
            let mut by_actions: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
            for (principal, actions) in principals {
                let recent: Vec<String> = actions
                    .iter()
                    .filter(|(_, last)| **last >= since)
                    .map(|(a, _)| a.clone())
                    .collect();
                if !recent.is_empty() {
                    by_actions
                        .entry(recent)
                        .or_default()
                        .push(principal.clone());
                }
            }
            let count: usize = by_actions.values().map(Vec::len).sum();
            if count == 0 || count > max_principals {
                continue;
            }
            let allow = by_actions
                .into_iter()
                .map(|(actions, principals)| AllowRule {
                    principals,
                    actions,
                })
                .collect();
            let service = source.split('.').next().unwrap_or(source).to_owned();
            let short = resource
                .rsplit(['/', ':'])
                .next()
                .unwrap_or(resource)
                .to_owned();
            out.push(PolicyConfig {
                name: format!("{service}-{short}"),
                event_source: Some(source.clone()),
                resource: resource.clone(),
                severity: None,
                ignore_aws_services: true,
                allow,
            });
        }
        out
    }
}

/// The one resource a policy for this event should name: the `resources[]` ARN or the
/// service's main request parameter.
fn primary_resource(event: &Event, ids: &[String]) -> Option<String> {
    let params = event.json().get("requestParameters");
    let param = |k: &str| {
        params
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match event.event_source() {
        "dynamodb.amazonaws.com" => {
            let id = param("tableName")
                .or_else(|| param("tableArn"))
                .or_else(|| param("resourceArn"));
            id.map(|t| match t.split(":table/").nth(1) {
                Some(rest) => rest.split('/').next().unwrap_or(rest).to_owned(),
                None => t,
            })
        }
        "s3.amazonaws.com" => param("bucketName"),
        "lambda.amazonaws.com" => param("functionName").map(|f| function_name(&f)),
        "secretsmanager.amazonaws.com" => param("secretId"),
        "ssm.amazonaws.com" => param("name"),
        "kms.amazonaws.com" => resource_arns(event.json())
            .into_iter()
            .find(|a| a.contains(":key/"))
            .or_else(|| param("keyId")),
        _ => ids.iter().find(|id| id.starts_with("arn:")).cloned(),
    }
}

fn generalised_principal(event: &Event) -> Option<String> {
    let id = event.user_identity();
    let arn = id.arn.as_deref().or_else(|| event.principal_arn())?;
    if id.kind == IdentityType::AssumedRole
        && let Some((prefix, rest)) = arn.split_once(":assumed-role/")
        && let Some(role) = rest.split('/').next()
    {
        return Some(format!("{prefix}:assumed-role/{role}/*"));
    }
    Some(arn.to_owned())
}

/// The catalogue entry of the policy family.
#[must_use]
pub fn rule_docs() -> Vec<RuleDoc> {
    vec![RuleDoc {
        id: POLICY_RULE_ID.to_owned(),
        name: "workload-policy-violated".to_owned(),
        kind: RuleKind::Policy,
        title: "Workload allow-policy violated".to_owned(),
        severity: Severity::High,
        attack: vec!["T1078.004".to_owned()],
        description: "A call on a protected resource by a principal or with an action that its allow-policy does not list.".to_owned(),
        why_it_matters: "Identity policies with wildcards (kms:*, dynamodb:*) let more principals use a resource than its workload needs; the policy says who really should.".to_owned(),
        tuning: "[[policies]] with resource, event_source and [[policies.allow]] rules; `trailhound policy learn` proposes them from history.".to_owned(),
        false_positives: vec!["A new legitimate caller not yet in the policy.".to_owned(), "Break-glass administration.".to_owned()],
        runbook: "Confirm with the resource's owner; revoke unexpected access or extend the policy.".to_owned(),
        references: vec!["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html".to_owned()],
        author: None,
        behaviours: vec!["Workload allow-policy violated".to_owned()],
    }]
}
