//! Refusing replayed signed requests.
//!
//! A signed request is accepted only if its `created` time is within
//! [`MAX_SKEW_S`] of the node's clock and its (key, nonce) pair has not been
//! seen in that window. A pair is remembered until its request could no
//! longer be accepted anyway (`created + MAX_SKEW_S`), so memory is bounded by
//! the rate of signed requests, which the edge limits; past `capacity` pairs
//! the node refuses new signed requests rather than forget one early.

use phr_ledger::PublicKey;
use std::collections::{BTreeSet, HashSet};

/// How far a request's `created` may be from the node's clock, in seconds.
pub const MAX_SKEW_S: u64 = 120;

/// Why a signature's time or nonce is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("created is {0} s in the past; signatures are accepted for {MAX_SKEW_S} s (is the client's clock right?)")]
    Stale(u64),
    #[error("created is {0} s in the future; the client's clock is ahead of the node's by more than {MAX_SKEW_S} s")]
    Future(u64),
    #[error("this nonce was used already by this key: a replayed request")]
    Replayed,
    #[error("the node is remembering too many recent signatures; retry in a few seconds")]
    Full,
}

type Seen = (PublicKey, String);

/// Nonces seen recently, by key.
pub struct NonceCache {
    capacity: usize,
    seen: HashSet<Seen>,
    /// (forget at, pair), to forget pairs in time order.
    expiry: BTreeSet<(u64, Seen)>,
}

impl NonceCache {
    pub fn new(capacity: usize) -> Self {
        NonceCache { capacity, seen: HashSet::new(), expiry: BTreeSet::new() }
    }

    /// Accept `(key, nonce)` signed at `created` when the time is `now` (Unix
    /// seconds), remembering it; or say why not.
    pub fn check(&mut self, key: PublicKey, nonce: &str, created: u64, now: u64) -> Result<(), ReplayError> {
        if created + MAX_SKEW_S < now {
            return Err(ReplayError::Stale(now - created));
        }
        if created > now + MAX_SKEW_S {
            return Err(ReplayError::Future(created - now));
        }
        while let Some(first) = self.expiry.first() {
            if first.0 >= now {
                break;
            }
            let (_, pair) = self.expiry.pop_first().expect("checked");
            self.seen.remove(&pair);
        }
        let pair = (key, nonce.to_string());
        if self.seen.contains(&pair) {
            return Err(ReplayError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        self.expiry.insert((created + MAX_SKEW_S, pair.clone()));
        self.seen.insert(pair);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phr_ledger::Keypair;

    #[test]
    fn a_nonce_is_accepted_once_within_the_window_and_forgotten_after() {
        let (a, b) = (Keypair::generate().public_key(), Keypair::generate().public_key());
        let mut c = NonceCache::new(10);
        assert_eq!(c.check(a, "n1", 1000, 1000), Ok(()));
        assert_eq!(c.check(a, "n1", 1000, 1010), Err(ReplayError::Replayed));
        assert_eq!(c.check(b, "n1", 1000, 1010), Ok(()), "another key may use the same nonce");
        assert_eq!(c.check(a, "n2", 1000 - MAX_SKEW_S - 1, 1000), Err(ReplayError::Stale(MAX_SKEW_S + 1)));
        assert_eq!(c.check(a, "n3", 1000 + MAX_SKEW_S + 5, 1000), Err(ReplayError::Future(MAX_SKEW_S + 5)));
        // After the window the pair is forgotten; the request itself is stale by then.
        assert_eq!(c.check(a, "n4", 1000 + MAX_SKEW_S + 1, 1000 + MAX_SKEW_S + 1), Ok(()));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_rather_than_forgets() {
        let k = Keypair::generate().public_key();
        let mut c = NonceCache::new(2);
        c.check(k, "a", 100, 100).unwrap();
        c.check(k, "b", 100, 100).unwrap();
        assert_eq!(c.check(k, "c", 100, 100), Err(ReplayError::Full));
        assert_eq!(c.check(k, "a", 100, 100), Err(ReplayError::Replayed));
    }
}
