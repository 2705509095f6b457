//! A follower's forwarding of its waiting transactions to the leader.

use crate::raft::server::Forwarded;
use crate::raft::RaftSequencer;
use crate::{Mempool, Sequencer};
use std::sync::Arc;
use std::time::Duration;

/// Sends the transactions admitted on this node to the leader while this node
/// does not lead. They stay in the mempool until committed: if the leader fails
/// before proposing them, they go again (to the new leader) after `retry`.
pub struct Forwarder {
    pub mempool: Arc<Mempool>,
    pub sequencer: Arc<RaftSequencer>,
    pub max_txs: usize,
    pub max_bytes: usize,
    pub retry: Duration,
    /// How long to gather transactions before a forward, so that each signed
    /// round trip carries many.
    pub gather: Duration,
}

impl Forwarder {
    pub async fn run(self) {
        loop {
            if self.sequencer.is_leader() || self.mempool.is_empty() || self.sequencer.leader().is_none() {
                tokio::select! {
                    _ = self.mempool.pushed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
                continue;
            }
            if self.mempool.len() < self.max_txs {
                tokio::time::sleep(self.gather).await;
            }
            let batch = self.mempool.take_for_forward(self.max_txs, self.max_bytes, self.retry);
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let (ids, txs): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match self.sequencer.forward(&txs).await {
                Ok(results) => {
                    // Queued ones stay here until they commit; refused ones leave.
                    let done: Vec<_> = ids
                        .iter()
                        .zip(&results)
                        .filter_map(|(id, r)| match r {
                            Forwarded::Refused(e) => {
                                tracing::warn!(tx = %id, "the leader refused a forwarded transaction: {e}");
                                Some(*id)
                            }
                            Forwarded::Committed => Some(*id),
                            Forwarded::Queued | Forwarded::AlreadyQueued | Forwarded::Busy => None,
                        })
                        .collect();
                    self.mempool.remove(&done);
                }
                Err(e) => {
                    tracing::debug!("forwarding {} transactions failed: {e}", ids.len());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
