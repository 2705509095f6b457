//! [`RaftSequencer`]: the sequencing seam filled by openraft.

use super::client::{PeerError, PeerNetwork};
use super::envelope::{Accepted, PeerKeys, Signer};
use super::log_store::LogStore;
use super::server::AdminRefusal;
use super::state_machine::StateMachine;
use super::types::{decode, node_id, PeerNode, PhrRaft};
use super::witness::{self, Verdict, Witness};
use crate::{BatchApplier, OrderError, Sequencer};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Raft, ServerState, SnapshotPolicy};
use parking_lot::Mutex;
use phr_ledger::{Attestation, Batch, Hash32, Keypair, PublicKey, SignedTx};
use phr_state::StateDb;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Timing and compaction of the Raft group (node-local settings).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_every: u64,
    /// Log entries kept behind a snapshot (lagging peers within them catch up from the log).
    pub keep_logs: u64,
    /// Entries (blocks) sent in one append request.
    pub max_entries_per_append: u64,
    /// How often this node compares its latest results with the voters', so
    /// that a divergence is found on an idle chain and by a leader too.
    pub divergence_check_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 100,
            election_timeout_min_ms: 800,
            election_timeout_max_ms: 1600,
            snapshot_every: 2000,
            keep_logs: 500,
            max_entries_per_append: 16,
            divergence_check_ms: 2000,
        }
    }
}

/// A membership change, as the leader carries it out (after checking the
/// admin's signed command that asked for it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AdminOp {
    /// Add a node as a non-voting learner; returns once it has caught up.
    AddLearner(PeerNode),
    /// Make a learner a voter.
    Promote(String),
    /// Remove a node from the group.
    Remove(String),
}

/// What a node knows of the Raft group.
#[derive(Clone, Debug, Serialize)]
pub struct RaftStatus {
    pub role: String,
    pub leader: Option<String>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub voters: Vec<String>,
    pub learners: Vec<String>,
    /// Every member of the group with its organisation and node key (what an
    /// organisation's admin names when approving a voter change).
    pub members: Vec<Member>,
    /// The log index of the membership in force; admin commands name it.
    pub membership_index: u64,
    /// On the leader: how long since a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
    /// The log index of this node's latest snapshot (built or installed).
    pub snapshot_index: Option<u64>,
    /// Log entries up to this index were compacted away.
    pub purged_index: Option<u64>,
    pub halted: Option<String>,
}

/// A member of the Raft group, as the status shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub name: String,
    pub org: String,
    /// The node's secp256k1 public key (hex).
    pub public_key: String,
    pub voter: bool,
}

/// How to start a node's Raft.
pub struct RaftParams {
    pub db: Arc<StateDb>,
    pub applier: Arc<dyn BatchApplier>,
    pub chain_id: String,
    pub me: PeerNode,
    pub key: Keypair,
    /// The genesis nodes: the initial voters, and whose keys are always known.
    pub genesis: Vec<PeerNode>,
    /// Other nodes whose messages to accept before the membership names them.
    pub known_peers: Vec<PeerNode>,
    /// Addresses to reach peers at instead of their advertised ones, by name.
    pub address_overrides: HashMap<String, String>,
    pub settings: RaftSettings,
    pub snapshot_dir: PathBuf,
    /// This node's TLS identity: peers talk over mutual TLS with certificates
    /// pinned by the membership. `None` only on a plain loopback demo network.
    pub tls: Option<phr_tls::certs::Identity>,
}

/// Orders batches through Raft. One per node.
pub struct RaftSequencer {
    raft: Raft<PhrRaft>,
    applier: Arc<dyn BatchApplier>,
    net: PeerNetwork,
    keys: Arc<PeerKeys>,
    signer: Arc<Signer>,
    me: PeerNode,
    witness: Arc<Witness>,
    /// Why this node stopped itself, once the voters outvoted its results.
    halted: Mutex<Option<String>>,
}

fn key_of(n: &PeerNode) -> Option<PublicKey> {
    n.public_key.parse().ok()
}

/// What this node accepts from `n`: its key and its pinned certificate.
fn accepted(n: &PeerNode) -> Option<Accepted> {
    Some(Accepted { name: n.name.clone(), key: key_of(n)?, cert: n.tls_cert_sha256.parse::<Hash32>().ok() })
}

