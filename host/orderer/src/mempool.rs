//! Admitted transactions waiting for a block.

use parking_lot::Mutex;
use phr_ledger::{SignedTx, TxId};
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("the node is busy: {0} transactions are waiting; retry shortly")]
    Full(usize),
    #[error("the node is busy: {0} bytes of transactions are waiting; retry shortly")]
    FullBytes(usize),
    #[error("transaction {0} is already waiting for a block")]
    Pending(TxId),
}

struct Waiting {
    id: TxId,
    tx: SignedTx,
    size: usize,
    arrived: Instant,
    /// When this node last sent it to the leader, if it did.
    forwarded: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Waiting>,
    ids: HashSet<TxId>,
    bytes: usize,
}

/// A FIFO of admitted transactions bounded by count and by bytes, without
/// duplicates (so that a flood of large transactions cannot exhaust memory
/// before the count is reached). A transaction
/// stays until it is committed (or definitively refused): the leader proposes
/// from it; a follower forwards from it, again if a leader fails to propose.
pub struct Mempool {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: usize,
    notify: Notify,
}

impl Mempool {
    /// At most `capacity` transactions and `max_bytes` of their canonical bytes.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Mempool { inner: Mutex::new(Inner::default()), capacity, max_bytes, notify: Notify::new() }
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
        // One transaction always fits in an empty pool, whatever its size.
        if !g.queue.is_empty() && g.bytes + size > self.max_bytes {
            return Err(MempoolError::FullBytes(g.bytes));
        }
        g.ids.insert(id);
        g.bytes += size;
        g.queue.push_back(Waiting { id, tx, size, arrived: Instant::now(), forwarded: None });
        drop(g);
        self.notify.notify_one();
        Ok(())
    }

    /// The oldest transactions, without removing them: at most `max_txs`, and at
    /// most `max_bytes` of them (but at least one if any is waiting).
    pub fn peek(&self, max_txs: usize, max_bytes: usize) -> Vec<(TxId, SignedTx)> {
        let g = self.inner.lock();
        select(g.queue.iter(), max_txs, max_bytes).map(|w| (w.id, w.tx.clone())).collect()
    }

    /// Like [`Mempool::peek`], over transactions not forwarded within `retry`,
    /// and marks them forwarded now.
    pub fn take_for_forward(&self, max_txs: usize, max_bytes: usize, retry: Duration) -> Vec<(TxId, SignedTx)> {
        let now = Instant::now();
        let mut g = self.inner.lock();
        let due = |w: &Waiting| w.forwarded.is_none_or(|t| now.duration_since(t) >= retry);
        let picked: Vec<TxId> = select(g.queue.iter().filter(|w| due(w)), max_txs, max_bytes).map(|w| w.id).collect();
        let picked: HashSet<TxId> = picked.into_iter().collect();
        let mut out = Vec::with_capacity(picked.len());
        for w in g.queue.iter_mut().filter(|w| picked.contains(&w.id)) {
            w.forwarded = Some(now);
            out.push((w.id, w.tx.clone()));
        }
        out
    }

    /// Remove transactions (committed, or refused for good).
    pub fn remove(&self, ids: &[TxId]) {
        let mut g = self.inner.lock();
        if ids.iter().all(|id| !g.ids.contains(id)) {
            return;
        }
        let gone: HashSet<&TxId> = ids.iter().collect();
        let mut freed = 0;
        g.queue.retain(|w| {
            let keep = !gone.contains(&w.id);
            if !keep {
                freed += w.size;
            }
            keep
        });
        g.bytes -= freed;
        for id in ids {
            g.ids.remove(id);
        }
    }

    /// The waiting transaction `id`, if it is waiting.
    pub fn get(&self, id: &TxId) -> Option<SignedTx> {
        let g = self.inner.lock();
        if !g.ids.contains(id) {
            return None;
        }
        g.queue.iter().find(|w| w.id == *id).map(|w| w.tx.clone())
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

/// The longest prefix of `it` within the limits (at least one item).
fn select<'a>(
    it: impl Iterator<Item = &'a Waiting>,
    max_txs: usize,
    max_bytes: usize,
) -> impl Iterator<Item = &'a Waiting> {
    let mut bytes = 0;
    let mut n = 0;
    it.take_while(move |w| {
        let fits = n < max_txs && (n == 0 || bytes + w.size <= max_bytes);
        if fits {
            n += 1;
            bytes += w.size;
        }
        fits
    })
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
    fn fifo_bounded_without_duplicates_until_removed() {
        let pool = Mempool::new(2, 1 << 20);
        let (a, ta) = tx(1);
        let (b, tb) = tx(2);
        let (c, tc) = tx(3);
        pool.push(a, ta.clone(), 100).unwrap();
        assert_eq!(pool.push(a, ta, 100), Err(MempoolError::Pending(a)));
        pool.push(b, tb, 100).unwrap();
        assert_eq!(pool.push(c, tc.clone(), 100), Err(MempoolError::Full(2)));
        let got: Vec<TxId> = pool.peek(10, 10_000).into_iter().map(|(id, _)| id).collect();
        assert_eq!(got, vec![a, b]);
        assert_eq!(pool.len(), 2, "peeking removes nothing");
        pool.remove(&[a]);
        assert_eq!((pool.len(), pool.bytes()), (1, 100));
        pool.push(c, tc, 100).unwrap();
        pool.remove(&[b, c]);
        assert!(pool.is_empty() && pool.bytes() == 0);
    }

    #[test]
    fn bytes_are_bounded_too_so_large_transactions_cannot_fill_memory() {
        let pool = Mempool::new(1000, 1000);
        let (a, ta) = tx(1);
        let (b, tb) = tx(2);
        let (c, tc) = tx(3);
        pool.push(a, ta, 600).unwrap();
        assert_eq!(pool.push(b, tb.clone(), 600), Err(MempoolError::FullBytes(600)));
        pool.push(c, tc, 400).unwrap();
        pool.remove(&[a]);
        pool.push(b, tb, 600).unwrap();
        // One transaction larger than the bound still fits in an empty pool.
        let big = Mempool::new(10, 100);
        let (d, td) = tx(4);
        big.push(d, td, 5000).unwrap();
    }

    #[test]
    fn peek_respects_count_and_bytes_but_never_starves() {
        let pool = Mempool::new(10, 1 << 20);
        for n in 0..5 {
            let (id, t) = tx(n);
            pool.push(id, t, 400).unwrap();
        }
        assert_eq!(pool.peek(2, 10_000).len(), 2);
        assert_eq!(pool.peek(10, 900).len(), 2);
        assert_eq!(pool.peek(10, 10).len(), 1, "one oversized transaction still moves");
    }

    #[test]
    fn forwarding_waits_before_sending_the_same_transaction_again() {
        let pool = Mempool::new(10, 1 << 20);
        for n in 0..3 {
            let (id, t) = tx(n);
            pool.push(id, t, 10).unwrap();
        }
        assert_eq!(pool.take_for_forward(2, 1000, Duration::from_secs(60)).len(), 2);
        assert_eq!(pool.take_for_forward(10, 1000, Duration::from_secs(60)).len(), 1, "only the one not yet sent");
        assert!(pool.take_for_forward(10, 1000, Duration::from_secs(60)).is_empty());
        assert_eq!(pool.take_for_forward(10, 1000, Duration::ZERO).len(), 3, "due again after the retry time");
        assert_eq!(pool.len(), 3, "forwarded transactions stay until committed");
    }
}
