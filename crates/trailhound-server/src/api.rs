//! The JSON API under `/api`. Handlers parse the request, call the store in a blocking task
//! and answer JSON; the OpenAPI document (`openapi.json`) describes every route here.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use trailhound_core::{Alert, Severity, Timestamp};
use trailhound_store::{
    AlertFilter, AlertSort, PivotKind, SearchQuery, Store, TimeRange, TriageAction, TriageStatus,
};

use crate::auth::SESSION_COOKIE;
use crate::{AppError, AppState, IngestHealth};

/// Most rows a page, a search or a SQL query returns.
const MAX_LIMIT: usize = 1000;
/// Most raw events shown on an alert page.
const ALERT_EVENTS: usize = 50;
/// Longest note, name or reason accepted.
const MAX_TEXT: usize = 4000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/alerts", get(list_alerts))
        .route("/api/alerts/stream", get(stream_alerts))
        .route("/api/alerts/{id}", get(get_alert))
        .route("/api/alerts/{id}/actions", post(alert_action))
        .route("/api/suppressions", get(list_suppressions))
        .route("/api/search", get(search))
        .route("/api/sql", post(run_sql))
        .route("/api/pivot", get(pivot))
        .route("/api/overview", get(overview))
}

fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_millis(millis)
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

fn parse_time(name: &str, text: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Timestamp::parse(t).map(Some).map_err(|_| {
            bad(format!(
                "{name}: expected RFC 3339 time or YYYY-MM-DD, got {t:?}"
            ))
        }),
    }
}

fn parse_limit(text: Option<&str>, default: usize) -> Result<usize, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(bad(format!("limit: expected 1 to {MAX_LIMIT}, got {t:?}"))),
        },
    }
}

