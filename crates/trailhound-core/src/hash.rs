use sha2::{Digest, Sha256};

/// A stable hex hash (first 16 bytes of SHA-256) of the parts, separated so that
/// `("ab","c")` and `("a","bc")` differ. Used for alert fingerprints and ids, which must be
/// identical across runs, versions and machines (receivers drop duplicates by id).
#[must_use]
pub fn stable_hash_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(32);
    for byte in &digest[..16] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_parts() {
        assert_ne!(stable_hash_hex(&["ab", "c"]), stable_hash_hex(&["a", "bc"]));
        assert_eq!(stable_hash_hex(&["x"]).len(), 32);
        assert_eq!(stable_hash_hex(&["x"]), stable_hash_hex(&["x"]));
    }
}
