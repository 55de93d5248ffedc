//! Reading CloudTrail objects from S3: listing a prefix, fetching objects and their metadata.
//!
//! These functions are shared by the offline commands (`trailhound hunt s3://…`,
//! `trailhound verify s3://…`) and the daemon: each takes a client, a bucket and a key or
//! prefix, and a byte cap where it reads a body, so any caller can use them on its own terms.
//!
//! - [`list_objects`]: every object under a prefix, following `ListObjectsV2` pagination.
//! - [`list_cloudtrail`]: the objects of a CloudTrail tree under a prefix, listing only the
//!   date folders `AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/` a [`TimeWindow`]
//!   needs, and keeping only the files whose delivery time (in their name) can hold events of
//!   the window.
//! - [`get_object`]: an object's bytes, refusing bodies over a cap, with its user metadata
//!   (a digest's `signature` and `signing-algorithm` live there).
//! - [`read_object_into`]: an object's body into a reusable buffer, reading at most a given
//!   number of bytes (the caller tells an oversized object by the length).
//! - [`head_object`]: an object's size and user metadata without its body.
//! - [`fetch_all`]: many objects at once with a bound on how many are in flight, each mapped
//!   (hashed, decoded) as it arrives so bodies need not be held together.

use std::collections::HashMap;
use std::sync::Arc;

use trailhound_core::Timestamp;

use crate::s3::Client;
use crate::{Error, Result};

/// How long after its events CloudTrail may deliver a log file. A file's name carries its
/// delivery time, which is never before its events; the window's end is widened by this
/// much so late deliveries of events inside the window are still read.
pub const DELIVERY_SLACK_SECS: i64 = 3600;

/// Longest window, in days, listed date folder by date folder; a longer one lists the whole
/// prefix (fewer requests than one per day and region).
pub const MAX_DAY_FOLDERS: i64 = 400;

/// The service folders of a CloudTrail tree.
pub const CLOUDTRAIL_FOLDERS: [&str; 3] = ["CloudTrail", "CloudTrail-Digest", "CloudTrail-Insight"];

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An object read whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedObject {
    /// The object's key.
    pub key: String,
    /// Its body.
    pub bytes: Vec<u8>,
    /// Its user metadata (`x-amz-meta-*`, names without the prefix, lowercase).
    pub metadata: HashMap<String, String>,
}

/// An object's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// Entity tag, as S3 returns it (quoted).
    pub e_tag: Option<String>,
    /// User metadata (`x-amz-meta-*`, names without the prefix, lowercase).
    pub metadata: HashMap<String, String>,
}

/// Which delivery times a listing keeps: files delivered at or after `since` (to the
/// minute) and before `until` plus [`DELIVERY_SLACK_SECS`]. Either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
}

impl TimeWindow {
    /// Whether both ends are open (the whole prefix is listed).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    fn first_delivery(&self) -> Timestamp {
        self.since.map_or(Timestamp::MIN, Timestamp::floor_minute)
    }

    fn last_delivery(&self) -> Timestamp {
        self.until
            .map_or(Timestamp::MAX, |u| u.add_secs(DELIVERY_SLACK_SECS))
    }

    /// Whether a file delivered at `delivered` (the time in its name) can hold events of the
    /// window.
    #[must_use]
    pub fn keeps_delivery(&self, delivered: Timestamp) -> bool {
        delivered >= self.first_delivery() && delivered < self.last_delivery()
    }

    /// Whether the object `key` is kept: its name's delivery time is inside the window, or it
    /// has none (not a CloudTrail file name).
    #[must_use]
    pub fn keeps_key(&self, key: &str) -> bool {
        name_time(key).is_none_or(|t| self.keeps_delivery(t))
    }

    /// The date folders (`YYYY/MM/DD`) that can hold files of the window, oldest first;
    /// `None` when the window has no start or spans more than [`MAX_DAY_FOLDERS`] days (then
    /// the whole prefix is listed and files are pruned by name). An open end stops at `now`
    /// plus a day.
    #[must_use]
    pub fn days(&self, now: Timestamp) -> Option<Vec<String>> {
        self.since?;
        let first = self.first_delivery().floor_day();
        let last = match self.until {
            Some(_) => self.last_delivery().add_millis(-1),
            None => now.add_secs(86_400),
        };
        let span = last.millis_since(first) / 86_400_000;
        if span >= MAX_DAY_FOLDERS {
            return None;
        }
        let mut days = Vec::new();
        let mut day = first;
        while day <= last {
            let (y, m, d, ..) = day.parts();
            days.push(format!("{y:04}/{m:02}/{d:02}"));
            day = day.add_secs(86_400);
        }
        Some(days)
    }
}

