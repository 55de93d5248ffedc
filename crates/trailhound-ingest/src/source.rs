//! Inputs: files, directory trees and stdin, discovered and ordered deterministically.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::classify::name_timestamp;
use crate::{Error, Result};

/// Reads named objects from a store other than the local disk (an S3 bucket): the worker
/// threads call it from outside any async runtime, so an implementation may block.
pub trait ObjectReader: Send + Sync + fmt::Debug {
    /// The name shown in origins and alerts for `key` (e.g. `s3://bucket/key`).
    fn source_name(&self, key: &str) -> Arc<str>;

    /// Reads the object `key` into `buf` (cleared first), at most `cap + 1` bytes, like
    /// [`Input::read_into`].
    ///
    /// # Errors
    /// The object cannot be read.
    fn read_into(&self, key: &str, buf: &mut Vec<u8>, cap: u64) -> std::io::Result<()>;
}

/// One object to read.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// An object of a store, by key; classified by its key like a file by its path.
    Object {
        /// Where it is read from.
        reader: Arc<dyn ObjectReader>,
        /// The object's key.
        key: Arc<str>,
    },
}

impl PartialEq for Input {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Input::File(a), Input::File(b)) => a == b,
            (Input::Stdin, Input::Stdin) => true,
            (
                Input::Object {
                    reader: ra,
                    key: ka,
                },
                Input::Object {
                    reader: rb,
                    key: kb,
                },
            ) => Arc::ptr_eq(ra, rb) && ka == kb,
            _ => false,
        }
    }
}

impl Eq for Input {}

impl Input {
    /// The name shown in origins and alerts: the path, `-` for stdin, or the object's name.
    #[must_use]
    pub fn source_name(&self) -> Arc<str> {
        match self {
            Input::File(path) => Arc::from(path.to_string_lossy().as_ref()),
            Input::Stdin => Arc::from("-"),
            Input::Object { reader, key } => reader.source_name(key),
        }
    }

    /// Reads the whole object into `buf` (cleared first), at most `cap + 1` bytes so an
    /// oversized object is noticed without reading all of it.
    ///
    /// # Errors
    /// The I/O error of opening or reading.
    pub fn read_into(&self, buf: &mut Vec<u8>, cap: u64) -> std::io::Result<()> {
        self.read_with(buf, cap, None)
    }

    /// [`Input::read_into`], opening a file relative to its directory's handle in `dirs` when
    /// given (a reading thread's many objects), else by its path (one object: a directory
    /// handle would be an extra open).
    pub(crate) fn read_with(
        &self,
        buf: &mut Vec<u8>,
        cap: u64,
        dirs: Option<&mut OpenDirs>,
    ) -> std::io::Result<()> {
        buf.clear();
        match self {
            Input::File(path) => {
                let file = match dirs {
                    Some(dirs) => dirs.open(path)?,
                    None => std::fs::File::open(path)?,
                };
                // Room for a typical object up front instead of asking the file's size
                // (one system call per object less); larger ones grow the buffer, which
                // the reading thread keeps.
                buf.reserve(usize::try_from(cap.saturating_add(1).min(READ_BUFFER)).unwrap_or(0));
                file.take(cap.saturating_add(1)).read_to_end(buf)?;
            }
            Input::Stdin => {
                std::io::stdin()
                    .lock()
                    .take(cap.saturating_add(1))
                    .read_to_end(buf)?;
            }
            Input::Object { reader, key } => reader.read_into(key, buf, cap)?,
        }
        Ok(())
    }
}

/// The room a reading thread's buffer starts with: CloudTrail objects are a few kilobytes to a
/// few hundred.
const READ_BUFFER: u64 = 1 << 20;

/// How many directory handles one reading thread keeps.
const MAX_OPEN_DIRS: usize = 64;

