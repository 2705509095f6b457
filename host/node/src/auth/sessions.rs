//! Short-lived session tokens, for the browser and for event streams.
//!
//! A caller who signed `POST /v1/session` gets a random 256-bit token valid for
//! at most [`MAX_TTL_S`]; sending `Authorization: Bearer <token>` then counts as
//! a request signed by that caller's key. The node keeps only the tokens'
//! SHA-256, at most [`PER_KEY`] per key (the oldest is dropped) and
//! `capacity` in all.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use phr_ledger::{sha256, Hash32, PublicKey};
use rand_core::RngCore;
use std::collections::HashMap;

/// Longest a token lives, in seconds.
pub const MAX_TTL_S: u64 = 3600;
/// Most live tokens of one key.
pub const PER_KEY: usize = 16;

struct Session {
    key: PublicKey,
    expires_ms: u64,
    issued_ms: u64,
}

/// Live session tokens, by their SHA-256.
pub struct Sessions {
    capacity: usize,
    by_hash: HashMap<Hash32, Session>,
}

/// A new token and when it expires.
pub struct Issued {
    pub token: String,
    pub expires_ms: u64,
}

impl Sessions {
    pub fn new(capacity: usize) -> Self {
        Sessions { capacity, by_hash: HashMap::new() }
    }

    fn purge(&mut self, now_ms: u64) {
        self.by_hash.retain(|_, s| s.expires_ms > now_ms);
    }

    /// A token for `key` valid for `ttl_s` seconds (at most [`MAX_TTL_S`]).
    pub fn issue(&mut self, key: PublicKey, ttl_s: u64, now_ms: u64) -> Result<Issued, String> {
        self.purge(now_ms);
        let mine: Vec<(Hash32, u64)> =
            self.by_hash.iter().filter(|(_, s)| s.key == key).map(|(h, s)| (*h, s.issued_ms)).collect();
        if mine.len() >= PER_KEY {
            let oldest = mine.iter().min_by_key(|(_, t)| *t).map(|(h, _)| *h).expect("non-empty");
            self.by_hash.remove(&oldest);
        }
        if self.by_hash.len() >= self.capacity {
            return Err("the node holds too many sessions; sign requests instead, or retry later".into());
        }
        let mut raw = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut raw);
        let token = B64URL.encode(raw);
        let expires_ms = now_ms + ttl_s.clamp(1, MAX_TTL_S) * 1000;
        self.by_hash.insert(sha256(&[token.as_bytes()]), Session { key, expires_ms, issued_ms: now_ms });
        Ok(Issued { token, expires_ms })
    }

    /// The key a live token speaks for.
    pub fn resolve(&self, token: &str, now_ms: u64) -> Option<PublicKey> {
        self.by_hash.get(&sha256(&[token.as_bytes()])).filter(|s| s.expires_ms > now_ms).map(|s| s.key)
    }

    /// End a token early; true if it was live.
    pub fn revoke(&mut self, token: &str) -> bool {
        self.by_hash.remove(&sha256(&[token.as_bytes()])).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phr_ledger::Keypair;

    #[test]
    fn tokens_speak_for_their_key_until_they_expire_or_are_revoked() {
        let k = Keypair::generate().public_key();
        let mut s = Sessions::new(100);
        let t = s.issue(k, 60, 1_000).unwrap();
        assert_eq!(s.resolve(&t.token, 1_000), Some(k));
        assert_eq!(s.resolve(&t.token, 61_000), None, "expired");
        assert_eq!(s.resolve("not-a-token", 1_000), None);
        let t2 = s.issue(k, 10 * MAX_TTL_S, 1_000).unwrap();
        assert_eq!(t2.expires_ms, 1_000 + MAX_TTL_S * 1000, "capped");
        assert!(s.revoke(&t2.token));
        assert_eq!(s.resolve(&t2.token, 1_000), None);
    }

    #[test]
    fn one_key_holds_a_bounded_number_of_tokens() {
        let k = Keypair::generate().public_key();
        let mut s = Sessions::new(1000);
        let first = s.issue(k, 60, 0).unwrap();
        for i in 1..=PER_KEY as u64 {
            s.issue(k, 60, i).unwrap();
        }
        assert_eq!(s.resolve(&first.token, 10), None, "the oldest was dropped");
        let mut full = Sessions::new(1);
        full.issue(k, 60, 0).unwrap();
        assert!(full.issue(Keypair::generate().public_key(), 60, 0).is_err());
    }
}
