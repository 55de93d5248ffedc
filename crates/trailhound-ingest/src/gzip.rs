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

/// Inflating a whole single-member gzip object in one call with libdeflate: the fastest
/// inflater measured here on CloudTrail objects, with no per-object state to allocate and
/// zero (a streaming decoder sets up a 32 KiB window for each object, and CloudTrail delivers
/// objects of a few kilobytes). It takes only objects it can prove to be one member (no
/// member header after the first), whose stated size is within the cap and whose trailer
/// checks out; [`inflate_into`] reads everything else, and explains what is wrong.
pub struct WholeInflater {
    decompressor: libdeflater::Decompressor,
    member_header: memchr::memmem::Finder<'static>,
}

impl Default for WholeInflater {
    fn default() -> Self {
        WholeInflater {
            decompressor: libdeflater::Decompressor::new(),
            member_header: memchr::memmem::Finder::new(&[0x1f, 0x8b, 8]).into_owned(),
        }
    }
}

impl std::fmt::Debug for WholeInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WholeInflater").finish_non_exhaustive()
    }
}

impl WholeInflater {
    /// Inflates `compressed` into the start of `out` (replaced when too small, never shrunk) and
    /// returns the inflated length, or `None` when the object is not one it takes (see the
    /// type), so the caller reads it with [`inflate_into`].
    pub fn inflate(&mut self, compressed: &[u8], cap: u64, out: &mut Vec<u8>) -> Option<usize> {
        const HEADER: usize = 10;
        const TRAILER: usize = 8;
        if compressed.len() < HEADER + TRAILER || !compressed.starts_with(&[0x1f, 0x8b, 8]) {
            return None;
        }
        let size = declared_size(compressed)?;
        if size as u64 > cap || self.member_header.find(compressed.get(HEADER..)?).is_some() {
            return None;
        }
        if out.len() < size {
            if out.capacity() < size {
                // A new buffer rather than a grown one: growing copies what the buffer held,
                // which is about to be overwritten. Sizes are rounded up to 64 KiB so that
                // pooled buffers fit most of the next files and come in few sizes.
                *out = Vec::with_capacity(size.next_multiple_of(64 << 10));
            }
            out.resize(size, 0);
        }
        // libdeflate checks the member's CRC-32 and size; the size just read from the object's
        // end agreeing with what came out shows nothing follows the member.
        match self
            .decompressor
            .gzip_decompress(compressed, out.get_mut(..size)?)
        {
            Ok(n) if n == size => Some(n),
            _ => None,
        }
    }
}

/// The inflated size a gzip object states in its last four bytes (ISIZE: the size of its
/// last member, modulo 2^32), a hint to size a buffer by and no more until inflating
/// agrees.
#[must_use]
pub(crate) fn declared_size(compressed: &[u8]) -> Option<usize> {
    let at = compressed.len().checked_sub(4)?;
    let mut size = [0u8; 4];
    size.copy_from_slice(compressed.get(at..)?);
    usize::try_from(u32::from_le_bytes(size)).ok()
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
    fn whole_inflater_takes_single_members_only() {
        let mut whole = WholeInflater::default();
        let mut out = Vec::new();
        let one = gz(b"hello world");
        assert_eq!(whole.inflate(&one, 100, &mut out), Some(11));
        assert_eq!(&out[..11], b"hello world");
        // Smaller than the buffer left by the last object.
        assert_eq!(whole.inflate(&gz(b"hi"), 100, &mut out), Some(2));
        assert_eq!(&out[..2], b"hi");
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        assert_eq!(whole.inflate(&two, 100, &mut out), None, "two members");
        assert_eq!(whole.inflate(&one, 10, &mut out), None, "over the cap");
        assert_eq!(
            whole.inflate(&one[..one.len() - 3], 100, &mut out),
            None,
            "truncated"
        );
        let mut garbage = one.clone();
        garbage.extend(b"trailing");
        assert_eq!(
            whole.inflate(&garbage, 100, &mut out),
            None,
            "data after the member"
        );
        let mut lying = one.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            whole.inflate(&lying, 100, &mut out),
            None,
            "a size that lies"
        );
        assert_eq!(
            whole.inflate(b"not gzip at all, not at all", 100, &mut out),
            None
        );
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