/// The time in a CloudTrail file name: `…_YYYYMMDDTHHMMZ_…` (log files) or
/// `…_YYYYMMDDTHHMMSSZ.json.gz` (digests).
#[must_use]
pub fn name_time(key: &str) -> Option<Timestamp> {
    let name = key.rsplit('/').next()?;
    let name = name.strip_suffix(".json.gz").unwrap_or(name);
    name.split('_').find_map(|part| {
        let b = part.as_bytes();
        let ok = (b.len() == 14 || b.len() == 16)
            && b[8] == b'T'
            && b[b.len() - 1] == b'Z'
            && b[..8]
                .iter()
                .chain(&b[9..b.len() - 1])
                .all(u8::is_ascii_digit);
        if !ok {
            return None;
        }
        let num = |r: std::ops::Range<usize>| part.get(r).and_then(|s| s.parse::<u32>().ok());
        let secs = if b.len() == 16 { num(13..15)? } else { 0 };
        Timestamp::from_parts(
            i64::from(num(0..4)?),
            num(4..6)?,
            num(6..8)?,
            num(9..11)?,
            num(11..13)?,
            secs,
        )
    })
}

/// What [`list_cloudtrail`] found and how much listing it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects kept, sorted by key.
    pub objects: Vec<ObjectInfo>,
    /// Objects listed but outside the window.
    pub pruned: u64,
    /// Date folders listed (`…/REGION/YYYY/MM/DD/`).
    pub day_folders: u64,
    /// `ListObjectsV2` requests made.
    pub requests: u64,
}

fn sdk_error(
    e: impl std::error::Error + Send + Sync + 'static,
) -> Box<dyn std::error::Error + Send + Sync> {
    // DisplayErrorContext renders the whole chain (service code and message) in one line.
    Box::from(crate::s3::error::DisplayErrorContext(e).to_string())
}

/// One page of `ListObjectsV2`: objects, common prefixes (with `delimiter`), next token.
async fn list_page(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    token: Option<String>,
) -> Result<(Vec<ObjectInfo>, Vec<String>, Option<String>)> {
    let out = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_delimiter(delimiter.map(str::to_owned))
        .set_continuation_token(token)
        .send()
        .await
        .map_err(|e| Error::List {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            source: sdk_error(e),
        })?;
    let objects = out
        .contents()
        .iter()
        .filter_map(|o| {
            Some(ObjectInfo {
                key: o.key()?.to_owned(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            })
        })
        .collect();
    let dirs = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix().map(str::to_owned))
        .collect();
    let next = if out.is_truncated() == Some(true) {
        out.next_continuation_token().map(str::to_owned)
    } else {
        None
    };
    Ok((objects, dirs, next))
}

