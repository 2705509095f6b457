//! The block cutter: when to turn waiting transactions into a batch.

use crate::{Mempool, OrderError, Sequencer};
use phr_ledger::Batch;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Fabric's BatchSize and BatchTimeout: cut a batch when it holds `max_txs`
/// transactions or `max_bytes` bytes, or `timeout` after its oldest transaction
/// arrived, whichever comes first.
#[derive(Clone, Debug)]
pub struct CutterConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Cuts batches from a mempool and orders them through a sequencer, one in
/// flight at a time, while this node leads.
pub struct Cutter<S: Sequencer> {
    pub mempool: Arc<Mempool>,
    pub sequencer: Arc<S>,
    pub config: CutterConfig,
    /// The node id written as proposer.
    pub node_id: String,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl<S: Sequencer> Cutter<S> {
    /// Run until the sequencer reports that the node halted.
    pub async fn run(self) {
        loop {
            if self.mempool.is_empty() || !self.sequencer.is_leader() {
                tokio::select! {
                    _ = self.mempool.pushed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
                continue;
            }
            // Wait until the batch is full or the oldest transaction has waited long enough.
            loop {
                let full = self.mempool.len() >= self.config.max_txs || self.mempool.bytes() >= self.config.max_bytes;
                let deadline = match self.mempool.oldest() {
                    Some(t) => Instant::from_std(t) + self.config.timeout,
                    None => break,
                };
                if full || Instant::now() >= deadline {
                    break;
                }
                tokio::select! {
                    _ = self.mempool.pushed() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            let picked = self.mempool.peek(self.config.max_txs, self.config.max_bytes);
            if picked.is_empty() {
                continue;
            }
            let (ids, txs): (Vec<_>, Vec<_>) = picked.into_iter().unzip();
            let batch = Batch {
                proposer: self.node_id.clone(),
                time_ms: now_ms(),
                attestation: self.sequencer.attestation(),
                txs,
            };
            match self.sequencer.order(batch).await {
                Ok(()) => self.mempool.remove(&ids),
                // Leadership moved, or this attempt failed: the transactions stay, to be
                // proposed again or forwarded to the new leader.
                Err(e @ (OrderError::NotLeader(_) | OrderError::Failed(_))) => {
                    tracing::debug!("batch not ordered: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e @ OrderError::Halted(_)) => {
                    tracing::error!("block cutter stops: {e}");
                    return;
                }
            }
        }
    }
}
