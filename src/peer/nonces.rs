//! One-time nonces (architecture §4: "one-time nonces, replay cache with expiry"): a find,
//! a `peer-identify` or a `channel-map` notify is accepted once, until its own expiry.

use std::collections::HashMap;

/// Longest nonce accepted; the protocol's are 32 hex digits.
const MAX_NONCE_LEN: usize = 128;

/// Nonces seen, each kept until the expiry of the proof that carried it.
///
/// Bounded: when full of unexpired nonces it refuses new ones (fails closed) rather than forget
/// one that could then be replayed.
#[derive(Debug)]
pub(crate) struct NonceCache {
    seen: HashMap<String, u64>,
    capacity: usize,
}

impl NonceCache {
    /// A cache holding at most `capacity` live nonces.
    pub(crate) fn new(capacity: usize) -> NonceCache {
        NonceCache {
            seen: HashMap::new(),
            capacity,
        }
    }

    /// Records `nonce` (valid until `expires`) and says whether it was fresh: `false` for a
    /// nonce seen before, an empty or oversized one, or when the cache is full.
    pub(crate) fn use_once(&mut self, nonce: &str, expires: u64, now: u64) -> bool {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || self.seen.contains_key(nonce) {
            return false;
        }
        if self.seen.len() >= self.capacity {
            self.seen.retain(|_, until| *until >= now);
            if self.seen.len() >= self.capacity {
                return false;
            }
        }
        self.seen.insert(nonce.to_owned(), expires);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once() {
        let mut cache = NonceCache::new(10);
        assert!(cache.use_once("n1", 100, 50));
        assert!(!cache.use_once("n1", 100, 50));
        assert!(cache.use_once("n2", 100, 50));
        assert!(!cache.use_once("", 100, 50));
        assert!(!cache.use_once(&"x".repeat(200), 100, 50));
    }

    #[test]
    fn a_full_cache_forgets_only_expired_nonces() {
        let mut cache = NonceCache::new(2);
        assert!(cache.use_once("a", 10, 0));
        assert!(cache.use_once("b", 100, 0));
        // Full of live nonces: refuse rather than forget.
        assert!(!cache.use_once("c", 100, 5));
        // "a" has expired by now: it makes room, "b" is still remembered.
        assert!(cache.use_once("c", 100, 20));
        assert!(!cache.use_once("b", 100, 20));
    }
}
