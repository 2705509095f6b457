//! The one-node sequencer: the order is the order of cutting.

use crate::{BatchApplier, OrderError, Sequencer};
use parking_lot::Mutex;
use phr_ledger::Batch;
use std::sync::Arc;

/// Orders batches on a single node by applying each as it is cut. The position
/// recorded with a block is the count of batches this sequencer applied.
pub struct SoloSequencer<A: BatchApplier> {
    applier: Arc<A>,
    halted: Mutex<Option<String>>,
}

impl<A: BatchApplier> SoloSequencer<A> {
    pub fn new(applier: Arc<A>) -> Self {
        SoloSequencer { applier, halted: Mutex::new(None) }
    }

    /// Why the node halted, if it did.
    pub fn halted(&self) -> Option<String> {
        self.halted.lock().clone()
    }
}

impl<A: BatchApplier> Sequencer for SoloSequencer<A> {
    async fn order(&self, batch: Batch) -> Result<(), OrderError> {
        if let Some(h) = self.halted() {
            return Err(OrderError::Halted(h));
        }
        let applier = self.applier.clone();
        let result = tokio::task::spawn_blocking(move || applier.apply(batch, Vec::new()))
            .await
            .unwrap_or_else(|e| Err(format!("apply task failed: {e}")));
        result.map_err(|e| {
            *self.halted.lock() = Some(e.clone());
            OrderError::Halted(e)
        })
    }

    fn is_leader(&self) -> bool {
        self.halted.lock().is_none()
    }

    fn attestation(&self) -> Option<phr_ledger::Attestation> {
        self.applier.attestation()
    }
}
