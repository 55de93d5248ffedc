//! Export to an open layout: Hive-style `date=YYYY-MM-DD/account=<id>/part-00000.<ext>`
//! partitions of Parquet (Snappy) or JSON lines, which DuckDB, Athena, Trino and Spark read
//! as they are. The partition columns (`date`, `account`) live in the path only, as Hive
//! layouts require.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use trailhound_core::Timestamp;

use crate::dict::Dict;
use crate::{Error, Result, Store, TimeRange, sql};

/// An export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Apache Parquet, Snappy-compressed, one row group per 65,536 events.
    Parquet,
    /// One raw CloudTrail record per line.
    Jsonl,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Events written.
    pub events: u64,
    /// Files written, relative to the output directory, in order.
    pub files: Vec<String>,
}

const SCHEMA: &str = "message cloudtrail_event {
    required int64 event_time (TIMESTAMP(MILLIS,true));
    required binary event_source (STRING);
    required binary event_name (STRING);
    optional binary aws_region (STRING);
    optional binary principal_arn (STRING);
    optional binary principal_key (STRING);
    optional binary identity_type (STRING);
    optional binary user_name (STRING);
    optional binary access_key_id (STRING);
    optional binary session (STRING);
    optional binary source_ip (STRING);
    optional binary user_agent (STRING);
    optional binary error_code (STRING);
    optional binary error_message (STRING);
    optional boolean read_only;
    optional binary event_type (STRING);
    required binary event_id (STRING);
    optional binary country (STRING);
    optional int64 asn;
    optional binary as_org (STRING);
    optional binary cloud (STRING);
    required binary raw (JSON);
}";

/// Text columns in schema order after `event_time` (index into [`Row::text`]).
const TEXT_COLUMNS: usize = 13;
const ROW_GROUP: usize = 65_536;

#[derive(Debug, Default)]
struct Row {
    event_time: i64,
    /// event_source … error_message (13 columns, the first two required).
    text: [Option<String>; TEXT_COLUMNS],
    read_only: Option<bool>,
    event_type: Option<String>,
    event_id: String,
    country: Option<String>,
    asn: Option<i64>,
    as_org: Option<String>,
    cloud: Option<String>,
    raw: String,
}

fn date_of_day(day: i64) -> String {
    let (y, m, d, ..) = Timestamp::from_millis(day * 86_400_000).parts();
    format!("{y:04}-{m:02}-{d:02}")
}

/// Hive escapes characters that are not safe in a path; account ids are digits, so only an
/// absent account needs the default partition name.
fn account_dir(account: &str) -> String {
    if account.is_empty() || account.contains(['/', '\\', '=', '.']) {
        "__HIVE_DEFAULT_PARTITION__".to_owned()
    } else {
        account.to_owned()
    }
}

/// A dictionary string as an owned optional string.
fn text(dict: &Dict, id: Option<i64>) -> Option<String> {
    id.and_then(|id| dict.get(id)).map(|s| s.to_string())
}

impl Store {
    /// Exports events in `range` to `out` in Hive-style partitions. Existing partition files
    /// of the same name are replaced.
    ///
    /// # Errors
    /// On SQLite, filesystem or Parquet failures.
    pub fn export(
        &self,
        format: ExportFormat,
        range: TimeRange,
        out: &Path,
    ) -> Result<ExportSummary> {
        let (since, until) = range.bounds();
        let mut blocks = self
            .conn
            .prepare(
                "SELECT id, day, n FROM blocks WHERE t_max >= ?1 AND t_min < ?2 ORDER BY day, id",
            )
            .map_err(sql("preparing the export"))?;
        let plan = blocks
            .query_map([since, until], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql("listing blocks to export"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("listing blocks to export"))?;
        let mut rows = self
            .conn
            .prepare(
                "SELECT id, t, source, event_name, region, principal, pkey, itype, uname, akey,
                    session, ip, ua, err, errmsg, ro, etype, country, asn, org, cloud, account
                 FROM event_rows WHERE id >= ?1 AND id < ?2 AND t >= ?3 AND t < ?4 ORDER BY id",
            )
            .map_err(sql("preparing the export"))?;
        let mut summary = ExportSummary::default();
        let mut day_sinks: BTreeMap<String, Sink> = BTreeMap::new();
        let mut current_day: Option<i64> = None;
        let ext = match format {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Jsonl => "jsonl",
        };
        for (block_id, day, n) in plan {
            if current_day != Some(day) {
                for (_, sink) in std::mem::take(&mut day_sinks) {
                    sink.finish()?;
                }
                current_day = Some(day);
            }
            let block = self.read_block(block_id)?;
            let dict = self.dict.read().map_err(|_| Error::Poisoned)?;
            let mut found = rows
                .query(rusqlite::params![block_id, block_id + n, since, until])
                .map_err(sql("reading events to export"))?;
            while let Some(r) = found.next().map_err(sql("reading an event to export"))? {
                let get_id = |i: usize| -> Result<Option<i64>> {
                    r.get::<_, Option<i64>>(i).map_err(sql("reading a column"))
                };
                let id: i64 = r.get(0).map_err(sql("reading id"))?;
                let raw = usize::try_from(id - block_id)
                    .ok()
                    .and_then(|slot| block.get(slot))
                    .unwrap_or_default()
                    .to_owned();
                let mut row = Row {
                    event_time: r.get(1).map_err(sql("reading event_time"))?,
                    ..Row::default()
                };
                row.text[0] = text(&dict, get_id(2)?);
                row.text[1] = Some(r.get(3).map_err(sql("reading event_name"))?);
                for (i, column) in (4..=14).enumerate() {
                    row.text[2 + i] = text(&dict, get_id(column)?);
                }
                row.read_only = r.get(15).map_err(sql("reading read_only"))?;
                row.event_type = text(&dict, get_id(16)?);
                row.country = text(&dict, get_id(17)?);
                row.asn = get_id(18)?;
                row.as_org = text(&dict, get_id(19)?);
                row.cloud = text(&dict, get_id(20)?);
                let account = text(&dict, get_id(21)?).unwrap_or_default();
                row.event_id = crate::codec::event_id_from_raw(&raw);
                row.raw = raw;
                let sink = match day_sinks.entry(account) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        let rel = format!(
                            "date={}/account={}/part-00000.{ext}",
                            date_of_day(day),
                            account_dir(e.key()),
                        );
                        let path = out.join(&rel);
                        summary.files.push(rel);
                        e.insert(Sink::create(format, path)?)
                    }
                };
                sink.push(row)?;
                summary.events += 1;
            }
        }
        for (_, sink) in day_sinks {
            sink.finish()?;
        }
        tracing::info!(
            events = summary.events,
            files = summary.files.len(),
            "export written"
        );
        Ok(summary)
    }
}