fn range(since: Option<&str>, until: Option<&str>) -> Result<TimeRange, AppError> {
    Ok(TimeRange {
        since: parse_time("since", since)?,
        until: parse_time("until", until)?,
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn bounded(name: &str, value: Option<String>) -> Result<Option<String>, AppError> {
    match non_empty(value) {
        Some(v) if v.chars().count() > MAX_TEXT => {
            Err(bad(format!("{name}: at most {MAX_TEXT} characters")))
        }
        other => Ok(other),
    }
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    token: String,
}

async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginBody>,
) -> Result<Response, AppError> {
    let Some(token) = &state.auth else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if !token.matches(body.token.trim()) {
        tracing::warn!("failed login");
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "wrong access token" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(response);
    }
    let secure = if state.secure_cookie { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        token.session_value()
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    Ok(response)
}

async fn logout() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "trailhound_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
struct AlertsParams {
    severity: Option<String>,
    rule: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    account: Option<String>,
    principal: Option<String>,
    q: Option<String>,
    since: Option<String>,
    until: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn comma_list(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn alert_filter(p: AlertsParams) -> Result<AlertFilter, AppError> {
    let mut severities = Vec::new();
    for s in comma_list(p.severity.as_deref()) {
        severities.push(
            s.parse::<Severity>()
                .map_err(|_| bad(format!("severity: unknown {s:?}")))?,
        );
    }
    let mut statuses = Vec::new();
    for s in comma_list(p.status.as_deref()) {
        statuses.push(
            s.parse::<TriageStatus>()
                .map_err(|_| bad(format!("status: unknown {s:?}")))?,
        );
    }
    let sort = match p.sort.as_deref().map(str::trim).unwrap_or("") {
        "" | "last_seen" => AlertSort::LastSeen,
        "first_seen" => AlertSort::FirstSeen,
        "severity" => AlertSort::Severity,
        "event_count" => AlertSort::EventCount,
        "rule" => AlertSort::Rule,
        other => return Err(bad(format!("sort: unknown {other:?}"))),
    };
    let ascending = match p.order.as_deref().map(str::trim).unwrap_or("") {
        "" | "desc" => false,
        "asc" => true,
        other => return Err(bad(format!("order: expected asc or desc, got {other:?}"))),
    };
    let offset = match p.offset.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 10_000_000)
            .ok_or_else(|| bad(format!("offset: expected 0 to 10000000, got {t:?}")))?,
    };
    Ok(AlertFilter {
        severities,
        rule: non_empty(p.rule),
        kind: non_empty(p.kind),
        statuses,
        account: non_empty(p.account),
        principal: non_empty(p.principal),
        text: non_empty(p.q),
        range: range(p.since.as_deref(), p.until.as_deref())?,
        sort,
        ascending,
        limit: parse_limit(p.limit.as_deref(), 50)?,
        offset,
    })
}

async fn list_alerts(
    State(state): State<AppState>,
    Query(params): Query<AlertsParams>,
) -> Result<Json<Value>, AppError> {
    let filter = alert_filter(params)?;
    let page = state
        .read(move |store| Ok(store.alert_list(&filter)?))
        .await?;
    Ok(Json(json!(page)))
}

#[derive(Debug, Deserialize)]
struct StreamParams {
    after: Option<String>,
}

async fn stream_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    // A reconnecting browser resumes after the last id it saw.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(params.after);
    let start = match resume.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| bad(format!("after: expected an integer, got {t:?}")))?,
        None => state.read(|store| Ok(store.latest_alert_seq()?)).await?,
    };
    let interval = state.poll_interval;
    let stream = futures_util::stream::unfold(
        (state, start, std::collections::VecDeque::new(), true),
        move |(state, mut seq, mut pending, mut first)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    return Some((Ok(event), (state, seq, pending, first)));
                }
                if !first {
                    tokio::time::sleep(interval).await;
                }
                first = false;
                let after = seq;
                let fresh = state
                    .read(move |store| Ok(store.alerts_after(after, 200)?))
                    .await;
                match fresh {
                    Ok(alerts) => {
                        for alert in alerts {
                            seq = seq.max(alert.seq);
                            let data = serde_json::to_string(&alert).unwrap_or_default();
                            pending.push_back(
                                SseEvent::default()
                                    .event("alert")
                                    .id(alert.seq.to_string())
                                    .data(data),
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = ?e, "polling for new alerts failed"),
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The width of timeline buckets for a span: about 24 buckets, at least a minute.
fn bucket_width(span_ms: i64) -> i64 {
    const MINUTE: i64 = 60_000;
    let raw = (span_ms / 24).max(MINUTE);
    [
        MINUTE,
        5 * MINUTE,
        15 * MINUTE,
        60 * MINUTE,
        6 * 60 * MINUTE,
        24 * 60 * MINUTE,
    ]
    .into_iter()
    .find(|w| *w >= raw)
    .unwrap_or(24 * 60 * MINUTE)
}

fn alert_page(store: &Store, id: &str) -> Result<Value, AppError> {
    let Some(stored) = store.alert(id)? else {
        return Err(AppError::NotFound(format!("no alert with id {id}")));
    };
    let summary = store.alert_summary(id)?;
    let history = store.alert_history(id)?;
    let mut events = Vec::new();
    for raw in store.alert_raw_events(id, ALERT_EVENTS)? {
        events.push(serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw)));
    }
    let alert: &Alert = &stored.alert;
    // The principal's activity around the alert: from an hour before to an hour after.
    let hour = 3_600_000;
    let window = TimeRange {
        since: Some(alert.first_seen.add_millis(-hour)),
        until: Some(alert.last_seen.add_millis(hour + 1)),
    };
    let bucket_ms = bucket_width(alert.last_seen.millis_since(alert.first_seen) + 2 * hour);
    let timeline = match &alert.entity.principal {
        Some(principal) => store.event_histogram("principal", principal, window, bucket_ms)?,
        None => Vec::new(),
    };
    Ok(json!({
        "alert": alert,
        "triage": summary,
        "note": stored.note,
        "history": history,
        "events": events,
        "timeline": { "bucket_ms": bucket_ms, "range": window, "principal_buckets": timeline },
    }))
}

async fn get_alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let page = state.read(move |store| alert_page(store, &id)).await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
struct ActionBody {
    action: String,
    note: Option<String>,
    assignee: Option<String>,
    by: Option<String>,
}

async fn alert_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ActionBody>,
) -> Result<Json<Value>, AppError> {
    let note = bounded("note", body.note)?;
    let by = bounded("by", body.by)?.unwrap_or_else(|| "analyst".to_owned());
    let action = match body.action.as_str() {
        "acknowledge" => TriageAction::Acknowledge,
        "close-tp" => TriageAction::CloseTruePositive,
        "close-fp" => TriageAction::CloseFalsePositive,
        "reopen" => TriageAction::Reopen,
        "comment" if note.is_some() => TriageAction::Comment,
        "comment" => return Err(bad("comment: a note is required")),
        "assign" => TriageAction::Assign(bounded("assignee", body.assignee)?.unwrap_or_default()),
        "suppress" => TriageAction::Suppress,
        other => {
            return Err(bad(format!(
                "action: unknown {other:?} (acknowledge, close-tp, close-fp, reopen, assign, comment, suppress)"
            )));
        }
    };
    let at = now();
    let suppressions_file = state.suppressions_file.clone();
    let out = state
        .write(move |store| {
            if action == TriageAction::Suppress {
                let reason = note.unwrap_or_else(|| "suppressed from the web UI".to_owned());
                // The pipeline's file first: a suppression that is recorded but not in
                // force would mislead.
                let in_pipeline = match &suppressions_file {
                    Some(path) => {
                        let summary = store.alert_summary(&id)?;
                        Some(add_pipeline_suppression(path, &summary, &reason, &by, at)?)
                    }
                    None => None,
                };
                let record = store.record_suppression(&id, &reason, &by, at)?;
                let summary = store.alert_summary(&id)?;
                let entry = store.alert_history(&id)?.pop();
                let mut out = json!({ "entry": entry, "alert": summary, "suppression": record });
                if let Some(pipeline_id) = in_pipeline {
                    out["pipeline_suppression"] = json!(pipeline_id);
                }
                return Ok(out);
            }
            let entry = store.triage(&id, &action, &by, at, note.as_deref())?;
            let summary = store.alert_summary(&id)?;
            Ok(json!({ "entry": entry, "alert": summary }))
        })
        .await?;
    Ok(Json(out))
}

/// Appends "this rule, for this principal, in this account" to the alert pipeline's
/// suppressions file; returns the suppression's id.
fn add_pipeline_suppression(
    path: &std::path::Path,
    alert: &trailhound_store::AlertSummary,
    reason: &str,
    by: &str,
    at: Timestamp,
) -> Result<String, AppError> {
    use trailhound_alert::suppress::{Suppression, SuppressionFile};
    let mut conditions = std::collections::BTreeMap::new();
    conditions.insert("rule".to_owned(), vec![alert.rule_id.clone()]);
    if let Some(principal) = &alert.principal {
        conditions.insert("principal".to_owned(), vec![principal.clone()]);
    }
    if let Some(account) = &alert.account {
        conditions.insert("account".to_owned(), vec![account.clone()]);
    }
    let suppression = Suppression::new(
        conditions,
        reason.to_owned(),
        Some(by.to_owned()),
        Some(at),
        None,
    );
    SuppressionFile::open(path)
        .and_then(|mut file| file.add(suppression))
        .map_err(|e| AppError::Internal(format!("suppressions file: {e}")))
}

async fn list_suppressions(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let list = state.read(|store| Ok(store.suppressions()?)).await?;
    Ok(Json(json!({ "suppressions": list })))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Json<Value>, AppError> {
    let text = non_empty(p.q).ok_or_else(|| bad("q: search text is required"))?;
    if text.len() > MAX_TEXT {
        return Err(bad(format!("q: at most {MAX_TEXT} characters")));
    }
    let query = SearchQuery {
        text,
        range: range(p.since.as_deref(), p.until.as_deref())?,
        fields: Vec::new(),
        limit: parse_limit(p.limit.as_deref(), 100)?,
    };
    let events = state.read(move |store| Ok(store.search(&query)?)).await?;
    Ok(Json(json!({ "events": events })))
}

#[derive(Debug, Deserialize)]
struct SqlBody {
    sql: String,
}

/// Wraps a statement so at most `MAX_LIMIT + 1` rows come back.
fn capped_statement(sql: &str) -> Result<String, AppError> {
    let body = sql.trim().trim_end_matches(';').trim();
    if body.is_empty() {
        return Err(bad("sql: a statement is required"));
    }
    let head = body
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if head != "select" && head != "with" && head != "values" {
        return Err(bad(
            "sql: only SELECT, WITH and VALUES statements are allowed",
        ));
    }
    Ok(format!("SELECT * FROM ({body}\n) LIMIT {}", MAX_LIMIT + 1))
}

async fn run_sql(
    State(state): State<AppState>,
    Json(body): Json<SqlBody>,
) -> Result<Json<Value>, AppError> {
    if body.sql.len() > 10_000 {
        return Err(bad("sql: at most 10000 characters"));
    }
    let statement = capped_statement(&body.sql)?;
    let store = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.take_reader())
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??
    };
    let interrupt = store.connection().get_interrupt_handle();
    let started = std::time::Instant::now();
    let task = tokio::task::spawn_blocking(move || {
        let out = store.query(&statement);
        (store, out)
    });
    let (store, result) = match tokio::time::timeout(state.query_timeout, task).await {
        Ok(joined) => joined.map_err(|e| AppError::Internal(e.to_string()))?,
        Err(_) => {
            interrupt.interrupt();
            return Err(AppError::Timeout(format!(
                "query interrupted after {} s",
                state.query_timeout.as_secs()
            )));
        }
    };
    state.give_back(store);
    let mut result = result?;
    let truncated = result.rows.len() > MAX_LIMIT;
    result.rows.truncate(MAX_LIMIT);
    Ok(Json(json!({
        "columns": result.columns,
        "rows": result.rows,
        "truncated": truncated,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    })))
}

