//! Full-text search and pivots.
//!
//! Search narrows the blocks with their word filters ([`crate::terms`]), decompresses the
//! candidate blocks newest first and checks each record, stopping once the newest `limit`
//! matches are known. Pivots on a principal key use the `event_rows_pkey` index; pivots on an
//! IP, key or session narrow the blocks with the same filters and then compare the typed
//! column inside each candidate block; a resource pivot is a search.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt::Write as _;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde::Serialize;
use trailhound_core::Timestamp;

use crate::codec::{Block, event_id_from_raw};
use crate::{Error, FILTER_FIELDS, Result, Store, StoredAlert, TimeRange, sql, terms};

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
const TOP: usize = 10;

/// A block that may hold what is searched for.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    id: i64,
    n: i64,
    t_max: i64,
}

/// The typed columns of one event row, with strings still as dictionary ids.
#[derive(Debug, Clone)]
struct Hit {
    id: i64,
    t: i64,
    source: i64,
    name: String,
    region: Option<i64>,
    account: i64,
    principal: Option<i64>,
    ip: Option<i64>,
    akey: Option<i64>,
    err: Option<i64>,
    ua: Option<i64>,
}

const HIT_COLUMNS: &str = "r.id, r.t, r.source, r.event_name, r.region, r.account, r.principal, \
     r.ip, r.akey, r.err, r.ua";

fn hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<Hit> {
    Ok(Hit {
        id: r.get(0)?,
        t: r.get(1)?,
        source: r.get(2)?,
        name: r.get(3)?,
        region: r.get(4)?,
        account: r.get(5)?,
        principal: r.get(6)?,
        ip: r.get(7)?,
        akey: r.get(8)?,
        err: r.get(9)?,
        ua: r.get(10)?,
    })
}

/// The physical column behind a filterable field; `None` for `event_id`, which lives in the
/// raw record only.
fn physical(field: &str) -> Option<&'static str> {
    Some(match field {
        "event_source" => "source",
        "event_name" => "event_name",
        "aws_region" => "region",
        "account" => "account",
        "principal_arn" => "principal",
        "principal_key" => "pkey",
        "identity_type" => "itype",
        "user_name" => "uname",
        "access_key_id" => "akey",
        "session" => "session",
        "source_ip" => "ip",
        "user_agent" => "ua",
        "error_code" => "err",
        "event_type" => "etype",
        "country" => "country",
        "cloud" => "cloud",
        _ => return None,
    })
}

/// The newest `limit` (time, row) pairs seen.
struct Newest {
    limit: usize,
    heap: BinaryHeap<Reverse<(i64, i64)>>,
}

impl Newest {
    fn new(limit: usize) -> Newest {
        Newest {
            limit,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, t: i64, id: i64) {
        if self.limit == 0 {
            return;
        }
        if self.heap.len() < self.limit {
            self.heap.push(Reverse((t, id)));
        } else if self.heap.peek().is_some_and(|Reverse(min)| (t, id) > *min) {
            self.heap.pop();
            self.heap.push(Reverse((t, id)));
        }
    }

    /// Whether nothing at or before `t` can enter any more.
    fn full_before(&self, t: i64) -> bool {
        self.heap.len() >= self.limit && self.heap.peek().is_some_and(|Reverse(min)| t < min.0)
    }

    /// Newest first.
    fn into_sorted(self) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = self.heap.into_iter().map(|Reverse(x)| x).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }
}

