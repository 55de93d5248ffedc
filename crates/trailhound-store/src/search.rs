//! Full-text search and pivots.

use std::fmt::Write as _;

use rusqlite::params_from_iter;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use trailhound_core::{Event, Timestamp};

use crate::{Error, FILTER_FIELDS, Result, Store, StoredAlert, TimeRange, limit_i64, sql};

/// Characters kept inside a search token besides letters and digits; the same as the FTS5
/// tokenizer's `tokenchars`, so IP addresses, host and bucket names and e-mail addresses are
/// single tokens while ARNs split at `:` and `/`.
const TOKEN_CHARS: &[char] = &['.', '-', '_', '@'];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nested<'a> {
    #[serde(borrow, default)]
    request_parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response_elements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    additional_event_data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    service_event_details: Option<&'a RawValue>,
}

/// The text indexed for an event: its hot fields and the JSON text of its request
/// parameters, response elements, additional event data and service event details.
pub(crate) fn searchable_text(event: &Event, out: &mut String) {
    out.clear();
    let id = event.user_identity();
    let hot = [
        Some(event.event_source()),
        Some(event.event_name()),
        Some(event.aws_region()),
        event.account_id(),
        event.principal_arn(),
        id.user_name.as_deref(),
        id.access_key_id.as_deref(),
        id.principal_id.as_deref(),
        Some(event.source().text.as_str()),
        event.user_agent(),
        event.error_code(),
        event.error_message(),
        Some(event.event_id()),
    ];
    for value in hot.into_iter().flatten() {
        out.push_str(value);
        out.push(' ');
    }
    if let Ok(nested) = serde_json::from_str::<Nested<'_>>(event.raw()) {
        for part in [
            nested.request_parameters,
            nested.response_elements,
            nested.additional_event_data,
            nested.service_event_details,
        ]
        .into_iter()
        .flatten()
        {
            out.push_str(part.get());
            out.push(' ');
        }
    }
}

/// Turns user text into an FTS5 query: every token (split as the index splits) must occur.
fn fts_query(text: &str) -> Option<String> {
    let mut query = String::new();
    for token in text
        .split(|c: char| !(c.is_alphanumeric() || TOKEN_CHARS.contains(&c)))
        .filter(|t| !t.is_empty())
    {
        if !query.is_empty() {
            query.push_str(" AND ");
        }
        let _ = write!(query, "\"{}\"", token.replace('"', "\"\""));
    }
    (!query.is_empty()).then_some(query)
}

/// A full-text search.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words that must all occur (an access key id, an IP, a bucket name, a free word).
    pub text: String,
    /// The time window.
    pub range: TimeRange,
    /// Exact-match filters on columns of [`FILTER_FIELDS`].
    pub fields: Vec<(String, String)>,
    /// At most this many events, newest first.
    pub limit: usize,
}

/// One event in a search result or a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    /// `eventTime`.
    pub event_time: Timestamp,
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// `awsRegion`.
    pub aws_region: Option<String>,
    /// The account.
    pub account: String,
    /// The principal's ARN.
    pub principal_arn: Option<String>,
    /// `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `eventID`.
    pub event_id: String,
}

const ROW_COLUMNS: &str = "e.event_time, e.event_source, e.event_name, e.aws_region, e.account, \
     e.principal_arn, e.source_ip, e.access_key_id, e.error_code, e.event_id";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        event_time: Timestamp::from_millis(r.get(0)?),
        event_source: r.get(1)?,
        event_name: r.get(2)?,
        aws_region: r.get(3)?,
        account: r.get(4)?,
        principal_arn: r.get(5)?,
        source_ip: r.get(6)?,
        access_key_id: r.get(7)?,
        error_code: r.get(8)?,
        event_id: r.get(9)?,
    })
}