impl RaftSequencer {
    /// Start Raft on this node. A genesis node of a new chain initializes the
    /// group with the genesis nodes as voters (safe on every genesis node); any
    /// other node waits to be added.
    pub async fn start(p: RaftParams) -> Result<Arc<Self>, String> {
        let id = node_id(&p.me.name);
        let keys = Arc::new(PeerKeys::new(&p.chain_id, id));
        let named = |nodes: &[PeerNode]| nodes.iter().filter_map(accepted).collect::<Vec<_>>();
        // Genesis nodes and configured peers are accepted until the group has a
        // membership; from then on, its members are.
        keys.set_bootstrap(&named(&[p.genesis.clone(), p.known_peers.clone(), vec![p.me.clone()]].concat()));
        let signer = Arc::new(Signer::new(&p.chain_id, id, p.key.clone()));
        let net = PeerNetwork::new(signer.clone(), keys.clone(), p.address_overrides.clone(), p.tls.as_ref())?;
        let s = &p.settings;
        let config = openraft::Config {
            cluster_name: p.chain_id.clone(),
            heartbeat_interval: s.heartbeat_ms,
            election_timeout_min: s.election_timeout_min_ms,
            election_timeout_max: s.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(s.snapshot_every),
            max_in_snapshot_log_to_keep: s.keep_logs,
            max_payload_entries: s.max_entries_per_append,
            install_snapshot_timeout: 10_000,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| format!("raft settings: {e}"))?);
        let witness = Arc::new(Witness::new(p.db.clone(), net.clone(), p.me.name.clone()));
        let sm = StateMachine::new(p.db.clone(), p.applier.clone(), witness.clone(), p.snapshot_dir.clone())
            .map_err(|e| format!("snapshot directory {}: {e}", p.snapshot_dir.display()))?;
        let raft = Raft::new(id, config, net.clone(), LogStore::new(p.db.clone()), sm)
            .await
            .map_err(|e| format!("cannot start raft: {e}"))?;
        let in_genesis = p.genesis.iter().any(|n| n.name == p.me.name);
        if in_genesis && !raft.is_initialized().await.map_err(|e| e.to_string())? {
            let members: BTreeMap<u64, PeerNode> = p.genesis.iter().map(|n| (node_id(&n.name), n.clone())).collect();
            if let Err(e) = raft.initialize(members).await {
                tracing::info!("raft already initialized: {e}");
            }
        }
        let seq = Arc::new(RaftSequencer {
            raft,
            applier: p.applier,
            net,
            keys,
            signer,
            me: p.me,
            witness,
            halted: Mutex::new(None),
        });
        seq.clone().follow_membership();
        seq.clone().watch_divergence(Duration::from_millis(s.divergence_check_ms.max(100)));
        Ok(seq)
    }

    /// Every `every`, compare this node's latest results with the voters'. A
    /// node the majority outvotes halts (a leader steps down with it); a split
    /// without a majority is logged, since no node can tell who is right. This
    /// is how a divergence is found on an idle chain, and by a leader, whose
    /// batches nobody else's results are checked against on its side.
    fn watch_divergence(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut split_logged_at = None;
            loop {
                tokio::time::sleep(every).await;
                if self.halted.lock().is_some() || self.raft.metrics().borrow().running_state.is_err() {
                    return;
                }
                let Some(mine) = self.applier.attestation() else { continue };
                match self.witness.poll(&mine).await {
                    Ok(Verdict::Outvoted { majority, voters }) => {
                        let fields = witness::what_differs(&mine, &majority);
                        let listed = |a: &Attestation| {
                            fields
                                .iter()
                                .map(|f| format!("{f} {}", witness::field(a, f)))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        };
                        let reason = format!(
                            "DIVERGENCE at height {h}: a majority of the voters ({who}) computed {theirs}, this node computed {ours}. \
                             This node steps down and stops applying blocks rather than fork: compare its blocks and receipts with a healthy node's (GET /v1/blocks/{h}?receipts=true).",
                            h = mine.height,
                            who = voters.join(", "),
                            theirs = listed(&majority),
                            ours = listed(&mine),
                        );
                        self.halt(reason).await;
                        return;
                    }
                    Ok(Verdict::NoMajority { complete: true }) if split_logged_at != Some(mine.height) => {
                        split_logged_at = Some(mine.height);
                        tracing::error!(
                            height = mine.height,
                            "the voters' results for height {} are split with no majority: no node can tell which is right",
                            mine.height
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cannot compare results with the voters: {e}"),
                }
            }
        });
    }

    /// Stop this node: no more blocks applied, no more votes or leadership.
    async fn halt(&self, reason: String) {
        self.applier.halted(&reason);
        *self.halted.lock() = Some(reason);
        let _ = self.raft.shutdown().await;
    }

    /// This node's results for block `height`, for a peer that compares.
    pub fn attestation_at(&self, height: u64) -> Option<Attestation> {
        self.applier.attestation_at(height).ok().flatten()
    }

    /// Keep the accepted peer keys in step with the membership.
    fn follow_membership(self: Arc<Self>) {
        let mut rx = self.raft.metrics();
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                let (index, members) = {
                    let m = rx.borrow();
                    let members: Vec<Accepted> = m.membership_config.nodes().filter_map(|(_, n)| accepted(n)).collect();
                    (m.membership_config.log_id().map(|l| l.index), members)
                };
                if seen != Some(index) {
                    self.keys.set_members(&members);
                    seen = Some(index);
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    pub fn raft(&self) -> &Raft<PhrRaft> {
        &self.raft
    }

    pub fn keys(&self) -> &Arc<PeerKeys> {
        &self.keys
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn me(&self) -> &PeerNode {
        &self.me
    }

    /// What this node knows of the group now.
    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let name = |id: &u64| {
            m.membership_config.membership().get_node(id).map(|n| n.name.clone()).unwrap_or_else(|| id.to_string())
        };
        let voters: BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
        let learners = m.membership_config.membership().learner_ids().map(|id| name(&id)).collect();
        let halted = self.halted.lock().clone().or_else(|| m.running_state.as_ref().err().map(|e| e.to_string()));
        let role = if halted.is_some() {
            "halted"
        } else {
            match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            }
        };
        RaftStatus {
            role: role.to_string(),
            leader: m.current_leader.as_ref().map(name),
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            voters: voters.iter().map(name).collect(),
            learners,
            members: m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, n)| Member {
                    name: n.name.clone(),
                    org: n.org.clone(),
                    public_key: n.public_key.clone(),
                    voter: voters.contains(id),
                })
                .collect(),
            membership_index: m.membership_config.log_id().map(|l| l.index).unwrap_or(0),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            halted,
        }
    }

    /// The membership record of node `name`, if it is a member.
    pub fn member(&self, name: &str) -> Option<PeerNode> {
        self.raft.metrics().borrow().membership_config.membership().get_node(&node_id(name)).cloned()
    }

    /// The leader's membership record, if a leader is known.
    pub fn leader(&self) -> Option<PeerNode> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        m.membership_config.membership().get_node(&id).cloned()
    }

    /// Send transactions waiting here to the leader's mempool.
    pub async fn forward(&self, txs: &[SignedTx]) -> Result<Vec<super::server::Forwarded>, String> {
        let leader = self.leader().ok_or("no leader is known")?;
        let body = borsh::to_vec(txs).expect("writing to a Vec");
        let out =
            self.net.request(&leader, "forward", body, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        decode(&out).map_err(|e| e.to_string())
    }

    /// Send a client's request (opaque here) to node `to` and return its answer.
    pub async fn relay(&self, to: &str, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let node = self.member(to).ok_or_else(|| format!("node {to} is not a member of the group"))?;
        self.net.request(&node, "relay", request, Duration::from_secs(60)).await.map_err(|e| e.to_string())
    }

    /// Send an admin's signed command (opaque here) to the leader, which checks
    /// it again and carries it out.
    pub async fn forward_admin(&self, command: Vec<u8>) -> Result<String, AdminRefusal> {
        let refusal = |status: u16, code: &str, message: String| AdminRefusal { status, code: code.into(), message };
        let leader = self
            .leader()
            .ok_or_else(|| refusal(503, "no-quorum", "no leader is known; the group has no quorum".into()))?;
        let out = match self.net.request(&leader, "admin", command, Duration::from_secs(300)).await {
            Ok(out) => out,
            Err(PeerError::TimedOut(_)) => {
                return Err(refusal(202, "in-progress", format!("the leader {} is still carrying it out", leader.name)))
            }
            Err(e) => return Err(refusal(503, "membership-change-failed", e.to_string())),
        };
        decode::<Result<String, AdminRefusal>>(&out)
            .map_err(|e| refusal(503, "membership-change-failed", format!("bad answer from the leader: {e}")))?
    }

    /// Carry out a membership change on this node, which must lead.
    pub async fn admin_here(&self, op: AdminOp) -> Result<String, String> {
        let members = || self.raft.metrics().borrow().membership_config.membership().clone();
        match op {
            AdminOp::AddLearner(node) => {
                let a = accepted(&node).ok_or_else(|| format!("node {} has no valid public key", node.name))?;
                self.keys.insert(a);
                let name = node.name.clone();
                let r = self.raft.add_learner(node_id(&name), node, true).await;
                // From here on its key is accepted as a member's (or not at all).
                self.keys.forget(&name);
                let r = r.map_err(|e| e.to_string())?;
                Ok(format!("{name} added as a learner and caught up to log index {}", r.log_id.index))
            }
            AdminOp::Promote(name) => {
                let id = node_id(&name);
                if members().get_node(&id).is_none() {
                    return Err(format!("{name} is not a member; add it as a learner first"));
                }
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!("{name} is now a voter"))
            }
            AdminOp::Remove(name) => {
                let id = node_id(&name);
                let m = members();
                if m.get_node(&id).is_none() {
                    return Err(format!("{name} is not a member"));
                }
                if m.voter_ids().any(|v| v == id) {
                    self.raft
                        .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                        .await
                        .map_err(|e| e.to_string())?;
                } else {
                    self.raft
                        .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(format!("{name} removed"))
            }
        }
    }

    /// Stop Raft on this node.
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}

impl Sequencer for RaftSequencer {
    async fn order(&self, batch: Batch) -> Result<(), OrderError> {
        if let Some(reason) = self.halted.lock().clone() {
            return Err(OrderError::Halted(reason));
        }
        match self.raft.client_write(batch).await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(OrderError::NotLeader(f.leader_node.map(|n| n.name)))
            }
            Err(RaftError::APIError(e)) => Err(OrderError::Failed(e.to_string())),
            Err(RaftError::Fatal(f)) => Err(OrderError::Halted(f.to_string())),
        }
    }

    fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.running_state.is_ok() && self.halted.lock().is_none()
    }

    fn attestation(&self) -> Option<Attestation> {
        self.applier.attestation()
    }
}
