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

/// A stable 64-bit hash of an event id (FNV-1a over its bytes, then mixed), which never
/// changes across versions: the event store keys its duplicate check on it.
#[must_use]
pub fn event_id_hash(event_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_hash_never_changes() {
        // Stores key their duplicate check on this value: it must stay what it was.
        assert_eq!(
            event_id_hash("3038ebd2-c98a-4c65-9b6e-e22506292313"),
            0xf549_477d_04e5_ec24
        );
        assert_ne!(event_id_hash("a"), event_id_hash("b"));
    }

    #[test]
    fn separates_parts() {
        assert_ne!(stable_hash_hex(&["ab", "c"]), stable_hash_hex(&["a", "bc"]));
        assert_eq!(stable_hash_hex(&["x"]).len(), 32);
        assert_eq!(stable_hash_hex(&["x"]), stable_hash_hex(&["x"]));
    }
}