#[derive(Debug, Deserialize)]
struct PivotParams {
    kind: Option<String>,
    value: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

async fn pivot(
    State(state): State<AppState>,
    Query(p): Query<PivotParams>,
) -> Result<Json<Value>, AppError> {
    let kind = match p.kind.as_deref().map(str::trim).unwrap_or("") {
        "principal" => PivotKind::Principal,
        "ip" => PivotKind::Ip,
        "key" => PivotKind::Key,
        "session" => PivotKind::Session,
        "resource" => PivotKind::Resource,
        other => {
            return Err(bad(format!(
                "kind: expected principal, ip, key, session or resource, got {other:?}"
            )));
        }
    };
    let value = non_empty(p.value).ok_or_else(|| bad("value: required"))?;
    if value.len() > MAX_TEXT {
        return Err(bad(format!("value: at most {MAX_TEXT} characters")));
    }
    let window = range(p.since.as_deref(), p.until.as_deref())?;
    let limit = parse_limit(p.limit.as_deref(), 100)?;
    let out = state
        .read(move |store| {
            let pivot = store.pivot(kind, &value, window, limit)?;
            let (buckets, bucket_ms) = match (pivot.first_seen, pivot.last_seen) {
                (Some(first), Some(last)) if kind != PivotKind::Resource => {
                    let width = bucket_width(last.millis_since(first));
                    let span = TimeRange {
                        since: Some(first),
                        until: Some(last.add_millis(1)),
                    };
                    (
                        store.event_histogram(kind.as_str(), &value, span, width)?,
                        width,
                    )
                }
                (Some(first), Some(last)) => {
                    // Resources have no index column: chart the timeline rows shown.
                    let width = bucket_width(last.millis_since(first));
                    let mut counts = std::collections::BTreeMap::<i64, u64>::new();
                    for row in &pivot.timeline {
                        let start = row.event_time.as_millis().div_euclid(width) * width;
                        *counts.entry(start).or_default() += 1;
                    }
                    let buckets = counts
                        .into_iter()
                        .map(|(start, count)| trailhound_store::Bucket {
                            start: Timestamp::from_millis(start),
                            count,
                        })
                        .collect();
                    (buckets, width)
                }
                _ => (Vec::new(), 60_000),
            };
            Ok(json!({ "pivot": pivot, "histogram": { "bucket_ms": bucket_ms, "buckets": buckets } }))
        })
        .await?;
    Ok(Json(out))
}

async fn overview(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let live = state
        .ingest_health
        .as_ref()
        .and_then(crate::IngestHealthHandle::get);
    let at = now();
    let out = state
        .read(move |store| {
            let overview = store.overview()?;
            let ingest = match live {
                Some(health) => health,
                None => {
                    // Without a running pipeline: the rate over the latest hour of stored
                    // events and the lag behind the newest one.
                    let latest_hour = overview.events_over_time.last().map_or(0, |b| b.count);
                    IngestHealth {
                        source: "store".to_owned(),
                        events_per_second: latest_hour as f64 / 3600.0,
                        lag_seconds: overview
                            .last_event
                            .map(|t| at.millis_since(t) as f64 / 1000.0),
                        errors: 0,
                        events_read: overview.events_total,
                        updated_at: Some(at),
                    }
                }
            };
            Ok(json!({ "overview": overview, "ingest": ingest }))
        })
        .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_capped_and_checked() {
        assert_eq!(
            capped_statement("select 1;").unwrap(),
            "SELECT * FROM (select 1\n) LIMIT 1001"
        );
        assert!(capped_statement("DELETE FROM alerts").is_err());
        assert!(capped_statement("  ").is_err());
    }

    #[test]
    fn bucket_widths() {
        assert_eq!(bucket_width(0), 60_000);
        assert_eq!(bucket_width(2 * 3_600_000), 300_000);
        assert_eq!(bucket_width(30 * 86_400_000), 86_400_000);
    }
}
