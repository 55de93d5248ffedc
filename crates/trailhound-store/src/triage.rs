//! Alert triage: each alert's status (open, acknowledged, closed as a true or false
//! positive), assignee and notes, with a history of every change (who and when); plus the
//! filtered, sorted and paged alert list, the overview figures and the per-bucket event
//! histograms the web UI shows.
//!
//! The triage tables (`alert_triage`, `alert_history`, `alert_suppressions`) are created by
//! [`Store::init_triage`], which the server calls once on a writable store.
//!
//! ```no_run
//! use trailhound_core::Timestamp;
//! use trailhound_store::{AlertFilter, Store, TriageAction};
//! let mut store = Store::open("trailhound-data")?;
//! store.init_triage()?;
//! let page = store.alert_list(&AlertFilter::default())?;
//! if let Some(first) = page.items.first() {
//!     store.triage(&first.id, &TriageAction::Acknowledge, "alice", Timestamp::from_secs(0), None)?;
//! }
//! # Ok::<(), trailhound_store::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Severity, Timestamp};

use crate::{Count, Error, Result, Store, TimeRange, limit_i64, sql};

const TRIAGE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_triage (
    alert_id TEXT PRIMARY KEY,
    verdict TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    by TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history(alert_id, id);
CREATE TABLE IF NOT EXISTS alert_suppressions (
    id INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL,
    principal TEXT,
    account TEXT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    from_alert TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_first_seen ON alerts(first_seen);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, last_seen);
CREATE INDEX IF NOT EXISTS alerts_principal ON alerts(principal, last_seen);
";

/// An alert's triage status as analysts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriageStatus {
    /// Not looked at yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Closed: the activity was malicious or unwanted.
    ClosedTp,
    /// Closed: the activity was legitimate.
    ClosedFp,
}

impl TriageStatus {
    /// All statuses, in workflow order.
    pub const ALL: [TriageStatus; 4] = [
        TriageStatus::Open,
        TriageStatus::Acknowledged,
        TriageStatus::ClosedTp,
        TriageStatus::ClosedFp,
    ];

    /// The kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TriageStatus::Open => "open",
            TriageStatus::Acknowledged => "acknowledged",
            TriageStatus::ClosedTp => "closed-tp",
            TriageStatus::ClosedFp => "closed-fp",
        }
    }

    /// The SQL condition selecting alerts (`a`) in this status (`t` is the triage row).
    fn condition(self) -> &'static str {
        match self {
            TriageStatus::Open => "a.status = 'open'",
            TriageStatus::Acknowledged => "a.status = 'acknowledged'",
            TriageStatus::ClosedTp => "(a.status = 'closed' AND t.verdict = 'tp')",
            TriageStatus::ClosedFp => "(a.status = 'closed' AND coalesce(t.verdict, 'fp') = 'fp')",
        }
    }

    fn from_columns(status: &str, verdict: Option<&str>) -> TriageStatus {
        match (status, verdict) {
            ("acknowledged", _) => TriageStatus::Acknowledged,
            ("closed", Some("tp")) => TriageStatus::ClosedTp,
            ("closed", _) => TriageStatus::ClosedFp,
            _ => TriageStatus::Open,
        }
    }
}

impl std::str::FromStr for TriageStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(TriageStatus::Open),
            "acknowledged" | "ack" => Ok(TriageStatus::Acknowledged),
            "closed-tp" => Ok(TriageStatus::ClosedTp),
            "closed-fp" => Ok(TriageStatus::ClosedFp),
            other => Err(Error::UnknownStatus(other.to_owned())),
        }
    }
}

/// One triage action on an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageAction {
    /// Take the alert: status acknowledged.
    Acknowledge,
    /// Close as a true positive.
    CloseTruePositive,
    /// Close as a false positive.
    CloseFalsePositive,
    /// Back to open.
    Reopen,
    /// Give the alert to someone (the status is kept).
    Assign(String),
    /// Add a note only.
    Comment,
    /// A suppression for similar alerts (same rule and principal) was created.
    Suppress,
}

impl TriageAction {
    /// The action's name in the history.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            TriageAction::Acknowledge => "acknowledge",
            TriageAction::CloseTruePositive => "close-tp",
            TriageAction::CloseFalsePositive => "close-fp",
            TriageAction::Reopen => "reopen",
            TriageAction::Assign(_) => "assign",
            TriageAction::Comment => "comment",
            TriageAction::Suppress => "suppress",
        }
    }
}

/// One entry of an alert's triage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriageEntry {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: String,
    /// What: acknowledge, close-tp, close-fp, reopen, assign, comment or suppress.
    pub action: String,
    /// The status after the action.
    pub status: TriageStatus,
    /// The assignee after the action.
    pub assignee: Option<String>,
    /// The note given with the action.
    pub note: Option<String>,
}