/// Counts of dictionary ids (or names), most first then by value, at most [`TOP`].
fn top_counts<K: std::hash::Hash + Eq>(
    counts: HashMap<K, u64>,
    name: impl Fn(&K) -> String,
) -> Vec<Count> {
    let mut out: Vec<Count> = counts
        .into_iter()
        .map(|(k, count)| Count {
            value: name(&k),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out.truncate(TOP);
    out
}

/// Running totals of a pivot.
#[derive(Default)]
struct Tally {
    total: u64,
    first: Option<i64>,
    last: Option<i64>,
    api: HashMap<(i64, String), u64>,
    region: HashMap<Option<i64>, u64>,
    ip: HashMap<Option<i64>, u64>,
    ua: HashMap<Option<i64>, u64>,
    principal: HashMap<Option<i64>, u64>,
}

impl Tally {
    fn add(&mut self, h: &Hit) {
        self.total += 1;
        self.first = Some(self.first.map_or(h.t, |f| f.min(h.t)));
        self.last = Some(self.last.map_or(h.t, |l| l.max(h.t)));
        *self.api.entry((h.source, h.name.clone())).or_default() += 1;
        *self.region.entry(h.region).or_default() += 1;
        *self.ip.entry(h.ip).or_default() += 1;
        *self.ua.entry(h.ua).or_default() += 1;
        *self.principal.entry(h.principal).or_default() += 1;
    }
}

/// What a pivot matches, resolved to dictionary ids and words.
enum Matcher {
    /// Nothing can match (the value is not in the store).
    Nothing,
    /// `pkey = id`, through its index.
    PrincipalKey(i64),
    /// `principal = id OR uname = id`, a scan.
    PrincipalOther(i64),
    /// `column = id` inside the blocks whose filters hold `words`.
    Column {
        column: &'static str,
        id: i64,
        words: terms::Words,
    },
    /// Records holding every word.
    Words(terms::Words),
}

impl Store {
    fn string(&self, id: Option<i64>) -> Result<Option<String>> {
        let Some(id) = id else { return Ok(None) };
        let dict = self.dict.read().map_err(|_| Error::Poisoned)?;
        if let Some(s) = dict.get(id) {
            return Ok(Some(s.to_string()));
        }
        drop(dict);
        self.conn
            .query_row("SELECT s FROM dict WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(sql("reading a dictionary string"))
    }

    fn dict_id(&self, s: &str) -> Result<Option<i64>> {
        let dict = self.dict.read().map_err(|_| Error::Poisoned)?;
        if let Some(id) = dict.id(s) {
            return Ok(Some(id));
        }
        drop(dict);
        self.conn
            .query_row("SELECT id FROM dict WHERE s = ?1", [s], |r| r.get(0))
            .optional()
            .map_err(sql("looking up a dictionary string"))
    }

    /// Blocks overlapping `[since, until)` whose filters may hold every word, newest first.
    fn candidates(&self, words: &terms::Words, since: i64, until: i64) -> Result<Vec<Candidate>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.id, b.n, b.t_max, f.filter FROM blocks b JOIN block_terms f ON f.block = b.id
                 WHERE b.t_max >= ?1 AND b.t_min < ?2",
            )
            .map_err(sql("preparing the block scan"))?;
        let mut rows = stmt
            .query(params![since, until])
            .map_err(sql("scanning block filters"))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sql("reading a block filter"))? {
            let filter = r.get_ref(3).map_err(sql("reading a block filter"))?;
            let bytes = filter.as_blob().map_err(|e| Error::Sql {
                context: "reading a block filter",
                source: e.into(),
            })?;
            if terms::filter_may_hold(bytes, words) {
                out.push(Candidate {
                    id: r.get(0).map_err(sql("reading a block"))?,
                    n: r.get(1).map_err(sql("reading a block"))?,
                    t_max: r.get(2).map_err(sql("reading a block"))?,
                });
            }
        }
        out.sort_by(|a, b| b.t_max.cmp(&a.t_max).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    pub(crate) fn read_block(&self, id: i64) -> Result<Block> {
        let data: Vec<u8> = self
            .conn
            .query_row("SELECT data FROM blocks WHERE id = ?1", [id], |r| r.get(0))
            .map_err(sql("reading a raw block"))?;
        Block::decode(&data)
    }

    /// Builds the result rows for `(time, row)` pairs, keeping their order; `known` holds
    /// event ids already read from the raw records.
    fn event_rows(
        &self,
        rows: &[(i64, i64)],
        mut known: HashMap<i64, String>,
    ) -> Result<Vec<EventRow>> {
        let mut missing: Vec<i64> = rows
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| !known.contains_key(id))
            .collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            let mut reader = self.reader.lock().map_err(|_| Error::Poisoned)?;
            for id in missing {
                if let Some(raw) = reader.record(id)? {
                    known.insert(id, event_id_from_raw(&raw));
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {HIT_COLUMNS} FROM event_rows r WHERE r.id = ?1"
            ))
            .map_err(sql("preparing an event read"))?;
        let mut out = Vec::with_capacity(rows.len());
        for (_, id) in rows {
            let Some(h) = stmt
                .query_row([id], hit)
                .optional()
                .map_err(sql("reading an event"))?
            else {
                continue;
            };
            out.push(EventRow {
                event_time: Timestamp::from_millis(h.t),
                event_source: self.string(Some(h.source))?.unwrap_or_default(),
                event_name: h.name,
                aws_region: self.string(h.region)?,
                account: self.string(Some(h.account))?.unwrap_or_default(),
                principal_arn: self.string(h.principal)?,
                source_ip: self.string(h.ip)?,
                access_key_id: self.string(h.akey)?,
                error_code: self.string(h.err)?,
                event_id: known.remove(id).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Full-text search over every event's raw record, newest first.
    ///
    /// # Errors
    /// [`Error::EmptySearch`] for text with no word, [`Error::UnknownField`] for a filter on
    /// an unknown column; SQLite errors.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<EventRow>> {
        let words = terms::query_words(&query.text);
        if words.is_empty() {
            return Err(Error::EmptySearch {
                text: query.text.clone(),
            });
        }
        let (since, until) = query.range.bounds();
        // Field filters: typed columns in SQL (dictionary ids), the event id on the record.
        let mut condition = String::from("r.id = ?1 AND r.t >= ?2 AND r.t < ?3");
        let mut args: Vec<Value> = Vec::new();
        let mut event_id: Option<&str> = None;
        let mut impossible = false;
        for (field, value) in &query.fields {
            if !FILTER_FIELDS.contains(&field.as_str()) {
                return Err(Error::UnknownField {
                    field: field.clone(),
                    known: FILTER_FIELDS.join(", "),
                });
            }
            match physical(field) {
                None => event_id = Some(value.as_str()),
                Some("event_name") => {
                    let _ = write!(condition, " AND r.event_name = ?{}", args.len() + 4);
                    args.push(value.clone().into());
                }
                Some(column) => match self.dict_id(value)? {
                    Some(id) => {
                        let _ = write!(condition, " AND r.{column} = ?{}", args.len() + 4);
                        args.push(id.into());
                    }
                    None => impossible = true,
                },
            }
        }
        if impossible || query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut check = self
            .conn
            .prepare(&format!("SELECT r.t FROM event_rows r WHERE {condition}"))
            .map_err(sql("preparing a search"))?;
        let mut newest = Newest::new(query.limit);
        let mut ids: HashMap<i64, String> = HashMap::new();
        for block in self.candidates(&words, since, until)? {
            if newest.full_before(block.t_max) {
                break;
            }
            let records = self.read_block(block.id)?;
            for slot in 0..records.len() {
                let Some(record) = records.get(slot) else {
                    continue;
                };
                if !terms::record_has_all(record, &words) {
                    continue;
                }
                let id = event_id_from_raw(record);
                if event_id.is_some_and(|want| want != id) {
                    continue;
                }
                let row = block.id + slot as i64;
                let mut bound: Vec<Value> = vec![row.into(), since.into(), until.into()];
                bound.extend(args.iter().cloned());
                let t: Option<i64> = check
                    .query_row(params_from_iter(bound), |r| r.get(0))
                    .optional()
                    .map_err(sql("checking a search hit"))?;
                if let Some(t) = t {
                    newest.push(t, row);
                    ids.insert(row, id);
                }
            }
        }
        let rows = newest.into_sorted();
        ids.retain(|id, _| rows.iter().any(|(_, r)| r == id));
        self.event_rows(&rows, ids)
    }

    fn matcher(&self, kind: PivotKind, value: &str) -> Result<Matcher> {
        let words = terms::query_words(value);
        if kind == PivotKind::Resource {
            if words.is_empty() {
                return Err(Error::EmptySearch {
                    text: value.to_owned(),
                });
            }
            return Ok(Matcher::Words(words));
        }
        let Some(id) = self.dict_id(value)? else {
            return Ok(Matcher::Nothing);
        };
        Ok(match kind {
            PivotKind::Principal => {
                let is_key: bool = self
                    .conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM principal_runs WHERE pkey = ?1)",
                        [id],
                        |r| r.get(0),
                    )
                    .map_err(sql("looking up a principal"))?;
                if is_key {
                    Matcher::PrincipalKey(id)
                } else {
                    Matcher::PrincipalOther(id)
                }
            }
            PivotKind::Ip => Matcher::Column {
                column: "ip",
                id,
                words,
            },
            PivotKind::Key => Matcher::Column {
                column: "akey",
                id,
                words,
            },
            PivotKind::Session => Matcher::Column {
                column: "session",
                id,
                words,
            },
            PivotKind::Resource => Matcher::Nothing,
        })
    }

    /// Calls `f` with every event row the matcher selects in `[since, until)`.
    fn each_match(
        &self,
        matcher: &Matcher,
        since: i64,
        until: i64,
        mut f: impl FnMut(Hit),
    ) -> Result<()> {
        let mut run = |statement: &str, args: &[Value]| -> Result<()> {
            let mut stmt = self
                .conn
                .prepare_cached(statement)
                .map_err(sql("preparing a pivot scan"))?;
            let mut rows = stmt
                .query(params_from_iter(args.iter()))
                .map_err(sql("scanning pivot events"))?;
            while let Some(r) = rows.next().map_err(sql("reading a pivot event"))? {
                f(hit(r).map_err(sql("reading a pivot event"))?);
            }
            Ok(())
        };
        match matcher {
            Matcher::Nothing => Ok(()),
            // The principal's runs of rows (one per append and day), then each run's rows.
            Matcher::PrincipalKey(id) => run(
                &format!(
                    "SELECT {HIT_COLUMNS} FROM principal_runs p
                     CROSS JOIN event_rows r ON r.id BETWEEN p.first AND p.last
                     WHERE p.pkey = ?1 AND p.t_max >= ?2 AND p.t_min < ?3
                       AND r.t >= ?2 AND r.t < ?3"
                ),
                &[(*id).into(), since.into(), until.into()],
            ),
            Matcher::PrincipalOther(id) => run(
                &format!(
                    "SELECT {HIT_COLUMNS} FROM event_rows r
                     WHERE (r.principal = ?1 OR r.uname = ?1) AND r.t >= ?2 AND r.t < ?3"
                ),
                &[(*id).into(), since.into(), until.into()],
            ),
            Matcher::Column { column, id, words } => {
                let statement = format!(
                    "SELECT {HIT_COLUMNS} FROM event_rows r
                     WHERE r.id >= ?1 AND r.id < ?2 AND r.{column} = ?3 AND r.t >= ?4 AND r.t < ?5"
                );
                for block in self.candidates(words, since, until)? {
                    run(
                        &statement,
                        &[
                            block.id.into(),
                            (block.id + block.n).into(),
                            (*id).into(),
                            since.into(),
                            until.into(),
                        ],
                    )?;
                }
                Ok(())
            }
            Matcher::Words(words) => {
                let statement = format!(
                    "SELECT {HIT_COLUMNS} FROM event_rows r WHERE r.id = ?1 AND r.t >= ?2 AND r.t < ?3"
                );
                for block in self.candidates(words, since, until)? {
                    let records = self.read_block(block.id)?;
                    for slot in 0..records.len() {
                        if records
                            .get(slot)
                            .is_some_and(|r| terms::record_has_all(r, words))
                        {
                            run(
                                &statement,
                                &[(block.id + slot as i64).into(), since.into(), until.into()],
                            )?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether event row `row` is one the matcher selects (any time).
    fn row_matches(&self, matcher: &Matcher, row: i64) -> Result<bool> {
        let (statement, id) = match matcher {
            Matcher::Nothing => return Ok(false),
            Matcher::PrincipalKey(id) => {
                ("SELECT 1 FROM event_rows WHERE id = ?1 AND pkey = ?2", *id)
            }
            Matcher::PrincipalOther(id) => (
                "SELECT 1 FROM event_rows WHERE id = ?1 AND (principal = ?2 OR uname = ?2)",
                *id,
            ),
            Matcher::Column { column, id, .. } => {
                let found = self
                    .conn
                    .query_row(
                        &format!("SELECT 1 FROM event_rows WHERE id = ?1 AND {column} = ?2"),
                        params![row, id],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(sql("checking an alert event"))?;
                return Ok(found.is_some());
            }
            Matcher::Words(words) => {
                let mut reader = self.reader.lock().map_err(|_| Error::Poisoned)?;
                return Ok(reader
                    .record(row)?
                    .is_some_and(|raw| terms::record_has_all(&raw, words)));
            }
        };
        Ok(self
            .conn
            .query_row(statement, params![row, id], |_| Ok(()))
            .optional()
            .map_err(sql("checking an alert event"))?
            .is_some())
    }

    /// Events of a pivot's entity per bucket of `bucket_ms` in `[since, until)`, through the
    /// same indexed paths as the pivot (never a scan of the decoded `events` view).
    pub(crate) fn entity_histogram(
        &self,
        kind: PivotKind,
        value: &str,
        since: i64,
        until: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, u64)>> {
        let matcher = self.matcher(kind, value)?;
        let mut counts: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
        self.each_match(&matcher, since, until, |h| {
            *counts
                .entry(h.t.div_euclid(bucket_ms) * bucket_ms)
                .or_default() += 1;
        })?;
        Ok(counts.into_iter().collect())
    }

    /// Alerts whose sampled events the matcher selects. Indexed columns are joined in one
    /// statement (`alert_events_row`); words are checked against each linked record.
    fn linked_alerts(&self, matcher: &Matcher) -> Result<HashSet<String>> {
        let joined = |condition: &str, id: i64| -> Result<HashSet<String>> {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT DISTINCT ae.alert_id FROM event_rows r
                     JOIN alert_events ae ON ae.event_row = r.id WHERE {condition}"
                ))
                .map_err(sql("preparing the alert links"))?;
            stmt.query_map([id], |r| r.get::<_, String>(0))
                .map_err(sql("reading alert links"))?
                .collect::<rusqlite::Result<HashSet<_>>>()
                .map_err(sql("reading alert links"))
        };
        match matcher {
            Matcher::Nothing => Ok(HashSet::new()),
            Matcher::PrincipalKey(id) => joined("r.pkey = ?1", *id),
            Matcher::PrincipalOther(id) => joined("(r.principal = ?1 OR r.uname = ?1)", *id),
            Matcher::Column { column, id, .. } => joined(&format!("r.{column} = ?1"), *id),
            Matcher::Words(_) => {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT alert_id, event_row FROM alert_events WHERE event_row IS NOT NULL",
                    )
                    .map_err(sql("preparing the alert links"))?;
                let links = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(sql("reading alert links"))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql("reading alert links"))?;
                let mut linked = HashSet::new();
                for (alert, row) in links {
                    if !linked.contains(&alert) && self.row_matches(matcher, row)? {
                        linked.insert(alert);
                    }
                }
                Ok(linked)
            }
        }
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
        let matcher = self.matcher(kind, value)?;
        let mut tally = Tally::default();
        let mut newest = Newest::new(limit);
        self.each_match(&matcher, since, until, |h| {
            newest.push(h.t, h.id);
            tally.add(&h);
        })?;
        let timeline = self.event_rows(&newest.into_sorted(), HashMap::new())?;
        let name =
            |id: &Option<i64>| -> String { self.string(*id).ok().flatten().unwrap_or_default() };
        let by_api = top_counts(tally.api, |(source, event)| {
            format!("{}:{event}", name(&Some(*source)))
        });
        let by_region = top_counts(tally.region, name);
        let by_source_ip = top_counts(tally.ip, name);
        let by_user_agent = top_counts(tally.ua, name);
        let by_principal = top_counts(tally.principal, name);
        // Alerts whose sampled events match.
        let linked = self.linked_alerts(&matcher)?;
        let entity = match kind {
            PivotKind::Principal => "principal = ?1",
            PivotKind::Ip => "source_ip = ?1",
            PivotKind::Key => "access_key_id = ?1",
            PivotKind::Session | PivotKind::Resource => "0",
        };
        let linked: Vec<String> = linked.into_iter().collect();
        let linked = serde_json::to_string(&linked).map_err(|source| Error::Json { source })?;
        let alerts: Vec<StoredAlert> = self.alerts_where(
            &format!(
                "({entity} OR id IN (SELECT value FROM json_each(?4))) \
                 AND last_seen >= ?2 AND first_seen < ?3 ORDER BY last_seen DESC, id LIMIT 100"
            ),
            params![value, since, until, linked],
        )?;
        Ok(Pivot {
            kind,
            value: value.to_owned(),
            range,
            total: tally.total,
            first_seen: tally.first.map(Timestamp::from_millis),
            last_seen: tally.last.map(Timestamp::from_millis),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_keeps_the_latest_in_order() {
        let mut newest = Newest::new(2);
        for (t, id) in [(5, 1), (9, 2), (7, 3), (9, 4)] {
            newest.push(t, id);
        }
        assert!(newest.full_before(8));
        assert!(!newest.full_before(9));
        assert_eq!(newest.into_sorted(), vec![(9, 4), (9, 2)]);
    }

    #[test]
    fn counts_sort_by_count_then_value() {
        let counts: HashMap<&str, u64> = [("b", 2), ("a", 2), ("c", 5)].into_iter().collect();
        let top = top_counts(counts, |k| (*k).to_owned());
        let values: Vec<&str> = top.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(values, ["c", "a", "b"]);
    }
}
