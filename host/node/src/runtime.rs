//! The running node: executor, mempool, Raft sequencer, and what connects them
//! to clients (commit waiters, the event hub, metrics).

use crate::metrics::Metrics;
use parking_lot::Mutex;
use phr_executor::{AppliedBlock, Executor, Rejection};
use phr_ledger::{Attestation, Batch, Canonical, Event, Keypair, Receipt, SignedTx, TxBody, TxId};
use phr_orderer::raft::server::{ForwardSink, Forwarded};
use phr_orderer::raft::RaftSequencer;
use phr_orderer::{BatchApplier, Mempool, MempoolError};
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

/// One client's wait for a transaction. Dropping it (the client gave up,
/// timed out or went away) releases the wait; other clients' waits stay.
pub struct WaitTicket {
    id: TxId,
    ticket: u64,
    waiters: Arc<Waiters>,
}

impl Drop for WaitTicket {
    fn drop(&mut self) {
        self.waiters.forget(self.id, self.ticket);
    }
}

/// A ticket number and the channel that tells its holder of the commit.
type Wait = (u64, oneshot::Sender<Arc<Committed>>);

/// Clients waiting for transactions to commit.
#[derive(Default)]
pub struct Waiters {
    map: Mutex<HashMap<TxId, Vec<Wait>>>,
    next: std::sync::atomic::AtomicU64,
}

impl Waiters {
    /// Be told when `id` commits. Register before the transaction can commit;
    /// keep the ticket while waiting.
    pub fn register(self: &Arc<Self>, id: TxId) -> (WaitTicket, oneshot::Receiver<Arc<Committed>>) {
        let (tx, rx) = oneshot::channel();
        let ticket = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.map.lock().entry(id).or_default().push((ticket, tx));
        (WaitTicket { id, ticket, waiters: self.clone() }, rx)
    }

    fn forget(&self, id: TxId, ticket: u64) {
        let mut map = self.map.lock();
        if let Some(list) = map.get_mut(&id) {
            list.retain(|(n, _)| *n != ticket);
            if list.is_empty() {
                map.remove(&id);
            }
        }
    }