/// Every page under `prefix`: (objects, common prefixes, requests made).
async fn list_all(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<(Vec<ObjectInfo>, Vec<String>, u64)> {
    let mut objects = Vec::new();
    let mut dirs = Vec::new();
    let mut token = None;
    let mut requests = 0;
    loop {
        let (mut page, mut page_dirs, next) =
            list_page(client, bucket, prefix, delimiter, token).await?;
        requests += 1;
        objects.append(&mut page);
        dirs.append(&mut page_dirs);
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok((objects, dirs, requests))
}

/// Every object under `prefix` (all pages), sorted by key.
///
/// # Errors
/// [`Error::List`] when a `ListObjectsV2` request fails.
pub async fn list_objects(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>> {
    let (mut objects, _, _) = list_all(client, bucket, prefix, None).await?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

/// Where a folder (a prefix ending in `/`) sits in the CloudTrail layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Above the service folder (`AWSLogs/`, `AWSLogs/o-org/`, an account, a bucket prefix).
    Above,
    /// An account folder `…/AWSLogs/[o-org/]ACCOUNT/`: only service folders below it matter.
    Account,
    /// `…/CloudTrail/` and its siblings: region folders below.
    Service,
    /// `…/CloudTrail/REGION/`.
    Region,
    /// `…/REGION/YYYY/`, `…/REGION/YYYY/MM/` or `…/REGION/YYYY/MM/DD/`: the date so far.
    Date,
}

fn level(folder: &str) -> Level {
    let parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(at) = parts.iter().rposition(|p| CLOUDTRAIL_FOLDERS.contains(p)) {
        return match parts.len() - at - 1 {
            0 => Level::Service,
            1 => Level::Region,
            _ => Level::Date,
        };
    }
    let last = parts.last().copied().unwrap_or("");
    let account = last.len() == 12 && last.bytes().all(|b| b.is_ascii_digit());
    if account && parts.contains(&"AWSLogs") {
        Level::Account
    } else {
        Level::Above
    }
}

/// The objects of the CloudTrail tree under `prefix` that can hold events of `window`, in
/// the service folders `services` (e.g. `["CloudTrail"]` for detection,
/// `["CloudTrail", "CloudTrail-Digest"]` for integrity checks).
///
/// With an open window the whole prefix is listed (all pages) and objects of other service
/// folders are dropped by key. Otherwise the tree is walked folder by folder down to the
/// regions, and below each region only the date folders of [`TimeWindow::days`] are listed;
/// files whose name's delivery time is outside the window are pruned. `prefix` may stop at
/// any level (bucket root, `AWSLogs/`, an account, a region, a month, a day).
///
/// # Errors
/// [`Error::List`] when a `ListObjectsV2` request fails.
pub async fn list_cloudtrail(
    client: &Client,
    bucket: &str,
    prefix: &str,
    window: &TimeWindow,
    services: &[&str],
) -> Result<Listing> {
    let mut listing = Listing::default();
    let in_services = |key: &str| {
        let parts: Vec<&str> = key.split('/').collect();
        match parts.iter().rposition(|p| CLOUDTRAIL_FOLDERS.contains(p)) {
            Some(at) => services.contains(&parts[at]),
            // Not in the layout: kept (a file named directly, a flat copy).
            None => true,
        }
    };
    let now = Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    );
    let days = window.days(now);
    let (objects, requests) = match (&days, window.is_open()) {
        (Some(days), false) => {
            let mut objects = Vec::new();
            let mut requests = 0;
            walk(
                client,
                bucket,
                prefix,
                days,
                services,
                &mut objects,
                &mut requests,
                &mut listing.day_folders,
            )
            .await?;
            (objects, requests)
        }
        _ => {
            let (objects, _, requests) = list_all(client, bucket, prefix, None).await?;
            (objects, requests)
        }
    };
    listing.requests = requests;
    for object in objects {
        if !in_services(&object.key) {
            continue;
        }
        if window.keeps_key(&object.key) {
            listing.objects.push(object);
        } else {
            listing.pruned += 1;
        }
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.objects.dedup_by(|a, b| a.key == b.key);
    tracing::debug!(
        bucket,
        prefix,
        objects = listing.objects.len(),
        pruned = listing.pruned,
        day_folders = listing.day_folders,
        requests = listing.requests,
        "listed cloudtrail objects"
    );
    Ok(listing)
}

/// Walks folders from `start` (an explicit stack, no recursion in async code).
#[allow(clippy::too_many_arguments)]
async fn walk(
    client: &Client,
    bucket: &str,
    start: &str,
    days: &[String],
    services: &[&str],
    out: &mut Vec<ObjectInfo>,
    requests: &mut u64,
    day_folders: &mut u64,
) -> Result<()> {
    let mut stack = vec![start.to_owned()];
    while let Some(folder) = stack.pop() {
        // A prefix that does not end in '/' is listed as given: its folders come back as
        // common prefixes and are walked by level.
        let lvl = if folder.is_empty() || folder.ends_with('/') {
            level(&folder)
        } else {
            Level::Above
        };
        match lvl {
            Level::Region | Level::Date => {
                // The folder's own date so far (`YYYY`, `YYYY/MM`, `YYYY/MM/DD`) selects days.
                let parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
                let at = parts
                    .iter()
                    .rposition(|p| CLOUDTRAIL_FOLDERS.contains(p))
                    .map_or(0, |a| a + 2);
                let date = parts.get(at..).unwrap_or(&[]).join("/");
                let region_folder = format!("{}/", parts.get(..at).unwrap_or(&[]).join("/"));
                for day in days {
                    let selected =
                        date.is_empty() || day == &date || day.starts_with(&format!("{date}/"));
                    if !selected {
                        continue;
                    }
                    let day_prefix = format!("{region_folder}{day}/");
                    let (mut objects, _, n) = list_all(client, bucket, &day_prefix, None).await?;
                    *requests += n;
                    *day_folders += 1;
                    out.append(&mut objects);
                }
            }
            Level::Service | Level::Above | Level::Account => {
                let (mut objects, dirs, n) = list_all(client, bucket, &folder, Some("/")).await?;
                *requests += n;
                out.append(&mut objects);
                for dir in dirs {
                    let name = dir.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                    let wanted = match level(&dir) {
                        // Below an account only the wanted service folders.
                        Level::Service => services.contains(&name),
                        _ => lvl != Level::Account,
                    };
                    if wanted {
                        stack.push(dir);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads the body of `bucket/key` into `buf` (cleared first), at most `max_bytes` bytes: a
/// longer body is cut there (the rest is not downloaded) and the caller tells it by
/// `buf.len() == max_bytes`. Pass the cap plus one to notice oversized objects.
///
/// # Errors
/// [`Error::NotFound`] when there is no such object, [`Error::Get`] when the request or the
/// body download fails.
pub async fn read_object_into(
    client: &Client,
    bucket: &str,
    key: &str,
    buf: &mut Vec<u8>,
    max_bytes: u64,
) -> Result<HashMap<String, String>> {
    buf.clear();
    let get_error = |source| Error::Get {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    };
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                Error::NotFound {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }
            } else {
                get_error(sdk_error(e))
            }
        })?;
    let metadata = out.metadata().cloned().unwrap_or_default();
    if let Some(len) = out.content_length().and_then(|l| u64::try_from(l).ok()) {
        buf.reserve(usize::try_from(len.min(max_bytes)).unwrap_or(0));
    }
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let mut body = out.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| get_error(Box::new(e)))?;
        let room = max - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(metadata)
}

/// Reads `bucket/key` whole with its user metadata; bodies over `cap` bytes are refused
/// without downloading the rest.
///
/// # Errors
/// [`Error::NotFound`], [`Error::Get`], and [`Error::TooLarge`] over the cap.
pub async fn get_object(
    client: &Client,
    bucket: &str,
    key: &str,
    cap: u64,
) -> Result<FetchedObject> {
    let mut bytes = Vec::new();
    let metadata = read_object_into(client, bucket, key, &mut bytes, cap.saturating_add(1)).await?;
    if bytes.len() as u64 > cap {
        return Err(Error::TooLarge {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            cap,
        });
    }
    Ok(FetchedObject {
        key: key.to_owned(),
        bytes,
        metadata,
    })
}

/// The size, entity tag and user metadata of `bucket/key` (`HeadObject`).
///
/// # Errors
/// [`Error::NotFound`] when there is no such object, [`Error::Get`] otherwise.
pub async fn head_object(client: &Client, bucket: &str, key: &str) -> Result<ObjectMeta> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                Error::NotFound {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }
            } else {
                Error::Get {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    source: sdk_error(e),
                }
            }
        })?;
    Ok(ObjectMeta {
        size: out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0),
        e_tag: out.e_tag().map(str::to_owned),
        metadata: out.metadata().cloned().unwrap_or_default(),
    })
}

