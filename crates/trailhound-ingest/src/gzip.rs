//! The one place gzip is decoded: a multi-member decoder with a hard cap on inflated bytes.

use std::io::{self, Read};

/// The first two bytes of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True when `bytes` starts with the gzip magic number.
#[must_use]
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Why inflating stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// More than the cap would have come out: a gzip bomb or an oversized object.
    TooLarge,
    /// The stream ended in the middle of a member.
    Truncated,
    /// The stream is not valid gzip/deflate data.
    Corrupt,
}

/// A reader that inflates (multi-member) gzip from `inner` and fails with
/// [`io::ErrorKind::FileTooLarge`] once more than `cap` inflated bytes would be produced.
///
/// Every gzip decoding in trailhound goes through this type, so no caller can forget the cap.
pub struct CappedGzReader<R: Read> {
    inner: flate2::read::MultiGzDecoder<R>,
    remaining: u64,
}

impl<R: Read> CappedGzReader<R> {
    /// A decoder of `inner` that yields at most `cap` bytes.
    #[allow(clippy::disallowed_methods)]
    pub fn new(inner: R, cap: u64) -> Self {
        CappedGzReader {
            inner: flate2::read::MultiGzDecoder::new(inner),
            remaining: cap,
        }
    }
}

impl<R: Read> Read for CappedGzReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // Probe one byte: only an actual excess is an error, not a stream of exactly `cap`.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "inflated size exceeds the cap",
                )),
            };
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Inflates the whole of `compressed` into `out` (cleared first), at most `cap` bytes.
///
/// On error `out` keeps what was inflated before the problem, so the caller can still read
/// the good records of a truncated object.
///
/// # Errors
/// [`InflateError`] says why inflating stopped.
pub fn inflate_into(compressed: &[u8], cap: u64, out: &mut Vec<u8>) -> Result<(), InflateError> {
    out.clear();
    // Typical CloudTrail gzip ratio is about 10:1; reserve so most objects need one allocation.
    let hint = compressed.len().saturating_mul(12);
    out.reserve(
        hint.min(usize::try_from(cap).unwrap_or(usize::MAX))
            .min(256 << 20),
    );
    let mut reader = CappedGzReader::new(compressed, cap);
    match reader.read_to_end(out) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.kind() {
            io::ErrorKind::FileTooLarge => InflateError::TooLarge,
            io::ErrorKind::UnexpectedEof => InflateError::Truncated,
            _ => InflateError::Corrupt,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn multi_member_is_read_whole() {
        let mut both = gz(b"hello ");
        both.extend(gz(b"world"));
        let mut out = Vec::new();
        inflate_into(&both, 100, &mut out).unwrap();
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn cap_is_exact() {
        let data = gz(&[b'a'; 1000]);
        let mut out = Vec::new();
        inflate_into(&data, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 1000);
        assert_eq!(
            inflate_into(&data, 999, &mut out),
            Err(InflateError::TooLarge)
        );
        assert_eq!(out.len(), 999);
    }

    #[test]
    fn truncated_keeps_prefix() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let data = gz(&text);
        let mut out = Vec::new();
        assert_eq!(
            inflate_into(&data[..data.len() / 2], 1 << 30, &mut out),
            Err(InflateError::Truncated)
        );
        assert!(!out.is_empty());
        assert!(text.starts_with(&out));
    }

    #[test]
    fn garbage_after_magic_is_corrupt() {
        let mut out = Vec::new();
        let bad = [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(inflate_into(&bad, 100, &mut out).is_err());
    }
}