    /// How many waits are open (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.lock().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn complete(&self, id: &TxId, c: Arc<Committed>) {
        if let Some(list) = self.map.lock().remove(id) {
            for (_, w) in list {
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

/// How often the node logs its progress (with the first block after it).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Applies blocks through the executor and tells waiters, subscribers and the
/// mempool.
pub struct Applier {
    pub exec: Arc<Executor>,
    pub waiters: Arc<Waiters>,
    pub events: broadcast::Sender<Arc<StreamEvent>>,
    pub metrics: Arc<Metrics>,
    pub mempool: Arc<Mempool>,
    /// When the progress line was last written, and transactions committed since.
    pub progress: Mutex<(Instant, usize)>,
}

impl Applier {
    fn publish(&self, b: &AppliedBlock) {
        let height = b.block.header.height;
        self.mempool.remove(&b.tx_ids);
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
    fn apply(&self, batch: Batch, position: Vec<u8>) -> Result<u64, String> {
        let started = Instant::now();
        let n = batch.txs.len();
        match self.exec.apply(&batch, position) {
            Ok(b) => {
                self.metrics.block_applied(&b, started.elapsed());
                let height = b.block.header.height;
                crate::chain_clock::check(&self.metrics, height, b.block.header.time_ms, crate::clock::now_ms());
                tracing::debug!(height, txs = n, hash = %b.hash, "committed block");
                let mut p = self.progress.lock();
                p.1 += n;
                if p.0.elapsed() >= PROGRESS_EVERY {
                    tracing::info!(height, state_root = %b.state_root, "{} transactions committed in the last {:.0} s", p.1, p.0.elapsed().as_secs_f64());
                    *p = (Instant::now(), 0);
                }
                drop(p);
                self.publish(&b);
                Ok(height)
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

    fn attestation_at(&self, height: u64) -> Result<Option<Attestation>, String> {
        self.exec.attestation_at(height).map_err(|e| e.to_string())
    }

    fn halted(&self, reason: &str) {
        self.metrics.halted.set(1);
        tracing::error!("NODE HALTED: {reason}");
    }

    fn reload(&self) -> Result<(), String> {
        self.exec.reload().map_err(|e| e.to_string())?;
        self.metrics.height.set(self.exec.tip().height as i64);
        Ok(())
    }
}

/// Admits transactions forwarded by other nodes into this (leading) node's mempool.
pub struct ForwardedTxs {
    pub exec: Arc<Executor>,
    pub mempool: Arc<Mempool>,
}

impl ForwardSink for ForwardedTxs {
    fn accept(&self, txs: Vec<SignedTx>) -> Vec<Forwarded> {
        txs.into_iter()
            .map(|tx| {
                let id = match self.exec.admit(&tx) {
                    Ok(id) => id,
                    Err(Rejection::Duplicate(_)) => return Forwarded::Committed,
                    Err(r) => return Forwarded::Refused(r.to_string()),
                };
                let size = tx.to_canonical().len();
                match self.mempool.push(id, tx, size) {
                    Ok(()) => Forwarded::Queued,
                    Err(MempoolError::Pending(_)) => Forwarded::AlreadyQueued,
                    Err(MempoolError::Full(_) | MempoolError::FullBytes(_)) => Forwarded::Busy,
                }
            })
            .collect()
    }
}

/// One running node, shared by the API handlers.
pub struct Node {
    pub id: String,
    /// The organisation this node belongs to.
    pub org: String,
    /// The node's own identity: it signs what the node records on chain as a
    /// witness (an auditor's reads).
    pub key: Keypair,
    /// Credentials, limits and body sizes at the API's edge.
    pub edge: crate::api::guard::Edge,
    /// The record gateway: the sealed content this node holds.
    pub gateway: crate::gateway::Gateway,
    /// The API's router, to answer requests forwarded by other nodes.
    pub api: std::sync::OnceLock<axum::Router>,
    pub exec: Arc<Executor>,
    pub mempool: Arc<Mempool>,
    pub sequencer: Arc<RaftSequencer>,
    pub waiters: Arc<Waiters>,
    pub events: broadcast::Sender<Arc<StreamEvent>>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// Election timeout upper bound, to judge when a leader has lost its quorum.
    pub election_timeout_ms: u64,
}

/// Why the node could not commit a transaction of its own.
#[derive(Debug, thiserror::Error)]
pub enum OwnTxError {
    #[error("refused at admission: {0}")]
    Refused(String),
    #[error("the node cannot commit now: {0}")]
    Unavailable(String),
    #[error("not committed within {0} s")]
    Timeout(u64),
    /// The contract refused it (the receipt's code and message).
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    #[error("committed but failed: {0}")]
    Failed(String),
}

impl Node {
    /// Sign `contract.method(args)` with the node's own key, submit it here,
    /// and wait (up to `timeout`) for its commit; the receipt of a success.
    pub async fn submit_own(
        &self,
        contract: &str,
        method: &str,
        args: &serde_json::Value,
        timeout: std::time::Duration,
    ) -> Result<Arc<Committed>, OwnTxError> {
        let expiry = self.exec.tip().height + 100;
        self.submit_own_until(contract, method, args, expiry, timeout).await
    }

    /// Like [`Node::submit_own`], valid until block `expiry_height`.
    pub async fn submit_own_until(
        &self,
        contract: &str,
        method: &str,
        args: &serde_json::Value,
        expiry_height: u64,
        timeout: std::time::Duration,
    ) -> Result<Arc<Committed>, OwnTxError> {
        use rand_core::RngCore;
        let g = self.exec.genesis();
        let tx = TxBody {
            chain_id: g.chain_id.clone(),
            contract: contract.to_string(),
            method: method.to_string(),
            args: args.to_string(),
            nonce: rand_core::OsRng.next_u64(),
            expiry_height,
            signer: self.key.public_key(),
        }
        .sign(&self.key);
        let id = self.exec.admit(&tx).map_err(|r| OwnTxError::Refused(r.to_string()))?;
        if let Some(why) = self.commit_obstacle() {
            return Err(OwnTxError::Unavailable(why));
        }
        let (_ticket, waiter) = self.waiters.register(id);
        let size = tx.to_canonical().len();
        self.mempool.push(id, tx, size).map_err(|e| OwnTxError::Unavailable(e.to_string()))?;
        match tokio::time::timeout(timeout, waiter).await {
            Ok(Ok(c)) => match &c.receipt.status {
                phr_ledger::TxStatus::Ok => Ok(c),
                phr_ledger::TxStatus::Rejected { code, message } => {
                    Err(OwnTxError::Rejected { code: code.clone(), message: message.clone() })
                }
                other => Err(OwnTxError::Failed(format!("{other:?}"))),
            },
            Ok(Err(_)) => Err(OwnTxError::Unavailable("the node is shutting down".into())),
            Err(_) => Err(OwnTxError::Timeout(timeout.as_secs())),
        }
    }

    /// Why this node cannot commit now, if it cannot: halted, no leader, or a
    /// leader without a quorum.
    pub fn commit_obstacle(&self) -> Option<String> {
        let s = self.sequencer.status();
        if let Some(h) = s.halted {
            return Some(format!("this node halted: {h}"));
        }
        match (&s.leader, s.role.as_str()) {
            (None, _) => Some(format!(
                "no leader is elected (this node is a {}, term {}): fewer than a majority of the voters ({}) can reach each other",
                s.role,
                s.term,
                s.voters.join(", ")
            )),
            (Some(_), "leader") => match s.millis_since_quorum_ack {
                Some(ms) if ms > 3 * self.election_timeout_ms => Some(format!(
                    "the leader has not reached a majority of the voters ({}) for {ms} ms",
                    s.voters.join(", ")
                )),
                _ => None,
            },
            _ => None,
        }
    }
}