/// A suppression created from an alert ("suppress similar").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuppressionRecord {
    /// Row id.
    pub id: i64,
    /// The rule to silence.
    pub rule_id: String,
    /// Only for this principal, when set.
    pub principal: Option<String>,
    /// Only in this account, when set.
    pub account: Option<String>,
    /// Why.
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// The alert it was made from.
    pub from_alert: String,
}

/// How the alert list is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSort {
    /// Latest event, newest first unless ascending.
    #[default]
    LastSeen,
    /// First event.
    FirstSeen,
    /// Severity.
    Severity,
    /// Number of events.
    EventCount,
    /// Rule id.
    Rule,
}

/// Filters, sort and page of the alert list. Empty filters match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only these severities.
    pub severities: Vec<Severity>,
    /// Only this rule (id or name).
    pub rule: Option<String>,
    /// Only this detector family (`sigma`, `builtin`, `anomaly`…).
    pub kind: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<TriageStatus>,
    /// Only this account.
    pub account: Option<String>,
    /// Only this principal ARN.
    pub principal: Option<String>,
    /// Words that must occur in the title (case-insensitive substring).
    pub text: Option<String>,
    /// Alerts whose span overlaps this window.
    pub range: TimeRange,
    /// Sort key.
    pub sort: AlertSort,
    /// Ascending instead of descending.
    pub ascending: bool,
    /// Page size.
    pub limit: usize,
    /// Rows skipped.
    pub offset: usize,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            severities: Vec::new(),
            rule: None,
            kind: None,
            statuses: Vec::new(),
            account: None,
            principal: None,
            text: None,
            range: TimeRange::default(),
            sort: AlertSort::LastSeen,
            ascending: false,
            limit: 50,
            offset: 0,
        }
    }
}

/// One row of the alert list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertSummary {
    /// Alert id.
    pub id: String,
    /// Rule id.
    pub rule_id: String,
    /// Rule name.
    pub rule_name: String,
    /// Detector family.
    pub rule_kind: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// First event.
    pub first_seen: Timestamp,
    /// Last event.
    pub last_seen: Timestamp,
    /// Events behind it.
    pub event_count: u64,
    /// Principal ARN.
    pub principal: Option<String>,
    /// Account.
    pub account: Option<String>,
    /// Source IP.
    pub source_ip: Option<String>,
    /// Triage status.
    pub status: TriageStatus,
    /// Assignee.
    pub assignee: Option<String>,
    /// Insertion order, increasing: the live stream resumes after it.
    pub seq: i64,
}

/// A page of the alert list with the counts of the whole filtered set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertPage {
    /// Alerts matching the filters.
    pub total: u64,
    /// Matching alerts by severity (most severe first).
    pub by_severity: Vec<Count>,
    /// Matching alerts by status.
    pub by_status: Vec<Count>,
    /// The page.
    pub items: Vec<AlertSummary>,
    /// The highest `seq` in the store (where a live stream starts).
    pub latest_seq: i64,
}

/// Counts per time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Bucket start.
    pub start: Timestamp,
    /// Rows in the bucket.
    pub count: u64,
}

/// Figures for the overview page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// All alerts.
    pub alerts_total: u64,
    /// Alerts by status.
    pub by_status: Vec<Count>,
    /// Alerts by severity.
    pub by_severity: Vec<Count>,
    /// Alerts per bucket (by last seen) over the latest alert days.
    pub alerts_over_time: Vec<Bucket>,
    /// Bucket width of `alerts_over_time` and `events_over_time`, in milliseconds.
    pub bucket_ms: i64,
    /// Rules with the most alerts.
    pub top_rules: Vec<Count>,
    /// Principals with the most alerts.
    pub top_principals: Vec<Count>,
    /// Stored events.
    pub events_total: u64,
    /// The earliest stored event.
    pub first_event: Option<Timestamp>,
    /// The latest stored event.
    pub last_event: Option<Timestamp>,
    /// Events per bucket over the latest day of events.
    pub events_over_time: Vec<Bucket>,
}

const SUMMARY_COLUMNS: &str = "a.id, a.rule_id, a.rule_name, a.rule_kind, a.title, a.severity, \
    a.first_seen, a.last_seen, a.event_count, a.principal, a.account, a.source_ip, a.status, \
    t.verdict, a.assignee, a.rowid";

const FROM_ALERTS: &str = "FROM alerts a LEFT JOIN alert_triage t ON t.alert_id = a.id";

