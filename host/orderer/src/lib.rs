//! Ordering: the transactions a node accepted become batches in one global
//! order, and each batch becomes the next block on every node.
//!
//! - [`Mempool`]: admitted transactions waiting for a block, bounded, without
//!   duplicates, oldest first.
//! - [`Cutter`]: on the node that proposes, cuts a batch when it holds
//!   `max_txs` transactions or `max_bytes` bytes, or `timeout` after its first
//!   transaction arrived, and hands it to the sequencer; one batch in flight.
//! - [`Sequencer`]: the seam. It puts batches in their global order and has each
//!   applied by the node's [`BatchApplier`]. [`raft::RaftSequencer`] fills it with
//!   openraft; a one-node network is a one-voter group.
//! - [`Forwarder`]: on a node that does not lead, sends its waiting
//!   transactions to the leader.
//!
//! ```
//! use phr_orderer::{CutterConfig, Mempool};
//! let pool = Mempool::new(10_000, 64 << 20);
//! assert!(pool.is_empty());
//! let cfg = CutterConfig { max_txs: 500, max_bytes: 1 << 20, timeout: std::time::Duration::from_millis(20) };
//! assert!(cfg.max_txs > 0);
//! ```

mod cutter;
mod forwarder;
mod mempool;
pub mod raft;

pub use cutter::{Cutter, CutterConfig};
pub use forwarder::Forwarder;
pub use mempool::{Mempool, MempoolError};

use phr_ledger::{Attestation, Batch};
use std::future::Future;

/// Why a batch could not be ordered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrderError {
    /// The node stopped applying blocks (a storage fault or a divergence).
    #[error("this node halted: {0}")]
    Halted(String),
    /// This node is not the one that orders now.
    #[error("not the leader{}", .0.as_ref().map(|l| format!("; the leader is {l}")).unwrap_or_default())]
    NotLeader(Option<String>),
    /// The batch was not ordered this time (it may be again).
    #[error("ordering failed: {0}")]
    Failed(String),
}

/// Applies ordered batches as blocks: the executor, as seen by the orderer.
pub trait BatchApplier: Send + Sync + 'static {
    /// Apply `batch` as the next block, recording `position` (where the batch is
    /// in the orderer's log) in the same atomic write, and return the block's
    /// height. Called in order, never concurrently. An error is a node fault
    /// (storage, divergence): the node must stop applying.
    fn apply(&self, batch: Batch, position: Vec<u8>) -> Result<u64, String>;
    /// The results of the last applied block, which a proposer puts in its next
    /// batch for every node to check.
    fn attestation(&self) -> Option<Attestation>;
    /// This node's results for block `height`; `None` if it has not applied it.
    fn attestation_at(&self, height: u64) -> Result<Option<Attestation>, String>;
    /// The orderer found that this node diverged from the majority of the
    /// voters and stops it (`reason` says how): record it where operators look.
    fn halted(&self, reason: &str);
    /// The chain was replaced under the applier (a snapshot was installed):
    /// reload whatever it keeps in memory.
    fn reload(&self) -> Result<(), String>;
}

/// Puts batches in their global order.
pub trait Sequencer: Send + Sync + 'static {
    /// Order `batch` after every batch ordered before it. Resolves once this
    /// node has applied it (so that a proposer keeps one batch in flight and the
    /// next batch can attest the previous block's results).
    fn order(&self, batch: Batch) -> impl Future<Output = Result<(), OrderError>> + Send;
    /// Whether this node proposes batches now.
    fn is_leader(&self) -> bool;
    /// The results of the last block this node applied, for its next batch.
    fn attestation(&self) -> Option<Attestation>;
}