/// What a pivot is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PivotKind {
    /// A principal: its ARN, its stable key (the role for role sessions) or its user name.
    Principal,
    /// A source IP address (or service name in `sourceIPAddress`).
    Ip,
    /// An access key id.
    Key,
    /// A session: the `principalId` (`AROA…:session-name`).
    Session,
    /// A resource: any word of the request or response (bucket, instance id, ARN…).
    Resource,
}

impl PivotKind {
    /// The kind's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PivotKind::Principal => "principal",
            PivotKind::Ip => "ip",
            PivotKind::Key => "key",
            PivotKind::Session => "session",
            PivotKind::Resource => "resource",
        }
    }
}

/// A value and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The value (empty when absent).
    pub value: String,
    /// Events with it.
    pub count: u64,
}

/// Everything the store knows about one principal, IP, key, session or resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pivot {
    /// What the pivot is about.
    pub kind: PivotKind,
    /// The value pivoted on.
    pub value: String,
    /// The window.
    pub range: TimeRange,
    /// Matching events.
    pub total: u64,
    /// The earliest matching event.
    pub first_seen: Option<Timestamp>,
    /// The latest matching event.
    pub last_seen: Option<Timestamp>,
    /// Counts by `eventSource:eventName`, most first.
    pub by_api: Vec<Count>,
    /// Counts by region.
    pub by_region: Vec<Count>,
    /// Counts by source IP.
    pub by_source_ip: Vec<Count>,
    /// Counts by user agent.
    pub by_user_agent: Vec<Count>,
    /// Counts by principal.
    pub by_principal: Vec<Count>,
    /// The newest matching events, newest first.
    pub timeline: Vec<EventRow>,
    /// Alerts whose entity or sample events involve the value, newest first.
    pub alerts: Vec<StoredAlert>,
}

/// Top values kept per count list in a pivot.
const TOP: i64 = 10;

