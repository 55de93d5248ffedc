//! The checkpoint file: detector state and progress, written atomically.
//!
//! Consistency rests on one rule: a source's input is acknowledged (its SQS messages deleted,
//! its files marked done) only in the checkpoint that follows its commit to the store. After a
//! crash, everything after the last checkpoint comes back (messages reappear when their
//! visibility times out, files are not marked done). The events a crashed run stored after its
//! last checkpoint were never part of the detector state that checkpoint saved: at start-up
//! their rows (newer than `store_rowid`) join [`Checkpoint::undetected`], and when they come
//! back they are re-run through the detectors without storing them again, and the alerts they
//! raise again are not sent twice when the store shows them sent. The set is saved in every
//! checkpoint until each row has come back, so a second crash before the replay loses nothing.
//!
//! A single row-id watermark is not enough: the restarted run checkpoints its own new rows
//! (larger ids) before the crashed run's messages reappear, and a watermark would then cover
//! the crashed run's rows as if detected.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The checkpoint file name inside the state directory.
pub const CHECKPOINT_FILE: &str = "live-checkpoint.json";

/// What survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version; only 1 exists.
    pub version: u32,
    /// The largest event row id of the store when the checkpoint was taken: stored events
    /// with a larger id were committed after it.
    pub store_rowid: i64,
    /// Local files fully read (followed directories).
    pub files: BTreeSet<String>,
    /// Detector state, keyed by detector id (as `hunt --state`).
    pub detectors: serde_json::Map<String, serde_json::Value>,
    /// Events detected up to this checkpoint, over the daemon's lifetime.
    pub events: u64,
    /// Store rows committed by a run that crashed before checkpointing them, not yet re-run
    /// through the detectors.
    #[serde(default)]
    pub undetected: RowRanges,
}

/// A set of store row ids as sorted, disjoint, inclusive ranges: a crash leaves one range
/// per checkpoint interval, and replay removes rows one at a time, mostly from the ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RowRanges(Vec<(i64, i64)>);

impl RowRanges {
    /// Adds the rows `first..=last` (nothing when `first > last`).
    pub fn insert_range(&mut self, first: i64, last: i64) {
        if first > last {
            return;
        }
        self.0.push((first, last));
        self.0.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(self.0.len());
        for &(a, b) in &self.0 {
            match merged.last_mut() {
                Some(prev) if a <= prev.1.saturating_add(1) => prev.1 = prev.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.0 = merged;
    }

    /// Removes `row`; true when it was in the set.
    pub fn remove(&mut self, row: i64) -> bool {
        let index = self.0.partition_point(|&(_, last)| last < row);
        let Some(&(first, last)) = self.0.get(index) else {
            return false;
        };
        if row < first {
            return false;
        }
        match (row == first, row == last) {
            (true, true) => {
                self.0.remove(index);
            }
            (true, false) => self.0[index].0 = row + 1,
            (false, true) => self.0[index].1 = row - 1,
            (false, false) => {
                self.0[index].1 = row - 1;
                self.0.insert(index + 1, (row + 1, last));
            }
        }
        true
    }

    /// Number of rows in the set.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.0
            .iter()
            .map(|&(a, b)| u64::try_from(b - a + 1).unwrap_or(0))
            .sum()
    }

    /// True when the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the checkpoint of a state directory lives.
#[must_use]
pub(crate) fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join(CHECKPOINT_FILE)
}

impl Checkpoint {
    /// Reads the checkpoint at `path`; `None` when there is none yet.
    ///
    /// # Errors
    /// An unreadable file, invalid JSON, or an unknown version.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    context: "cannot read checkpoint",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let checkpoint: Checkpoint =
            serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if checkpoint.version != 1 {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("unsupported version {}", checkpoint.version),
            });
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint to `path` atomically: a synced temporary file renamed over it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |context, source| Error::Io {
            context,
            path: path.to_path_buf(),
            source,
        };
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec(self).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut file = std::fs::File::create(&tmp).map_err(|e| io("cannot write checkpoint", e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| io("cannot write checkpoint", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("cannot replace checkpoint", e))?;
        if let Some(dir) = path.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            // Makes the rename durable; not all platforms allow syncing a directory.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut checkpoint = Checkpoint {
            version: 1,
            store_rowid: 17,
            ..Checkpoint::default()
        };
        checkpoint.files.insert("/var/log/ct/a.json.gz".into());
        checkpoint.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint));
        std::fs::write(
            &path,
            r#"{"version":2,"store_rowid":0,"files":[],"detectors":{},"events":0}"#,
        )
        .unwrap();
        assert!(Checkpoint::load(&path).is_err());
        std::fs::write(&path, "{").unwrap();
        assert!(Checkpoint::load(&path).is_err());
        // Checkpoints written before `undetected` existed still load.
        std::fs::write(
            &path,
            r#"{"version":1,"store_rowid":5,"files":[],"detectors":{},"events":5}"#,
        )
        .unwrap();
        assert!(
            Checkpoint::load(&path)
                .unwrap()
                .unwrap()
                .undetected
                .is_empty()
        );
    }

    #[test]
    fn row_ranges_merge_split_and_count() {
        let mut rows = RowRanges::default();
        rows.insert_range(10, 20);
        rows.insert_range(21, 25);
        rows.insert_range(40, 39);
        assert_eq!(rows, RowRanges(vec![(10, 25)]));
        assert_eq!(rows.len(), 16);
        assert!(!rows.remove(9));
        assert!(!rows.remove(26));
        assert!(rows.remove(10));
        assert!(rows.remove(25));
        assert!(rows.remove(15));
        assert!(!rows.remove(15));
        assert_eq!(rows, RowRanges(vec![(11, 14), (16, 24)]));
        assert_eq!(rows.len(), 13);
        rows.insert_range(1, 3);
        rows.insert_range(12, 17);
        assert_eq!(rows, RowRanges(vec![(1, 3), (11, 24)]));
        for row in [1, 2, 3] {
            assert!(rows.remove(row));
        }
        for row in 11..=24 {
            assert!(rows.remove(row));
        }
        assert!(rows.is_empty());
        let json = serde_json::to_string(&RowRanges(vec![(1, 2)])).unwrap();
        assert_eq!(json, "[[1,2]]");
    }
}