const SEVERITY_RANK: &str = "CASE a.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 \
    WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END";

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertSummary> {
    let status: String = r.get(12)?;
    let verdict: Option<String> = r.get(13)?;
    Ok(AlertSummary {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        rule_name: r.get(2)?,
        rule_kind: r.get(3)?,
        title: r.get(4)?,
        severity: r.get(5)?,
        first_seen: Timestamp::from_millis(r.get(6)?),
        last_seen: Timestamp::from_millis(r.get(7)?),
        event_count: r.get::<_, i64>(8)?.max(0) as u64,
        principal: r.get(9)?,
        account: r.get(10)?,
        source_ip: r.get(11)?,
        status: TriageStatus::from_columns(&status, verdict.as_deref()),
        assignee: r.get(14)?,
        seq: r.get(15)?,
    })
}

fn count_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Count> {
    Ok(Count {
        value: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
        count: r.get::<_, i64>(1)?.max(0) as u64,
    })
}

/// The WHERE clause and its arguments for a filter.
fn filter_clause(filter: &AlertFilter) -> (String, Vec<Value>) {
    let mut clause = String::from("WHERE 1");
    let mut args: Vec<Value> = Vec::new();
    if !filter.severities.is_empty() {
        clause.push_str(" AND a.severity IN (");
        for (i, severity) in filter.severities.iter().enumerate() {
            clause.push_str(if i == 0 { "?" } else { ", ?" });
            args.push(severity.as_str().to_owned().into());
        }
        clause.push(')');
    }
    if let Some(rule) = &filter.rule {
        clause.push_str(" AND (a.rule_id = ? OR a.rule_name = ?)");
        args.push(rule.clone().into());
        args.push(rule.clone().into());
    }
    if let Some(kind) = &filter.kind {
        clause.push_str(" AND a.rule_kind = ?");
        args.push(kind.clone().into());
    }
    if !filter.statuses.is_empty() {
        clause.push_str(" AND (");
        for (i, status) in filter.statuses.iter().enumerate() {
            if i > 0 {
                clause.push_str(" OR ");
            }
            clause.push_str(status.condition());
        }
        clause.push(')');
    }
    if let Some(account) = &filter.account {
        clause.push_str(" AND a.account = ?");
        args.push(account.clone().into());
    }
    if let Some(principal) = &filter.principal {
        clause.push_str(" AND a.principal = ?");
        args.push(principal.clone().into());
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        clause.push_str(" AND instr(lower(a.title), lower(?)) > 0");
        args.push(text.trim().to_owned().into());
    }
    if let Some(since) = filter.range.since {
        clause.push_str(" AND a.last_seen >= ?");
        args.push(since.as_millis().into());
    }
    if let Some(until) = filter.range.until {
        clause.push_str(" AND a.first_seen < ?");
        args.push(until.as_millis().into());
    }
    (clause, args)
}

impl Store {
    /// Creates the triage tables and the alert indexes the list needs (idempotent).
    ///
    /// # Errors
    /// On SQLite failures (for example on a read-only store).
    pub fn init_triage(&self) -> Result<()> {
        self.conn
            .execute_batch(TRIAGE_SCHEMA)
            .map_err(sql("creating the triage tables"))
    }

