//! The running node: executor, mempool, sequencer, and what connects them to
//! clients (commit waiters, the event hub, metrics).

use crate::metrics::Metrics;
use parking_lot::Mutex;
use phr_executor::{AppliedBlock, Executor};
use phr_ledger::{Attestation, Batch, Event, Receipt, TxId};
use phr_orderer::{BatchApplier, Mempool, SoloSequencer};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, oneshot};

/// A transaction's place in the chain and its receipt.
#[derive(Clone, Debug)]
pub struct Committed {
    pub height: u64,
    pub index: u32,
    pub receipt: Receipt,
}

/// Clients waiting for transactions to commit.
#[derive(Default)]
pub struct Waiters {
    map: Mutex<HashMap<TxId, Vec<oneshot::Sender<Arc<Committed>>>>>,
}

impl Waiters {
    /// Be told when `id` commits. Register before the transaction can commit.
    pub fn register(&self, id: TxId) -> oneshot::Receiver<Arc<Committed>> {
        let (tx, rx) = oneshot::channel();
        self.map.lock().entry(id).or_default().push(tx);
        rx
    }

    /// Stop waiting for `id` (its submission failed).
    pub fn forget(&self, id: &TxId) {
        self.map.lock().remove(id);
    }

    fn complete(&self, id: &TxId, c: Arc<Committed>) {
        if let Some(list) = self.map.lock().remove(id) {
            for w in list {
                let _ = w.send(c.clone());
            }
        }
    }
}

/// An event as streamed to subscribers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamEvent {
    pub height: u64,
    pub tx_index: u32,
    /// Index of the event within its transaction's receipt.
    pub event_index: u32,
    pub tx_id: TxId,
    #[serde(flatten)]
    pub event: Event,
}

/// Applies batches through the executor and tells waiters and subscribers.
pub struct Applier {
    pub exec: Arc<Executor>,
    pub waiters: Arc<Waiters>,
    pub events: broadcast::Sender<Arc<StreamEvent>>,
    pub metrics: Arc<Metrics>,
    /// For the periodic progress line: when it was last written, and the
    /// transactions committed since.
    pub progress: Mutex<(Instant, usize)>,
}

/// How often the node logs its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Applier {
    fn publish(&self, b: &AppliedBlock) {
        let height = b.block.header.height;
        for (i, (id, r)) in b.tx_ids.iter().zip(&b.receipts).enumerate() {
            for (j, e) in r.events.iter().enumerate() {
                let _ = self.events.send(Arc::new(StreamEvent {
                    height,
                    tx_index: i as u32,
                    event_index: j as u32,
                    tx_id: *id,
                    event: e.clone(),
                }));
            }
            self.waiters.complete(id, Arc::new(Committed { height, index: i as u32, receipt: r.clone() }));
        }
    }
}

impl BatchApplier for Applier {
    fn apply(&self, batch: Batch, position: Vec<u8>) -> Result<(), String> {
        let started = Instant::now();
        let n = batch.txs.len();
        match self.exec.apply(&batch, position) {
            Ok(b) => {
                self.metrics.block_applied(&b, started.elapsed());
                tracing::debug!(height = b.block.header.height, txs = n, hash = %b.hash, "committed block");
                let mut p = self.progress.lock();
                p.1 += n;
                if p.0.elapsed() >= PROGRESS_EVERY {
                    tracing::info!(height = b.block.header.height, state_root = %b.state_root, "{} transactions committed in the last {:.0} s", p.1, p.0.elapsed().as_secs_f64());
                    *p = (Instant::now(), 0);
                }
                drop(p);
                self.publish(&b);
                Ok(())
            }
            Err(e) => {
                self.metrics.halted.set(1);
                tracing::error!("NODE HALTED: {e}");
                Err(e.to_string())
            }
        }
    }

    fn attestation(&self) -> Option<Attestation> {
        let t = self.exec.tip();
        Some(Attestation {
            height: t.height,
            block_hash: t.block_hash,
            state_root: t.state_root,
            receipts_root: t.receipts_root,
        })
    }
}

/// One running node, shared by the API handlers.
pub struct Node {
    pub id: String,
    pub exec: Arc<Executor>,
    pub mempool: Arc<Mempool>,
    pub sequencer: Arc<SoloSequencer<Applier>>,
    pub waiters: Arc<Waiters>,
    pub events: broadcast::Sender<Arc<StreamEvent>>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
}