impl Store {
    /// Full-text search over every event's searchable text, newest first.
    ///
    /// # Errors
    /// [`Error::EmptySearch`] for text with no word, [`Error::UnknownField`] for a filter on
    /// an unknown column; SQLite errors.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<EventRow>> {
        let fts = fts_query(&query.text).ok_or_else(|| Error::EmptySearch {
            text: query.text.clone(),
        })?;
        let (since, until) = query.range.bounds();
        let mut sql_text = format!(
            "SELECT {ROW_COLUMNS} FROM ev e WHERE e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1) \
             AND e.event_time >= ?2 AND e.event_time < ?3"
        );
        let mut args: Vec<Value> = vec![fts.into(), since.into(), until.into()];
        push_field_filters(&query.fields, &mut sql_text, &mut args)?;
        sql_text.push_str(" ORDER BY e.event_time DESC, e.id DESC LIMIT ?");
        args.push(limit_i64(query.limit).into());
        let mut stmt = self
            .conn
            .prepare(&sql_text)
            .map_err(sql("preparing a search"))?;
        let rows = stmt
            .query_map(params_from_iter(args), event_row)
            .map_err(sql("searching"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading search results"))
    }

    /// Pivots on a principal, IP, key, session or resource: a timeline of at most `limit`
    /// events, counts, first and last seen, and the alerts involving it.
    ///
    /// # Errors
    /// SQLite errors; [`Error::EmptySearch`] for a resource with no searchable word.
    pub fn pivot(
        &self,
        kind: PivotKind,
        value: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Pivot> {
        let (since, until) = range.bounds();
        let matcher = match kind {
            // A principal key (user or role ARN) is answered from its index; a session ARN or a
            // user name needs a scan.
            PivotKind::Principal if self.is_principal_key(value)? => {
                "e.principal_key = ?1".to_owned()
            }
            PivotKind::Principal => {
                "(e.principal_key = ?1 OR e.principal_arn = ?1 OR e.user_name = ?1)".to_owned()
            }
            PivotKind::Ip => "e.source_ip = ?1".to_owned(),
            PivotKind::Key => "e.access_key_id = ?1".to_owned(),
            PivotKind::Session => "e.session = ?1".to_owned(),
            PivotKind::Resource => {
                "e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1)".to_owned()
            }
        };
        let bound: String = match kind {
            PivotKind::Resource => fts_query(value).ok_or_else(|| Error::EmptySearch {
                text: value.to_owned(),
            })?,
            _ => value.to_owned(),
        };
        let filter = format!("{matcher} AND e.event_time >= ?2 AND e.event_time < ?3");
        let args = rusqlite::params![bound, since, until];
        let (total, first, last): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*), min(e.event_time), max(e.event_time) FROM ev e WHERE {filter}"
                ),
                args,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sql("counting pivot events"))?;
        let counts = |expr: &str| -> Result<Vec<Count>> {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT coalesce({expr}, ''), count(*) AS n FROM ev e WHERE {filter} \
                     GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP}"
                ))
                .map_err(sql("preparing pivot counts"))?;
            let rows = stmt
                .query_map(args, |r| {
                    Ok(Count {
                        value: r.get(0)?,
                        count: r.get::<_, i64>(1)?.max(0) as u64,
                    })
                })
                .map_err(sql("counting"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql("reading counts"))
        };
        let by_api = counts("e.event_source || ':' || e.event_name")?;
        let by_region = counts("e.aws_region")?;
        let by_source_ip = counts("e.source_ip")?;
        let by_user_agent = counts("e.user_agent")?;
        let by_principal = counts("e.principal_arn")?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM ev e WHERE {filter} ORDER BY e.event_time DESC, e.id DESC LIMIT {}",
                limit_i64(limit)
            ))
            .map_err(sql("preparing the timeline"))?;
        let timeline = stmt
            .query_map(args, event_row)
            .map_err(sql("reading the timeline"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading the timeline"))?;
        let entity = match kind {
            PivotKind::Principal => "principal = ?1",
            PivotKind::Ip => "source_ip = ?1",
            PivotKind::Key => "access_key_id = ?1",
            PivotKind::Session | PivotKind::Resource => "0",
        };
        let alerts = self.alerts_where(
            &format!(
                "({entity} OR id IN (SELECT ae.alert_id FROM alert_events ae JOIN ev e \
                   ON e.event_id = ae.event_id WHERE {matcher})) \
                 AND last_seen >= ?2 AND first_seen < ?3 ORDER BY last_seen DESC, id LIMIT 100"
            ),
            args,
        )?;
        Ok(Pivot {
            kind,
            value: value.to_owned(),
            range,
            total: total.max(0) as u64,
            first_seen: first.map(Timestamp::from_millis),
            last_seen: last.map(Timestamp::from_millis),
            by_api,
            by_region,
            by_source_ip,
            by_user_agent,
            by_principal,
            timeline,
            alerts,
        })
    }
}

impl Store {
    fn is_principal_key(&self, value: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM ev WHERE principal_key = ?1)",
                [value],
                |r| r.get::<_, bool>(0),
            )
            .map_err(sql("looking up a principal"))
    }
}

fn push_field_filters(
    fields: &[(String, String)],
    sql_text: &mut String,
    args: &mut Vec<Value>,
) -> Result<()> {
    for (field, value) in fields {
        let Some(column) = FILTER_FIELDS.iter().find(|f| **f == field.as_str()) else {
            return Err(Error::UnknownField {
                field: field.clone(),
                known: FILTER_FIELDS.join(", "),
            });
        };
        let _ = write!(sql_text, " AND e.{column} = ?");
        args.push(value.clone().into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_splits_like_the_index() {
        assert_eq!(
            fts_query("arn:aws:iam::123456789012:user/alice 203.0.113.7").as_deref(),
            Some(
                "\"arn\" AND \"aws\" AND \"iam\" AND \"123456789012\" AND \"user\" AND \"alice\" AND \"203.0.113.7\""
            )
        );
        assert_eq!(fts_query("  :: "), None);
        assert_eq!(fts_query("a\"b").as_deref(), Some("\"a\" AND \"b\""));
    }
}