/// Handles of the directories a reading thread recently read files from, so the next file of
/// one is opened relative to it (`openat`). Why: a delivered CloudTrail tree is nine
/// directories deep, and resolving every component of every object's path in the kernel was
/// about 2% of a hunt's CPU. Files are read in delivery-time order, which interleaves the
/// accounts' and regions' directories of the same days, so a few dozen handles cover them;
/// past [`MAX_OPEN_DIRS`] the handles are dropped and opened again as needed. A directory
/// renamed or replaced while a hunt runs is read through the handle opened first.
#[derive(Default)]
pub(crate) struct OpenDirs {
    #[cfg(unix)]
    open: std::collections::HashMap<std::ffi::OsString, rustix::fd::OwnedFd>,
}

impl OpenDirs {
    /// Opens `path` for reading: relative to its directory's handle when there is one (or one
    /// can be opened), else by its whole path, which also gives the error when both fail.
    pub(crate) fn open(&mut self, path: &Path) -> std::io::Result<std::fs::File> {
        #[cfg(unix)]
        if let Some(file) = self.open_at(path) {
            return Ok(file);
        }
        std::fs::File::open(path)
    }

    #[cfg(unix)]
    fn open_at(&mut self, path: &Path) -> Option<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let (dir, name) = (path.parent()?, path.file_name()?);
        if dir.as_os_str().is_empty() {
            return None;
        }
        if !self.open.contains_key(dir.as_os_str()) {
            if self.open.len() >= MAX_OPEN_DIRS {
                self.open.clear();
            }
            let handle = rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()?;
            self.open.insert(dir.as_os_str().to_owned(), handle);
        }
        let handle = self.open.get(dir.as_os_str())?;
        let file = rustix::fs::openat(
            handle,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        Some(std::fs::File::from(file))
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::File(path) => write!(f, "{}", path.display()),
            Input::Stdin => f.write_str("-"),
            Input::Object { reader, key } => f.write_str(&reader.source_name(key)),
        }
    }
}

/// Expands command-line paths into inputs: `-` is stdin, a file is itself, a directory is every
/// regular file below it (symbolic links to directories are not followed). Each directory's
/// files are sorted by the delivery timestamp in their CloudTrail file name, then by path, so
/// events arrive in roughly event-time order; arguments keep their order.
///
/// # Errors
/// A path that does not exist or cannot be listed; `-` given twice.
pub fn discover<P: AsRef<str>>(paths: &[P]) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        let path = path.as_ref();
        if path == "-" {
            if stdin_seen {
                return Err(Error::StdinTwice);
            }
            stdin_seen = true;
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(path);
        let meta = std::fs::metadata(&path).map_err(|source| Error::Input {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files)?;
            sort_files(&mut files);
            inputs.extend(files.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(path));
        }
    }
    Ok(inputs)
}