enum Sink {
    Parquet {
        path: PathBuf,
        writer: SerializedFileWriter<File>,
        rows: Vec<Row>,
    },
    Jsonl {
        path: PathBuf,
        writer: BufWriter<File>,
    },
}

impl Sink {
    fn create(format: ExportFormat, path: PathBuf) -> Result<Sink> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                context: "creating export directory",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let file = File::create(&path).map_err(|source| Error::Io {
            context: "creating export file",
            path: path.clone(),
            source,
        })?;
        Ok(match format {
            ExportFormat::Jsonl => Sink::Jsonl {
                path,
                writer: BufWriter::new(file),
            },
            ExportFormat::Parquet => {
                let perr = |source| Error::Parquet {
                    path: path.clone(),
                    source,
                };
                let schema = Arc::new(parse_message_type(SCHEMA).map_err(perr)?);
                let props = Arc::new(
                    WriterProperties::builder()
                        .set_compression(Compression::SNAPPY)
                        .build(),
                );
                let writer = SerializedFileWriter::new(file, schema, props).map_err(perr)?;
                Sink::Parquet {
                    path,
                    writer,
                    rows: Vec::with_capacity(ROW_GROUP),
                }
            }
        })
    }

    fn push(&mut self, row: Row) -> Result<()> {
        match self {
            Sink::Jsonl { path, writer } => {
                let ioerr = |source| Error::Io {
                    context: "writing",
                    path: path.clone(),
                    source,
                };
                writer.write_all(row.raw.as_bytes()).map_err(ioerr)?;
                writer.write_all(b"\n").map_err(ioerr)
            }
            Sink::Parquet { path, writer, rows } => {
                rows.push(row);
                if rows.len() >= ROW_GROUP {
                    write_row_group(writer, rows).map_err(|source| Error::Parquet {
                        path: path.clone(),
                        source,
                    })?;
                    rows.clear();
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Jsonl { path, mut writer } => writer.flush().map_err(|source| Error::Io {
                context: "writing",
                path,
                source,
            }),
            Sink::Parquet {
                path,
                mut writer,
                rows,
            } => {
                let perr = |source| Error::Parquet {
                    path: path.clone(),
                    source,
                };
                if !rows.is_empty() {
                    write_row_group(&mut writer, &rows).map_err(perr)?;
                }
                writer.close().map_err(perr)?;
                Ok(())
            }
        }
    }
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> (Vec<ByteArray>, Vec<i16>) {
    let mut out = Vec::new();
    let mut defs = Vec::new();
    for value in values {
        match value {
            Some(v) => {
                out.push(ByteArray::from(v.as_bytes().to_vec()));
                defs.push(1);
            }
            None => defs.push(0),
        }
    }
    (out, defs)
}

fn write_row_group(
    writer: &mut SerializedFileWriter<File>,
    rows: &[Row],
) -> parquet::errors::Result<()> {
    let mut group = writer.next_row_group()?;
    let mut column = 0usize;
    while let Some(mut col) = group.next_column()? {
        match column {
            0 => {
                let times: Vec<i64> = rows.iter().map(|r| r.event_time).collect();
                col.typed::<Int64Type>().write_batch(&times, None, None)?;
            }
            1 | 2 => {
                let (values, _) = strings(
                    rows.iter()
                        .map(|r| Some(r.text[column - 1].as_deref().unwrap_or(""))),
                );
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
            3..=13 => {
                let (values, defs) = strings(rows.iter().map(|r| r.text[column - 1].as_deref()));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            14 => {
                let values: Vec<bool> = rows.iter().filter_map(|r| r.read_only).collect();
                let defs: Vec<i16> = rows
                    .iter()
                    .map(|r| i16::from(r.read_only.is_some()))
                    .collect();
                col.typed::<BoolType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            15 => {
                let (values, defs) = strings(rows.iter().map(|r| r.event_type.as_deref()));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            16 => {
                let (values, _) = strings(rows.iter().map(|r| Some(r.event_id.as_str())));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
            17 => {
                let (values, defs) = strings(rows.iter().map(|r| r.country.as_deref()));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            18 => {
                let values: Vec<i64> = rows.iter().filter_map(|r| r.asn).collect();
                let defs: Vec<i16> = rows.iter().map(|r| i16::from(r.asn.is_some())).collect();
                col.typed::<Int64Type>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            19 => {
                let (values, defs) = strings(rows.iter().map(|r| r.as_org.as_deref()));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            20 => {
                let (values, defs) = strings(rows.iter().map(|r| r.cloud.as_deref()));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            _ => {
                let (values, _) = strings(rows.iter().map(|r| Some(r.raw.as_str())));
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
        }
        col.close()?;
        column += 1;
    }
    group.close()?;
    Ok(())
}