/// Fetches `keys` of `bucket` with at most `concurrency` requests in flight, runs `map` on
/// each object as it arrives (on a blocking thread: hashing or decoding is fine there), and
/// returns the results in the order of `keys`. One object failing does not stop the others.
pub async fn fetch_all<T, F>(
    client: &Client,
    bucket: &str,
    keys: Vec<String>,
    cap: u64,
    concurrency: usize,
    map: F,
) -> Vec<(String, Result<T>)>
where
    T: Send + 'static,
    F: Fn(FetchedObject) -> T + Send + Sync + 'static,
{
    let map = Arc::new(map);
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.iter().enumerate() {
        let (client, bucket, key, map, limit) = (
            client.clone(),
            bucket.to_owned(),
            key.clone(),
            Arc::clone(&map),
            Arc::clone(&limit),
        );
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = limit.acquire_owned().await.ok();
            let result = match get_object(&client, &bucket, &key, cap).await {
                Ok(object) => tokio::task::spawn_blocking(move || map(object))
                    .await
                    .map_err(|e| Error::Get {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        source: Box::new(e),
                    }),
                Err(e) => Err(e),
            };
            (index, result)
        });
    }
    let mut results: Vec<Option<Result<T>>> = keys.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
            Err(e) => tracing::error!("s3 fetch task failed: {e}"),
        }
    }
    keys.into_iter()
        .zip(results)
        .map(|(key, result)| {
            let result = result.unwrap_or_else(|| {
                Err(Error::Get {
                    bucket: bucket.to_owned(),
                    key: key.clone(),
                    source: Box::from("fetch task did not complete"),
                })
            });
            (key, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn name_times_of_logs_and_digests() {
        assert_eq!(
            name_time(
                "AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/123456789012_CloudTrail_us-east-1_20260102T0305Z_ab12.json.gz"
            ),
            Some(ts("2026-01-02T03:05:00Z"))
        );
        assert_eq!(
            name_time(
                "x/123456789012_CloudTrail-Digest_us-east-1_trail_us-east-1_20260102T030405Z.json.gz"
            ),
            Some(ts("2026-01-02T03:04:05Z"))
        );
        assert_eq!(name_time("notes/readme.json"), None);
    }

    #[test]
    fn window_days_and_delivery_times() {
        let window = TimeWindow {
            since: Some(ts("2026-01-02T00:00:00Z")),
            until: Some(ts("2026-01-03T00:00:00Z")),
        };
        let now = ts("2026-06-01T00:00:00Z");
        // The next day is listed for late deliveries, within the slack only.
        assert_eq!(window.days(now).unwrap(), ["2026/01/02", "2026/01/03"]);
        assert!(window.keeps_delivery(ts("2026-01-02T00:00:00Z")));
        assert!(window.keeps_delivery(ts("2026-01-03T00:55:00Z")));
        assert!(!window.keeps_delivery(ts("2026-01-03T01:00:00Z")));
        assert!(!window.keeps_delivery(ts("2026-01-01T23:59:00Z")));
        // `since` inside a minute keeps the file delivered in that minute.
        let mid = TimeWindow {
            since: Some(ts("2026-01-02T10:05:30Z")),
            until: None,
        };
        assert!(mid.keeps_delivery(ts("2026-01-02T10:05:00Z")));
        assert_eq!(mid.days(ts("2026-01-03T12:00:00Z")).unwrap().len(), 3);
        assert_eq!(
            TimeWindow {
                since: None,
                until: Some(ts("2026-01-02T00:00:00Z"))
            }
            .days(now),
            None
        );
        assert!(TimeWindow::default().is_open());
        assert!(window.keeps_key("notes/readme.json"));
    }

    #[test]
    fn levels_of_folders() {
        assert_eq!(level(""), Level::Above);
        assert_eq!(level("AWSLogs/"), Level::Above);
        assert_eq!(level("AWSLogs/o-abc123/"), Level::Above);
        assert_eq!(level("AWSLogs/o-abc123/123456789012/"), Level::Account);
        assert_eq!(level("p/AWSLogs/123456789012/CloudTrail/"), Level::Service);
        assert_eq!(
            level("AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/"),
            Level::Region
        );
        assert_eq!(
            level("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/01/"),
            Level::Date
        );
        assert_eq!(level("backups/123456789012/"), Level::Above);
    }
}
