//! Walking a local `AWSLogs/` tree: which files are digests, which are log files, and the
//! key each has relative to `AWSLogs/`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use trailhound_core::Timestamp;

use crate::{Error, Result};

/// Largest decompressed digest or log file read (CloudTrail log files are far smaller).
const MAX_INFLATED: u64 = 1 << 30;

/// A file of the tree.
#[derive(Debug, Clone)]
pub(crate) struct TreeFile {
    pub(crate) path: PathBuf,
    /// The key from the `AWSLogs/` component on (`AWSLogs/1234…/CloudTrail/…`).
    pub(crate) key: String,
}

/// The digest and log files of a tree.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) digests: Vec<TreeFile>,
    pub(crate) logs: Vec<TreeFile>,
}

/// The part of an S3 key or path from its `AWSLogs/` component on; the whole key when there
/// is none.
pub(crate) fn awslogs_key(key: &str) -> &str {
    if key.starts_with("AWSLogs/") {
        return key;
    }
    match key.find("/AWSLogs/") {
        Some(at) => &key[at + 1..],
        None => key,
    }
}

pub(crate) fn scan(root: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            if !rel.ends_with(".json.gz") {
                continue;
            }
            let key = awslogs_key(&rel).to_owned();
            let file = TreeFile { path, key };
            if file.key.contains("/CloudTrail-Digest/") {
                tree.digests.push(file);
            } else if file.key.contains("/CloudTrail/") {
                tree.logs.push(file);
            }
        }
    }
    tree.digests.sort_by(|a, b| a.key.cmp(&b.key));
    tree.logs.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(tree)
}

/// Reads and inflates a gzip file.
pub(crate) fn read_gz(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    trailhound_ingest::CappedGzReader::new(std::io::BufReader::new(file), MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    Ok(out)
}

/// The account and region of a key `AWSLogs/[o-…/]<acct>/CloudTrail[-Digest]/<region>/…`.
pub(crate) fn account_region(key: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = key.split('/').collect();
    let at = parts
        .iter()
        .position(|p| *p == "CloudTrail" || *p == "CloudTrail-Digest")?;
    let account = parts.get(at.checked_sub(1)?)?;
    let region = parts.get(at + 1)?;
    Some(((*account).to_owned(), (*region).to_owned()))
}

/// The trail name of a digest file name
/// `<acct>_CloudTrail-Digest_<region>_<trail>_<region>_<YYYYMMDDTHHMMSSZ>.json.gz`.
pub(crate) fn digest_trail(key: &str) -> Option<String> {
    let name = key.rsplit('/').next()?;
    let name = name.strip_suffix(".json.gz")?;
    let (rest, _stamp) = name.rsplit_once('_')?;
    let (_, rest) = rest.split_once("_CloudTrail-Digest_")?;
    let (region, rest) = rest.split_once('_')?;
    let trail = rest
        .strip_suffix(region)
        .and_then(|t| t.strip_suffix('_'))
        .unwrap_or(rest);
    Some(trail.to_owned())
}

/// The delivery time in a log file name `<acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz`.
pub(crate) fn log_time(key: &str) -> Option<Timestamp> {
    let name = key.rsplit('/').next()?;
    let stamp = name
        .split('_')
        .find(|p| p.len() == 14 && p.as_bytes().get(8) == Some(&b'T') && p.ends_with('Z'))?;
    let num = |r: std::ops::Range<usize>| stamp.get(r).and_then(|s| s.parse::<u32>().ok());
    Timestamp::from_parts(
        i64::from(num(0..4)?),
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names() {
        assert_eq!(
            awslogs_key("prefix/AWSLogs/123456789012/CloudTrail/x.json.gz"),
            "AWSLogs/123456789012/CloudTrail/x.json.gz"
        );
        assert_eq!(
            account_region("AWSLogs/o-abc/123456789012/CloudTrail-Digest/eu-west-1/2026/01/02/x"),
            Some(("123456789012".into(), "eu-west-1".into()))
        );
        assert_eq!(
            digest_trail(
                "a/123456789012_CloudTrail-Digest_us-east-1_org_trail_us-east-1_20260102T030405Z.json.gz"
            )
            .as_deref(),
            Some("org_trail")
        );
        assert_eq!(
            log_time("x/123456789012_CloudTrail_us-east-1_20260102T0305Z_ab12.json.gz")
                .map(|t| t.to_string()),
            Some("2026-01-02T03:05:00Z".into())
        );
    }
}
