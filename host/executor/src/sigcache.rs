//! Transaction ids whose signatures this node has already checked.

use parking_lot::Mutex;
use phr_ledger::TxId;
use std::collections::{HashSet, VecDeque};

/// A bounded set of verified transaction ids. A transaction id is the hash of
/// the signed bytes, so a verified id means these exact bytes verified: the
/// executor need not check them again when their block is applied. Oldest
/// entries are forgotten first; forgetting only costs a second check.
pub struct SigCache {
    inner: Mutex<(HashSet<TxId>, VecDeque<TxId>)>,
    capacity: usize,
}

impl SigCache {
    pub fn new(capacity: usize) -> Self {
        SigCache { inner: Mutex::new((HashSet::new(), VecDeque::new())), capacity }
    }

    pub fn insert(&self, id: TxId) {
        let mut g = self.inner.lock();
        if g.0.insert(id) {
            g.1.push_back(id);
            while g.1.len() > self.capacity {
                if let Some(old) = g.1.pop_front() {
                    g.0.remove(&old);
                }
            }
        }
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.inner.lock().0.contains(id)
    }
}