/// Sorts paths by the timestamp in their CloudTrail file name (files without one first), then
/// by path.
pub fn sort_files(files: &mut [PathBuf]) {
    // Keys borrowed from the paths, sorted as positions, then the paths moved into place:
    // an organisation's month is a few hundred thousand files, and owned keys (two strings
    // per path) made this the longest step before the first object was read.
    let order: Vec<usize> = {
        let texts: Vec<std::borrow::Cow<'_, str>> =
            files.iter().map(|p| p.to_string_lossy()).collect();
        let keys: Vec<(Option<&str>, &str)> = texts
            .iter()
            .map(|t| (name_timestamp(t), t.as_ref()))
            .collect();
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| keys.get(a).cmp(&keys.get(b)));
        order
    };
    // Follow each cycle of the permutation: position k takes the path at order[k].
    let mut placed = vec![false; files.len()];
    for start in 0..files.len() {
        let mut k = start;
        while !placed.get(k).copied().unwrap_or(true) {
            placed[k] = true;
            let Some(&next) = order.get(k) else { break };
            if next == start {
                break;
            }
            files.swap(k, next);
            k = next;
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Input {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Input {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| Error::Input {
            path: path.clone(),
            source,
        })?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_matches_a_plain_sort_by_key() {
        let mut files: Vec<PathBuf> = (0..500u32)
            .map(|i| {
                let stamp = (i * 7919) % 97;
                match i % 3 {
                    0 => PathBuf::from(format!("d{}/f{i}.json", i % 5)),
                    _ => PathBuf::from(format!(
                        "d{}/1_CloudTrail_us-east-1_202601{:02}T{:04}Z_x{i}.json.gz",
                        i % 4,
                        stamp % 28 + 1,
                        stamp * 13 % 2400
                    )),
                }
            })
            .collect();
        let mut expected = files.clone();
        expected.sort_by_cached_key(|p| {
            let text = p.to_string_lossy().into_owned();
            (name_timestamp(&text).map(str::to_owned), text)
        });
        sort_files(&mut files);
        assert_eq!(files, expected);
    }

    #[test]
    fn files_open_relative_to_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        let mut dirs = OpenDirs::default();
        let mut paths = Vec::new();
        // More directories than one reading thread keeps handles for.
        for d in 0..MAX_OPEN_DIRS + 3 {
            let sub = dir.path().join(format!("d{d}"));
            std::fs::create_dir(&sub).unwrap();
            for f in 0..2 {
                let path = sub.join(format!("f{f}.json"));
                std::fs::write(&path, format!("{d}/{f}")).unwrap();
                paths.push(path);
            }
        }
        let mut buf = Vec::new();
        for _ in 0..2 {
            for path in &paths {
                Input::File(path.clone())
                    .read_with(&mut buf, 1 << 20, Some(&mut dirs))
                    .unwrap();
                let want = std::fs::read(path).unwrap();
                assert_eq!(buf, want, "{}", path.display());
            }
        }
        #[cfg(unix)]
        assert!(dirs.open.len() <= MAX_OPEN_DIRS);
        // One object alone is read by its path, the same bytes.
        Input::File(paths[3].clone())
            .read_into(&mut buf, 1 << 20)
            .unwrap();
        assert_eq!(buf, std::fs::read(&paths[3]).unwrap());
        // A missing file is the error of opening it by its whole path.
        let missing = Input::File(dir.path().join("d0/missing.json"));
        let error = missing
            .read_with(&mut buf, 1 << 20, Some(&mut dirs))
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        // So is a file whose directory is gone, and a bare file name reads from the
        // working directory as before.
        let gone = Input::File(dir.path().join("nowhere/f.json"));
        assert!(gone.read_with(&mut buf, 1 << 20, Some(&mut dirs)).is_err());
        assert!(
            Input::File(PathBuf::from("Cargo.toml"))
                .read_with(&mut buf, 1 << 20, Some(&mut dirs))
                .is_ok()
        );
        // The cap still holds: one byte past it is read so the caller sees the object is too
        // large.
        Input::File(paths[0].clone())
            .read_with(&mut buf, 1, Some(&mut dirs))
            .unwrap();
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn walks_and_sorts_by_name_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir
            .path()
            .join("AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/15");
        std::fs::create_dir_all(&day).unwrap();
        let later = day.join("123456789012_CloudTrail_us-east-1_20260115T1000Z_a.json.gz");
        let earlier = day.join("123456789012_CloudTrail_us-east-1_20260115T0900Z_z.json.gz");
        std::fs::write(&later, b"").unwrap();
        std::fs::write(&earlier, b"").unwrap();
        std::fs::write(dir.path().join("notes.json"), b"").unwrap();
        let arg = dir.path().to_string_lossy().into_owned();
        let inputs = discover(&[arg.as_str(), "-"]).unwrap();
        assert_eq!(
            inputs,
            [
                Input::File(dir.path().join("notes.json")),
                Input::File(earlier),
                Input::File(later),
                Input::Stdin
            ]
        );
        assert!(matches!(discover(&["-", "-"]), Err(Error::StdinTwice)));
        assert!(matches!(
            discover(&["/nonexistent/x"]),
            Err(Error::Input { .. })
        ));
    }
}
