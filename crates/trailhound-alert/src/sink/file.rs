use std::io::Write;
use std::path::PathBuf;

use super::{DeliveryError, Message, Sink};

/// JSON lines appended to a file (fsync'd), rotated by size to `path.1` … `path.N`.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    max_files: u32,
}

impl FileSink {
    /// A sink writing to `path`.
    #[must_use]
    pub fn new(path: PathBuf, max_bytes: u64, max_files: u32) -> Self {
        FileSink {
            path,
            max_bytes,
            max_files,
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&self) -> std::io::Result<()> {
        if self.max_files == 0 {
            return std::fs::remove_file(&self.path);
        }
        let oldest = self.rotated(self.max_files);
        match std::fs::remove_file(&oldest) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..self.max_files).rev() {
            let from = self.rotated(n);
            match std::fs::rename(&from, self.rotated(n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, self.rotated(1))
    }

    fn write(&self, line: &str) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}

impl Sink for FileSink {
    fn deliver(&mut self, message: &Message) -> Result<(), DeliveryError> {
        let mut line = message.body.trim_end().to_owned();
        line.push('\n');
        self.write(&line)
            .map_err(|e| DeliveryError::Retry(format!("cannot write {}: {e}", self.path.display())))
    }
}
