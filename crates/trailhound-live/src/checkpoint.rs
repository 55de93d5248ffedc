//! The checkpoint file: detector state and progress, written atomically.
//!
//! Consistency rests on one rule: a source's input is acknowledged (its SQS messages deleted,
//! its files marked done) only in the checkpoint that follows its commit to the store. After a
//! crash, everything after the last checkpoint comes back (messages reappear when their
//! visibility times out, files are not marked done), and the events already stored since then
//! are recognised by their store row being newer than `store_rowid`: they are re-run through
//! the detectors (whose state is that of the checkpoint) without storing them again, and the
//! alerts they raise again are not sent twice.

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
    }
}