    /// Whether [`Store::init_triage`] has run on this database.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn has_triage(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'alert_history')",
                [],
                |r| r.get::<_, bool>(0),
            )
            .map_err(sql("looking for the triage tables"))
    }

    /// Applies a triage action to an alert and records it in the history (one transaction).
    /// Returns the history entry written.
    ///
    /// # Errors
    /// [`Error::NoSuchAlert`] for an unknown id; SQLite failures.
    pub fn triage(
        &mut self,
        id: &str,
        action: &TriageAction,
        by: &str,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<TriageEntry> {
        let tx = self.conn.transaction().map_err(sql("starting a triage"))?;
        let current: Option<(String, Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT a.status, t.verdict, a.assignee FROM alerts a \
                 LEFT JOIN alert_triage t ON t.alert_id = a.id WHERE a.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql("reading an alert's triage"))?;
        let Some((status, verdict, mut assignee)) = current else {
            return Err(Error::NoSuchAlert(id.to_owned()));
        };
        let mut new_status = TriageStatus::from_columns(&status, verdict.as_deref());
        match action {
            TriageAction::Acknowledge => {
                new_status = TriageStatus::Acknowledged;
                if assignee.is_none() {
                    assignee = Some(by.to_owned());
                }
            }
            TriageAction::CloseTruePositive => new_status = TriageStatus::ClosedTp,
            TriageAction::CloseFalsePositive => new_status = TriageStatus::ClosedFp,
            TriageAction::Reopen => new_status = TriageStatus::Open,
            TriageAction::Assign(who) => {
                assignee = (!who.trim().is_empty()).then(|| who.trim().to_owned());
            }
            TriageAction::Comment | TriageAction::Suppress => {}
        }
        let (column, verdict) = match new_status {
            TriageStatus::Open => ("open", None),
            TriageStatus::Acknowledged => ("acknowledged", None),
            TriageStatus::ClosedTp => ("closed", Some("tp")),
            TriageStatus::ClosedFp => ("closed", Some("fp")),
        };
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        tx.execute(
            "UPDATE alerts SET status = ?2, assignee = ?3, note = coalesce(?4, note),
                updated_by = ?5, updated_at = ?6 WHERE id = ?1",
            params![id, column, assignee, note, by, at.as_millis()],
        )
        .map_err(sql("updating an alert"))?;
        match verdict {
            Some(v) => tx.execute(
                "INSERT INTO alert_triage (alert_id, verdict) VALUES (?1, ?2)
                 ON CONFLICT (alert_id) DO UPDATE SET verdict = excluded.verdict",
                params![id, v],
            ),
            None => tx.execute("DELETE FROM alert_triage WHERE alert_id = ?1", [id]),
        }
        .map_err(sql("recording a verdict"))?;
        tx.execute(
            "INSERT INTO alert_history (alert_id, at, by, action, status, assignee, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                at.as_millis(),
                by,
                action.as_str(),
                new_status.as_str(),
                assignee,
                note
            ],
        )
        .map_err(sql("recording triage history"))?;
        tx.commit().map_err(sql("committing a triage"))?;
        tracing::info!(alert = id, action = action.as_str(), by, "alert triaged");
        Ok(TriageEntry {
            at,
            by: by.to_owned(),
            action: action.as_str().to_owned(),
            status: new_status,
            assignee,
            note: note.map(str::to_owned),
        })
    }

    /// An alert's triage history, oldest first (empty before [`Store::init_triage`]).
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn alert_history(&self, id: &str) -> Result<Vec<TriageEntry>> {
        if !self.has_triage()? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, by, action, status, assignee, note FROM alert_history
                 WHERE alert_id = ?1 ORDER BY id",
            )
            .map_err(sql("preparing the history read"))?;
        let rows = stmt
            .query_map([id], |r| {
                let status: String = r.get(3)?;
                Ok(TriageEntry {
                    at: Timestamp::from_millis(r.get(0)?),
                    by: r.get(1)?,
                    action: r.get(2)?,
                    status: status.parse().unwrap_or(TriageStatus::Open),
                    assignee: r.get(4)?,
                    note: r.get(5)?,
                })
            })
            .map_err(sql("reading the history"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading the history"))
    }

    /// The triage status and assignee of one alert.
    ///
    /// # Errors
    /// [`Error::NoSuchAlert`]; SQLite failures.
    pub fn alert_summary(&self, id: &str) -> Result<AlertSummary> {
        self.conn
            .query_row(
                &format!("SELECT {SUMMARY_COLUMNS} {FROM_ALERTS} WHERE a.id = ?1"),
                [id],
                summary_row,
            )
            .optional()
            .map_err(sql("reading an alert"))?
            .ok_or_else(|| Error::NoSuchAlert(id.to_owned()))
    }

    /// Records a suppression made from an alert and a `suppress` history entry.
    ///
    /// # Errors
    /// [`Error::NoSuchAlert`]; SQLite failures.
    pub fn record_suppression(
        &mut self,
        alert_id: &str,
        reason: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<SuppressionRecord> {
        let summary = self.alert_summary(alert_id)?;
        self.conn
            .execute(
                "INSERT INTO alert_suppressions (rule_id, principal, account, reason, created_by,
                    created_at, from_alert) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    summary.rule_id,
                    summary.principal,
                    summary.account,
                    reason,
                    by,
                    at.as_millis(),
                    alert_id
                ],
            )
            .map_err(sql("recording a suppression"))?;
        let id = self.conn.last_insert_rowid();
        self.triage(alert_id, &TriageAction::Suppress, by, at, Some(reason))?;
        Ok(SuppressionRecord {
            id,
            rule_id: summary.rule_id,
            principal: summary.principal,
            account: summary.account,
            reason: reason.to_owned(),
            created_by: by.to_owned(),
            created_at: at,
            from_alert: alert_id.to_owned(),
        })
    }

    /// Suppressions made from alerts, newest first.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn suppressions(&self) -> Result<Vec<SuppressionRecord>> {
        if !self.has_triage()? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, rule_id, principal, account, reason, created_by, created_at, from_alert
                 FROM alert_suppressions ORDER BY id DESC",
            )
            .map_err(sql("preparing the suppression read"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SuppressionRecord {
                    id: r.get(0)?,
                    rule_id: r.get(1)?,
                    principal: r.get(2)?,
                    account: r.get(3)?,
                    reason: r.get(4)?,
                    created_by: r.get(5)?,
                    created_at: Timestamp::from_millis(r.get(6)?),
                    from_alert: r.get(7)?,
                })
            })
            .map_err(sql("reading suppressions"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading suppressions"))
    }

    /// The filtered, sorted page of alerts with counts of the whole filtered set. Needs
    /// [`Store::init_triage`] to have run.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn alert_list(&self, filter: &AlertFilter) -> Result<AlertPage> {
        let (clause, args) = filter_clause(filter);
        let order = match filter.sort {
            AlertSort::LastSeen => "a.last_seen",
            AlertSort::FirstSeen => "a.first_seen",
            AlertSort::Severity => SEVERITY_RANK,
            AlertSort::EventCount => "a.event_count",
            AlertSort::Rule => "a.rule_id",
        };
        let direction = if filter.ascending { "ASC" } else { "DESC" };
        let mut page_sql =
            format!("SELECT {SUMMARY_COLUMNS} {FROM_ALERTS} {clause} ORDER BY {order} {direction}");
        if filter.sort != AlertSort::LastSeen {
            let _ = write!(page_sql, ", a.last_seen DESC");
        }
        page_sql.push_str(", a.id LIMIT ? OFFSET ?");
        let mut page_args = args.clone();
        page_args.push(limit_i64(filter.limit).into());
        page_args.push(limit_i64(filter.offset).into());
        let items = {
            let mut stmt = self
                .conn
                .prepare(&page_sql)
                .map_err(sql("preparing the alert list"))?;
            let rows = stmt
                .query_map(params_from_iter(page_args), summary_row)
                .map_err(sql("listing alerts"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql("listing alerts"))?
        };
        let by_severity = self.grouped(
            &format!(
                "SELECT a.severity, count(*) {FROM_ALERTS} {clause} GROUP BY 1 \
                 ORDER BY max({SEVERITY_RANK}) DESC"
            ),
            &args,
        )?;
        let by_status = self.grouped(
            &format!(
                "SELECT CASE WHEN a.status = 'closed' THEN 'closed-' || coalesce(t.verdict, 'fp') \
                 ELSE a.status END, count(*) {FROM_ALERTS} {clause} GROUP BY 1 ORDER BY 1"
            ),
            &args,
        )?;
        let total = by_severity.iter().map(|c| c.count).sum();
        Ok(AlertPage {
            total,
            by_severity,
            by_status,
            items,
            latest_seq: self.latest_alert_seq()?,
        })
    }

    fn grouped(&self, statement: &str, args: &[Value]) -> Result<Vec<Count>> {
        let mut stmt = self
            .conn
            .prepare(statement)
            .map_err(sql("preparing alert counts"))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), count_row)
            .map_err(sql("counting alerts"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("counting alerts"))
    }

    /// The highest alert insertion sequence (0 for an empty store).
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn latest_alert_seq(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT coalesce(max(rowid), 0) FROM alerts", [], |r| {
                r.get(0)
            })
            .map_err(sql("reading the alert sequence"))
    }

    /// Alerts inserted after `seq`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn alerts_after(&self, seq: i64, limit: usize) -> Result<Vec<AlertSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} {FROM_ALERTS} WHERE a.rowid > ?1 ORDER BY a.rowid LIMIT ?2"
            ))
            .map_err(sql("preparing the alert stream"))?;
        let rows = stmt
            .query_map(params![seq, limit_i64(limit)], summary_row)
            .map_err(sql("reading new alerts"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading new alerts"))
    }

    fn alert_event_times(&self, id: &str) -> Result<HashMap<String, i64>> {
        let body: Option<String> = self
            .conn
            .prepare_cached("SELECT alert_json FROM alerts WHERE id = ?1")
            .map_err(sql("preparing the alert read"))?
            .query_row([id], |r| r.get(0))
            .optional()
            .map_err(sql("reading an alert"))?;
        let Some(body) = body else {
            return Ok(HashMap::new());
        };
        let alert: Alert = serde_json::from_str(&body).map_err(|source| Error::Json { source })?;
        Ok(alert
            .events
            .into_iter()
            .map(|e| (e.event_id, e.event_time.as_millis()))
            .collect())
    }

    /// The raw JSON of an alert's stored events, oldest first, at most `limit`.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn alert_raw_events(&self, id: &str, limit: usize) -> Result<Vec<String>> {
        // Through the stored row of each sampled event (or the idempotence index when the
        // event was stored after the alert): never a join on the decoded `events` view,
        // which would decode the whole store.
        let links: Vec<(String, Option<i64>)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT event_id, event_row FROM alert_events WHERE alert_id = ?1")
                .map_err(sql("preparing the alert events read"))?;
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql("reading alert events"))?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql("reading alert events"))?
        };
        // The sampled events' times, for the idempotence index (keyed by time first); read
        // from the alert's body only when some event was not linked when it was stored.
        let mut times: Option<HashMap<String, i64>> = None;
        let mut rows: Vec<(i64, i64)> = Vec::with_capacity(links.len());
        for (event_id, row) in links {
            let row = match row {
                Some(row) => Some(row),
                None => {
                    if times.is_none() {
                        times = Some(self.alert_event_times(id)?);
                    }
                    match times.as_ref().and_then(|t| t.get(&event_id)) {
                        Some(t) => self
                            .conn
                            .prepare_cached(
                                "SELECT row FROM ids WHERE t = ?1 AND uid = ?2 ORDER BY row LIMIT 1",
                            )
                            .map_err(sql("preparing the event lookup"))?
                            .query_row(params![t, crate::event_uid(&event_id)], |r| r.get(0))
                            .optional()
                            .map_err(sql("looking up an event"))?,
                        None => None,
                    }
                }
            };
            let Some(row) = row else { continue };
            let t: Option<i64> = self
                .conn
                .prepare_cached("SELECT t FROM event_rows WHERE id = ?1")
                .map_err(sql("preparing the event time read"))?
                .query_row([row], |r| r.get(0))
                .optional()
                .map_err(sql("reading an event time"))?;
            if let Some(t) = t {
                rows.push((t, row));
            }
        }
        rows.sort_unstable();
        rows.dedup();
        rows.truncate(limit);
        let mut reader = self.reader.lock().map_err(|_| Error::Poisoned)?;
        let mut out = Vec::with_capacity(rows.len());
        for (_, row) in rows {
            if let Some(raw) = reader.record(row)? {
                out.push(raw);
            }
        }
        Ok(out)
    }

    /// Events per bucket of `bucket_ms` in `range` for a principal (ARN or principal key),
    /// IP, access key or session, for timeline charts. `column` is one of `principal`, `ip`,
    /// `key`, `session`; anything else counts every event.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn event_histogram(
        &self,
        column: &str,
        value: &str,
        range: TimeRange,
        bucket_ms: i64,
    ) -> Result<Vec<Bucket>> {
        let (since, until) = range.bounds();
        let bucket_ms = bucket_ms.max(1);
        let kind = match column {
            "principal" => crate::PivotKind::Principal,
            "ip" => crate::PivotKind::Ip,
            "key" => crate::PivotKind::Key,
            "session" => crate::PivotKind::Session,
            _ => {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT (r.t / ?3) * ?3, count(*) FROM event_rows r
                         WHERE r.t >= ?1 AND r.t < ?2 GROUP BY 1 ORDER BY 1",
                    )
                    .map_err(sql("preparing a histogram"))?;
                let rows = stmt
                    .query_map(params![since, until, bucket_ms], |r| {
                        Ok(Bucket {
                            start: Timestamp::from_millis(r.get(0)?),
                            count: r.get::<_, i64>(1)?.max(0) as u64,
                        })
                    })
                    .map_err(sql("reading a histogram"))?;
                return rows
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql("reading a histogram"));
            }
        };
        Ok(self
            .entity_histogram(kind, value, since, until, bucket_ms)?
            .into_iter()
            .map(|(start, count)| Bucket {
                start: Timestamp::from_millis(start),
                count,
            })
            .collect())
    }

    /// The overview: alert counts, alerts and events over time (hourly buckets over the
    /// latest day of alerts and of events), top rules and principals, event totals.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn overview(&self) -> Result<Overview> {
        const HOUR: i64 = 3_600_000;
        const DAY: i64 = 24 * HOUR;
        let all = AlertFilter::default();
        let (clause, args) = filter_clause(&all);
        let by_severity = self.grouped(
            &format!(
                "SELECT a.severity, count(*) {FROM_ALERTS} {clause} GROUP BY 1 \
                 ORDER BY max({SEVERITY_RANK}) DESC"
            ),
            &args,
        )?;
        let by_status = self.grouped(
            &format!(
                "SELECT CASE WHEN a.status = 'closed' THEN 'closed-' || coalesce(t.verdict, 'fp') \
                 ELSE a.status END, count(*) {FROM_ALERTS} GROUP BY 1 ORDER BY 1"
            ),
            &[],
        )?;
        let top_rules = self.grouped(
            "SELECT a.rule_id || ' ' || a.rule_name, count(*) AS n FROM alerts a \
             GROUP BY a.rule_id ORDER BY n DESC, 1 LIMIT 10",
            &[],
        )?;
        let top_principals = self.grouped(
            "SELECT a.principal, count(*) AS n FROM alerts a WHERE a.principal IS NOT NULL \
             GROUP BY 1 ORDER BY n DESC, 1 LIMIT 10",
            &[],
        )?;
        let last_alert: Option<i64> = self
            .conn
            .query_row("SELECT max(last_seen) FROM alerts", [], |r| r.get(0))
            .map_err(sql("reading the latest alert"))?;
        let alerts_over_time = match last_alert {
            Some(last) => {
                let start = (last - DAY) / HOUR * HOUR + HOUR;
                self.buckets(
                    "SELECT (last_seen / ?1) * ?1, count(*) FROM alerts \
                     WHERE last_seen >= ?2 GROUP BY 1 ORDER BY 1",
                    HOUR,
                    start,
                )?
            }
            None => Vec::new(),
        };
        let (events_total, first_event, last_event): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                // From the blocks' own counts and time spans: no scan of the event rows.
                "SELECT coalesce(sum(n), 0), min(t_min), max(t_max) FROM blocks",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sql("reading event totals"))?;
        let events_over_time = match last_event {
            Some(last) => {
                let start = (last - DAY) / HOUR * HOUR + HOUR;
                // From the hourly counts kept at append time.
                self.buckets(
                    "SELECT (hour / ?1) * ?1, sum(n) FROM event_hours \
                     WHERE hour >= ?2 GROUP BY 1 ORDER BY 1",
                    HOUR,
                    start,
                )?
            }
            None => Vec::new(),
        };
        Ok(Overview {
            alerts_total: by_severity.iter().map(|c| c.count).sum(),
            by_status,
            by_severity,
            alerts_over_time,
            bucket_ms: HOUR,
            top_rules,
            top_principals,
            events_total: events_total.max(0) as u64,
            first_event: first_event.map(Timestamp::from_millis),
            last_event: last_event.map(Timestamp::from_millis),
            events_over_time,
        })
    }

    fn buckets(&self, statement: &str, width: i64, start: i64) -> Result<Vec<Bucket>> {
        let mut stmt = self
            .conn
            .prepare_cached(statement)
            .map_err(sql("preparing buckets"))?;
        let rows = stmt
            .query_map(params![width, start], |r| {
                Ok(Bucket {
                    start: Timestamp::from_millis(r.get(0)?),
                    count: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })
            .map_err(sql("reading buckets"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading buckets"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef};

    fn event(id: &str, name: &str, secs: i64) -> Event {
        let time = Timestamp::from_secs(1_767_225_600 + secs);
        let raw = format!(
            r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"iam.amazonaws.com",
            "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
            "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice",
              "accountId":"123456789012","userName":"alice","accessKeyId":"AKIAEXAMPLE1"}},
            "eventID":"{id}","recipientAccountId":"123456789012"}}"#
        );
        Event::from_json(raw.as_str(), Origin::new("t.json", 0)).unwrap()
    }

    fn alert(e: &Event, rule: &str, severity: Severity) -> Alert {
        Alert::for_event(
            RuleRef {
                id: rule.into(),
                name: format!("{rule}-name"),
                kind: RuleKind::Builtin,
                author: None,
            },
            severity,
            format!("alice called {}", e.event_name()),
            "because".into(),
            e,
        )
    }

    fn store() -> (tempfile::TempDir, Store, Vec<Alert>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.init_triage().unwrap();
        let events = vec![
            event("e1", "CreateUser", 0),
            event("e2", "CreateAccessKey", 60),
            event("e3", "DeleteTrail", 7200),
        ];
        store.append_events(&events).unwrap();
        let alerts = vec![
            alert(&events[0], "TH0001", Severity::Low),
            alert(&events[1], "TH0002", Severity::High),
            alert(&events[2], "TH0003", Severity::Critical),
        ];
        store.append_alerts(&alerts).unwrap();
        (dir, store, alerts)
    }

    #[test]
    fn triage_records_status_and_history() {
        let (_dir, mut store, alerts) = store();
        let id = &alerts[1].id;
        let at = Timestamp::from_secs(1_800_000_000);
        store
            .triage(id, &TriageAction::Acknowledge, "bob", at, None)
            .unwrap();
        store
            .triage(
                id,
                &TriageAction::CloseTruePositive,
                "bob",
                at.add_secs(5),
                Some("confirmed with the owner"),
            )
            .unwrap();
        let summary = store.alert_summary(id).unwrap();
        assert_eq!(summary.status, TriageStatus::ClosedTp);
        assert_eq!(summary.assignee.as_deref(), Some("bob"));
        let history = store.alert_history(id).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].action, "acknowledge");
        assert_eq!(history[1].status, TriageStatus::ClosedTp);
        assert_eq!(history[1].note.as_deref(), Some("confirmed with the owner"));
        // The store's own status stays consistent.
        let stored = store.alert(id).unwrap().unwrap();
        assert_eq!(stored.status, crate::AlertStatus::Closed);
        assert!(matches!(
            store.triage("nope", &TriageAction::Acknowledge, "bob", at, None),
            Err(Error::NoSuchAlert(_))
        ));
    }

    #[test]
    fn list_filters_sorts_and_counts() {
        let (_dir, mut store, alerts) = store();
        let at = Timestamp::from_secs(1_800_000_000);
        store
            .triage(
                &alerts[0].id,
                &TriageAction::CloseFalsePositive,
                "bob",
                at,
                None,
            )
            .unwrap();
        let page = store.alert_list(&AlertFilter::default()).unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.items[0].rule_id, "TH0003");
        assert_eq!(page.by_severity[0].value, "critical");
        assert_eq!(page.latest_seq, 3);
        let open = store
            .alert_list(&AlertFilter {
                statuses: vec![TriageStatus::Open],
                sort: AlertSort::Severity,
                ascending: true,
                ..AlertFilter::default()
            })
            .unwrap();
        assert_eq!(open.total, 2);
        assert_eq!(open.items[0].severity, "high");
        let fp = store
            .alert_list(&AlertFilter {
                statuses: vec![TriageStatus::ClosedFp],
                ..AlertFilter::default()
            })
            .unwrap();
        assert_eq!(fp.items.len(), 1);
        assert_eq!(fp.items[0].status, TriageStatus::ClosedFp);
        let paged = store
            .alert_list(&AlertFilter {
                limit: 1,
                offset: 1,
                severities: vec![Severity::High, Severity::Critical],
                ..AlertFilter::default()
            })
            .unwrap();
        assert_eq!(paged.total, 2);
        assert_eq!(paged.items.len(), 1);
        assert_eq!(paged.items[0].rule_id, "TH0002");
        assert_eq!(store.alerts_after(2, 10).unwrap().len(), 1);
    }

    #[test]
    fn raw_events_histogram_overview_and_suppressions() {
        let (dir, mut store, alerts) = store();
        let raw = store.alert_raw_events(&alerts[2].id, 10).unwrap();
        assert_eq!(raw.len(), 1);
        assert!(raw[0].contains("DeleteTrail"));
        let hist = store
            .event_histogram(
                "principal",
                "arn:aws:iam::123456789012:user/alice",
                TimeRange::default(),
                3_600_000,
            )
            .unwrap();
        assert_eq!(hist.iter().map(|b| b.count).collect::<Vec<_>>(), [2, 1]);
        let overview = store.overview().unwrap();
        assert_eq!(overview.alerts_total, 3);
        assert_eq!(overview.events_total, 3);
        assert_eq!(
            overview
                .events_over_time
                .iter()
                .map(|b| b.count)
                .sum::<u64>(),
            3
        );
        // Duplicates are not counted twice in the hourly counts.
        store
            .append_events(&[event("e1", "CreateUser", 0)])
            .unwrap();
        let hourly = |store: &Store| -> Vec<u64> {
            let overview = store.overview().unwrap();
            overview.events_over_time.iter().map(|b| b.count).collect()
        };
        assert_eq!(hourly(&store), [2, 1]);
        // An alert stored before its event: its event is found through the idempotence index.
        let late = event("e4", "DeleteUser", 7300);
        let early = alert(&late, "TH0004", Severity::Low);
        store.append_alerts(std::slice::from_ref(&early)).unwrap();
        store.append_events(&[late]).unwrap();
        let raw = store.alert_raw_events(&early.id, 10).unwrap();
        assert!(raw[0].contains("DeleteUser"), "{raw:?}");
        assert_eq!(hourly(&store), [2, 2]);
        // A store written before the hourly counts existed gets them at its next opening.
        store
            .connection()
            .execute_batch("DELETE FROM event_hours; DELETE FROM meta WHERE key = 'event_hours';")
            .unwrap();
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(hourly(&reopened), [2, 2]);
        let record = store
            .record_suppression(
                &alerts[0].id,
                "expected admin work",
                "bob",
                Timestamp::EPOCH,
            )
            .unwrap();
        assert_eq!(record.rule_id, "TH0001");
        assert_eq!(store.suppressions().unwrap().len(), 1);
        assert_eq!(
            store.alert_history(&alerts[0].id).unwrap()[0].action,
            "suppress"
        );
    }
}
