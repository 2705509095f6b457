//! Admitted transactions waiting for a block.

use parking_lot::Mutex;
use phr_ledger::{SignedTx, TxId};
use std::collections::{HashSet, VecDeque};
use std::time::Instant;
use tokio::sync::Notify;

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("the node is busy: {0} transactions are waiting; retry shortly")]
    Full(usize),
    #[error("transaction {0} is already waiting for a block")]
    Pending(TxId),
}

struct Waiting {
    id: TxId,
    tx: SignedTx,
    size: usize,
    arrived: Instant,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Waiting>,
    ids: HashSet<TxId>,
    bytes: usize,
}

/// A bounded FIFO of admitted transactions, without duplicates.
pub struct Mempool {
    inner: Mutex<Inner>,
    capacity: usize,
    notify: Notify,
}

impl Mempool {
    pub fn new(capacity: usize) -> Self {
        Mempool { inner: Mutex::new(Inner::default()), capacity, notify: Notify::new() }
    }

    /// Queue an admitted transaction of canonical size `size`.
    pub fn push(&self, id: TxId, tx: SignedTx, size: usize) -> Result<(), MempoolError> {
        let mut g = self.inner.lock();
        if g.ids.contains(&id) {
            return Err(MempoolError::Pending(id));
        }
        if g.queue.len() >= self.capacity {
            return Err(MempoolError::Full(g.queue.len()));
        }
        g.ids.insert(id);
        g.bytes += size;
        g.queue.push_back(Waiting { id, tx, size, arrived: Instant::now() });
        drop(g);
        self.notify.notify_one();
        Ok(())
    }

    /// Remove and return the oldest transactions: at most `max_txs`, and at most
    /// `max_bytes` of them (but always at least one if any is waiting).
    pub fn take(&self, max_txs: usize, max_bytes: usize) -> Vec<(TxId, SignedTx)> {
        let mut g = self.inner.lock();
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_txs {
            let Some(front) = g.queue.front() else { break };
            if !out.is_empty() && bytes + front.size > max_bytes {
                break;
            }
            let w = g.queue.pop_front().expect("front exists");
            bytes += w.size;
            g.bytes -= w.size;
            g.ids.remove(&w.id);
            out.push((w.id, w.tx));
        }
        out
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.inner.lock().ids.contains(id)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// When the oldest waiting transaction arrived.
    pub fn oldest(&self) -> Option<Instant> {
        self.inner.lock().queue.front().map(|w| w.arrived)
    }

    /// Resolves after the next `push` (or at once if one happened since the
    /// last wait).
    pub async fn pushed(&self) {
        self.notify.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phr_ledger::{Keypair, TxBody};

    fn tx(n: u64) -> (TxId, SignedTx) {
        let k = Keypair::from_secret(&[3u8; 32]).unwrap();
        let t = TxBody {
            chain_id: "c".into(),
            contract: "x".into(),
            method: "m".into(),
            args: "{}".into(),
            nonce: n,
            expiry_height: 9,
            signer: k.public_key(),
        }
        .sign(&k);
        (t.id(), t)
    }

    #[test]
    fn fifo_bounded_and_without_duplicates() {
        let pool = Mempool::new(2);
        let (a, ta) = tx(1);
        let (b, tb) = tx(2);
        let (c, tc) = tx(3);
        pool.push(a, ta.clone(), 100).unwrap();
        assert_eq!(pool.push(a, ta, 100), Err(MempoolError::Pending(a)));
        pool.push(b, tb, 100).unwrap();
        assert_eq!(pool.push(c, tc, 100), Err(MempoolError::Full(2)));
        let got: Vec<TxId> = pool.take(10, 10_000).into_iter().map(|(id, _)| id).collect();
        assert_eq!(got, vec![a, b]);
        assert!(pool.is_empty() && pool.bytes() == 0);
    }

    #[test]
    fn take_respects_count_and_bytes_but_never_starves() {
        let pool = Mempool::new(10);
        for n in 0..5 {
            let (id, t) = tx(n);
            pool.push(id, t, 400).unwrap();
        }
        assert_eq!(pool.take(2, 10_000).len(), 2);
        assert_eq!(pool.take(10, 900).len(), 2);
        assert_eq!(pool.take(10, 10).len(), 1, "one oversized transaction still moves");
        assert!(pool.is_empty());
    }
}
