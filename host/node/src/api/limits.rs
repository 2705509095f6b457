//! Limits at the edge, so that no client can starve the ledger: request
//! rates per address and per identity, transaction submissions per identity,
//! heavy requests (queries, explain, block reads) bounded in all and per
//! caller, and event streams bounded in all and per caller. A caller over a
//! limit gets 429 with `Retry-After`; nothing it sent is acted on.

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The limits of one node (`[limits]` in `node.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Requests per second from one address (bursts of twice as many).
    pub requests_per_ip_per_s: u32,
    /// Requests per second of one identity.
    pub requests_per_identity_per_s: u32,
    /// Transactions one identity may submit per second.
    pub txs_per_identity_per_s: u32,
    /// Self-enrolments (`identity.enrol_patient`, each with a fresh key) one
    /// address may submit per second, so that a flood of new keys cannot
    /// fill the mempool.
    pub enrolments_per_ip_per_s: u32,
    /// Heavy requests (queries, block reads, explain) per second of one caller.
    pub heavy_per_caller_per_s: u32,
    /// Heavy requests running at once on this node, and for one caller.
    pub heavy_concurrent: usize,
    pub heavy_concurrent_per_caller: usize,
    /// Open event streams on this node, and of one caller.
    pub streams: usize,
    pub streams_per_caller: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            requests_per_ip_per_s: 5_000,
            requests_per_identity_per_s: 200,
            txs_per_identity_per_s: 100,
            enrolments_per_ip_per_s: 20,
            heavy_per_caller_per_s: 50,
            heavy_concurrent: 4,
            heavy_concurrent_per_caller: 2,
            streams: 1_000,
            streams_per_caller: 8,
        }
    }
}

impl LimitSettings {
    pub fn check(&self) -> Result<(), String> {
        let rates = [
            self.requests_per_ip_per_s,
            self.requests_per_identity_per_s,
            self.txs_per_identity_per_s,
            self.enrolments_per_ip_per_s,
            self.heavy_per_caller_per_s,
        ];
        let counts = [self.heavy_concurrent, self.heavy_concurrent_per_caller, self.streams, self.streams_per_caller];
        if rates.contains(&0) || counts.contains(&0) {
            return Err("every [limits] value must be positive".into());
        }
        Ok(())
    }
}

/// Who a limit counts against: an identity, or an address for anonymous callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallerKey {
    Identity(phr_ledger::PublicKey),
    Address(IpAddr),
}

/// A refusal: why, and when to retry.
#[derive(Clone, Debug)]
pub struct OverLimit {
    pub what: String,
    pub retry_after: Duration,
}

fn quota(per_s: u32) -> Quota {
    let n = NonZeroU32::new(per_s.max(1)).expect("positive");
    Quota::per_second(n).allow_burst(n.saturating_mul(NonZeroU32::new(2).expect("2")))
}

/// Counts of things open per caller, released by dropping a [`Slot`].
#[derive(Default)]
struct Counts(Mutex<HashMap<CallerKey, usize>>);

/// One open heavy request or stream; releases its place when dropped.
pub struct Slot {
    counts: Arc<Counts>,
    key: CallerKey,
    _global: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock();
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// A bounded pool of places: in all, and per caller.
struct Places {
    global: Arc<tokio::sync::Semaphore>,
    per_caller: usize,
    counts: Arc<Counts>,
}

impl Places {
    fn new(global: usize, per_caller: usize) -> Self {
        Places {
            global: Arc::new(tokio::sync::Semaphore::new(global)),
            per_caller,
            counts: Arc::new(Counts::default()),
        }
    }

    fn take(&self, key: CallerKey, what: &str) -> Result<Slot, OverLimit> {
        let mut m = self.counts.0.lock();
        let n = m.entry(key).or_insert(0);
        if *n >= self.per_caller {
            return Err(OverLimit {
                what: format!("{} {what} already open for this caller", self.per_caller),
                retry_after: Duration::from_secs(1),
            });
        }
        let permit = self.global.clone().try_acquire_owned().map_err(|_| OverLimit {
            what: format!("this node is serving as many {what} as it allows"),
            retry_after: Duration::from_secs(1),
        })?;
        *n += 1;
        Ok(Slot { counts: self.counts.clone(), key, _global: permit })
    }
}

/// Every limit of one node.
pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_identity: DefaultKeyedRateLimiter<phr_ledger::PublicKey>,
    txs: DefaultKeyedRateLimiter<phr_ledger::PublicKey>,
    enrolments: DefaultKeyedRateLimiter<IpAddr>,
    heavy_rate: DefaultKeyedRateLimiter<CallerKey>,
    heavy: Places,
    streams: Places,
}

fn check<K: Hash + Eq + Clone>(l: &DefaultKeyedRateLimiter<K>, key: &K, what: &str) -> Result<(), OverLimit> {
    l.check_key(key).map_err(|not_until| OverLimit {
        what: what.to_string(),
        retry_after: not_until.wait_time_from(governor::clock::DefaultClock::default().now()),
    })
}

impl Limits {
    pub fn new(s: &LimitSettings) -> Self {
        Limits {
            per_ip: DefaultKeyedRateLimiter::keyed(quota(s.requests_per_ip_per_s)),
            per_identity: DefaultKeyedRateLimiter::keyed(quota(s.requests_per_identity_per_s)),
            txs: DefaultKeyedRateLimiter::keyed(quota(s.txs_per_identity_per_s)),
            enrolments: DefaultKeyedRateLimiter::keyed(quota(s.enrolments_per_ip_per_s)),
            heavy_rate: DefaultKeyedRateLimiter::keyed(quota(s.heavy_per_caller_per_s)),
            heavy: Places::new(s.heavy_concurrent, s.heavy_concurrent_per_caller),
            streams: Places::new(s.streams, s.streams_per_caller),
        }
    }

    /// One request from `ip`.
    pub fn address(&self, ip: IpAddr) -> Result<(), OverLimit> {
        check(&self.per_ip, &ip, "too many requests from this address")
    }

    /// One request of the identity holding `key`.
    pub fn identity(&self, key: &phr_ledger::PublicKey) -> Result<(), OverLimit> {
        check(&self.per_identity, key, "too many requests from this identity")
    }

    /// One transaction submitted by the identity holding `key`.
    pub fn submission(&self, key: &phr_ledger::PublicKey) -> Result<(), OverLimit> {
        check(&self.txs, key, "too many transactions from this identity")
    }

    /// One self-enrolment from `ip`.
    pub fn enrolment(&self, ip: IpAddr) -> Result<(), OverLimit> {
        check(&self.enrolments, &ip, "too many self-enrolments from this address")
    }

    /// A place for one heavy request of `caller`.
    pub fn heavy(&self, caller: CallerKey) -> Result<Slot, OverLimit> {
        check(&self.heavy_rate, &caller, "too many heavy requests (queries, block reads) from this caller")?;
        self.heavy.take(caller, "heavy requests")
    }

    /// A place for one event stream of `caller`.
    pub fn stream(&self, caller: CallerKey) -> Result<Slot, OverLimit> {
        self.streams.take(caller, "event streams")
    }

    /// Forget the rate state of callers quiet for a while (call periodically).
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_identity.retain_recent();
        self.txs.retain_recent();
        self.enrolments.retain_recent();
        self.heavy_rate.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_over_its_rate_is_refused_with_a_retry_time_and_others_are_not() {
        let s = LimitSettings { requests_per_ip_per_s: 5, ..Default::default() };
        let l = Limits::new(&s);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..10 {
            l.address(a).unwrap();
        }
        let over = l.address(a).unwrap_err();
        assert!(over.retry_after > Duration::ZERO && over.retry_after <= Duration::from_secs(1));
        assert!(l.address(b).is_ok());
    }

    #[test]
    fn heavy_places_are_bounded_per_caller_and_in_all_and_come_back_when_released() {
        let s = LimitSettings { heavy_concurrent: 3, heavy_concurrent_per_caller: 2, ..Default::default() };
        let l = Limits::new(&s);
        let a = CallerKey::Address("10.0.0.1".parse().unwrap());
        let b = CallerKey::Address("10.0.0.2".parse().unwrap());
        let a1 = l.heavy(a).unwrap();
        let _a2 = l.heavy(a).unwrap();
        assert!(l.heavy(a).is_err(), "per caller");
        let _b1 = l.heavy(b).unwrap();
        assert!(l.heavy(b).is_err(), "in all");
        drop(a1);
        assert!(l.heavy(b).is_ok());
    }
}
