//! Starting and stopping a node.

use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::runtime::{Applier, ForwardedTxs, Node, Waiters};
use anyhow::{bail, Context};
use phr_executor::{Executor, ExecutorOptions};
use phr_ledger::{Genesis, KeyFile};
use phr_orderer::raft::server::PeerService;
use phr_orderer::raft::{PeerNode, RaftParams, RaftSequencer};
use phr_orderer::{BatchApplier, Cutter, CutterConfig, Forwarder, Mempool};
use phr_state::StoreOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// A node serving its API and its peers.
pub struct RunningNode {
    pub addr: SocketAddr,
    pub peer_addr: SocketAddr,
    pub node: Arc<Node>,
    /// `https`, or `http` on a plain loopback demo.
    scheme: &'static str,
    shutdown: Vec<oneshot::Sender<()>>,
    servers: Vec<JoinHandle<()>>,
    loops: Vec<JoinHandle<()>>,
    /// The runtime of the API: its own threads, at a lower scheduling priority,
    /// so that no client load delays Raft heartbeats or block apply.
    api_runtime: Option<tokio::runtime::Runtime>,
}

impl RunningNode {
    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stop serving: finish requests in progress for up to three seconds, then
    /// close what is left (event streams never finish on their own), and stop
    /// Raft. Committed blocks are already durable.
    pub async fn stop(mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        for mut s in self.servers.drain(..) {
            let abort = s.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), &mut s).await.is_err() {
                abort.abort();
            }
        }
        for l in &self.loops {
            l.abort();
        }
        self.node.sequencer.shutdown().await;
        if let Some(rt) = self.api_runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        // A runtime may not be dropped from async code; let its threads go.
        if let Some(rt) = self.api_runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The API's own runtime: two worker threads and a bounded pool for heavy
/// reads, all at nice 5, so that under contention the threads driving Raft
/// and block apply get about three times their CPU share.
fn api_runtime(node_id: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name(format!("api-{node_id}"))
        // Queries run contracts on these threads (phr_vm::stack).
        .thread_stack_size(phr_vm::CONTRACT_THREAD_STACK)
        .on_thread_start(|| {
            phr_vm::mark_contract_stack();
            // SAFETY: setpriority on this thread's own id; failure only leaves the priority as it was.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, 5);
            }
        })
        .enable_all()
        .build()
        .context("cannot start the API's threads")
}

/// Wait up to `limit` until this node follows a leader and has applied every
/// entry it holds, steadily for a second.
async fn caught_up(seq: &RaftSequencer, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut steady: Option<Instant> = None;
    while Instant::now() < deadline {
        let s = seq.status();
        if s.leader.is_some() && s.last_applied_index == s.last_log_index && s.halted.is_none() {
            if steady.get_or_insert_with(Instant::now).elapsed() >= Duration::from_secs(1) {
                return true;
            }
        } else {
            steady = None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Bind `addr` for a server to run on another runtime.
fn bind_std(addr: &str, what: &str) -> anyhow::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen {what} on {addr}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// The node's TLS identity, checked against the pin of the genesis (for a
/// genesis node); `None` on a plain demo network.
fn tls_identity(cfg: &NodeConfig, genesis: &Genesis) -> anyhow::Result<Option<phr_tls::certs::Identity>> {
    if cfg.insecure_plain_http {
        for n in &genesis.nodes {
            if !crate::config::is_loopback(&n.peer_addr) || !crate::config::is_loopback(&n.api_addr) {
                bail!(
                    "insecure_plain_http is only for a demo on loopback, but node {} listens on {}",
                    n.id,
                    n.peer_addr
                );
            }
        }
        tracing::warn!("serving plain HTTP on loopback (insecure_plain_http): for a demo only");
        return Ok(None);
    }
    let id = phr_tls::certs::Identity::load(&cfg.tls.cert, &cfg.tls.key, &cfg.tls.ca)?;
    if let Some(n) = genesis.nodes.iter().find(|n| n.id == cfg.node_id) {
        if id.fingerprint() != n.tls_cert_sha256 {
            bail!(
                "the certificate {} has SHA-256 {}, but the genesis pins {} for node {}: peers would refuse it",
                cfg.tls.cert.display(),
                id.fingerprint(),
                n.tls_cert_sha256,
                cfg.node_id
            );
        }
    }
    Ok(Some(id))
}

/// This node as a member of the Raft group: from the genesis, or from its
/// config if it was added later.
fn me(
    cfg: &NodeConfig,
    genesis: &Genesis,
    key: &phr_ledger::Keypair,
    tls: Option<&phr_tls::certs::Identity>,
) -> anyhow::Result<PeerNode> {
    let cert = tls.map(|t| t.fingerprint().to_hex()).unwrap_or_default();
    if let Some(n) = genesis.nodes.iter().find(|n| n.id == cfg.node_id) {
        if n.public_key != key.public_key() {
            bail!("the key in {} is not the key the genesis gives node {}", cfg.key_file.display(), cfg.node_id);
        }
        return Ok(PeerNode {
            name: n.id.clone(),
            org: n.org.clone(),
            public_key: n.public_key.to_hex(),
            peer_addr: n.peer_addr.clone(),
            api_addr: cfg.api_addr.clone(),
            tls_cert_sha256: n.tls_cert_sha256.to_hex(),
        });
    }
    let (Some(org), Some(peer_addr)) = (&cfg.org, &cfg.peer_addr) else {
        bail!(
            "node {} is not in the genesis; a node added later needs `org` and `peer_addr` in its config (see `phr network add-node`)",
            cfg.node_id
        );
    };
    if !genesis.orgs.iter().any(|o| &o.name == org) {
        bail!("organisation {org} of node {} is not in the genesis", cfg.node_id);
    }
    Ok(PeerNode {
        name: cfg.node_id.clone(),
        org: org.clone(),
        public_key: key.public_key().to_hex(),
        peer_addr: peer_addr.clone(),
        api_addr: cfg.api_addr.clone(),
        tls_cert_sha256: cert,
    })
}

/// Load the genesis and key, open (or create) the store, join the Raft group,
/// and start serving.
pub async fn start(cfg: NodeConfig) -> anyhow::Result<RunningNode> {
    let text = std::fs::read_to_string(&cfg.genesis)
        .with_context(|| format!("cannot read genesis {}", cfg.genesis.display()))?;
    let genesis = Genesis::from_json(&text)?;
    let key_text = std::fs::read_to_string(&cfg.key_file)
        .with_context(|| format!("cannot read key file {}", cfg.key_file.display()))?;
    let key_file: KeyFile =
        serde_json::from_str(&key_text).with_context(|| format!("key file {} is not valid", cfg.key_file.display()))?;
    let key = key_file.keypair()?;
    let tls = tls_identity(&cfg, &genesis)?;
    let me = me(&cfg, &genesis, &key, tls.as_ref())?;
    let genesis_dir = cfg.genesis.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let opts = ExecutorOptions {
        store: StoreOptions { sync_writes: cfg.sync_writes, ..Default::default() },
        compile_cache: cfg.compile_cache.clone(),
        max_instances: 128,
        verify_store: cfg.verify_store,
        read_only: false,
    };
    let data_dir = cfg.data_dir.clone();
    let g2 = genesis.clone();
    let exec = tokio::task::spawn_blocking(move || Executor::open(&data_dir, g2, &genesis_dir, opts))
        .await?
        .with_context(|| format!("cannot open the node's store in {}", cfg.data_dir.display()))?;

    let metrics = Arc::new(Metrics::new(&cfg.node_id));
    metrics.height.set(exec.tip().height as i64);
    let waiters = Arc::new(Waiters::default());
    let (events, _) = broadcast::channel(16_384);
    let mempool = Arc::new(Mempool::new(cfg.mempool_capacity, cfg.mempool_max_bytes));
    let applier = Arc::new(Applier {
        exec: exec.clone(),
        waiters: waiters.clone(),
        events: events.clone(),
        metrics: metrics.clone(),
        mempool: mempool.clone(),
        progress: parking_lot::Mutex::new((Instant::now(), 0)),
    });

    // Peers: bind first so that the Raft group can reach this node at once.
    let peer_listen = cfg.peer_listen.clone().unwrap_or_else(|| me.peer_addr.clone());
    let peer_listener = tokio::net::TcpListener::bind(&peer_listen)
        .await
        .with_context(|| format!("cannot listen for peers on {peer_listen}"))?;
    let peer_addr = peer_listener.local_addr()?;
    let genesis_members: Vec<PeerNode> = genesis
        .nodes
        .iter()
        .map(|n| PeerNode {
            name: n.id.clone(),
            org: n.org.clone(),
            public_key: n.public_key.to_hex(),
            peer_addr: n.peer_addr.clone(),
            api_addr: n.api_addr.clone(),
            tls_cert_sha256: n.tls_cert_sha256.to_hex(),
        })
        .collect();
    let sequencer = RaftSequencer::start(RaftParams {
        db: exec.db().clone(),
        applier: applier.clone() as Arc<dyn BatchApplier>,
        chain_id: genesis.chain_id.clone(),
        me: me.clone(),
        key: key.clone(),
        genesis: genesis_members,
        known_peers: cfg.known_peers.clone(),
        address_overrides: cfg.peer_addresses.clone().into_iter().collect(),
        settings: cfg.raft.clone(),
        snapshot_dir: cfg.data_dir.join("snapshots"),
        tls: tls.clone(),
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;

    let p = &genesis.params;
    let cutter_config = CutterConfig {
        max_txs: cfg.block.max_txs.unwrap_or(p.block_max_txs) as usize,
        max_bytes: cfg.block.max_bytes.unwrap_or(p.block_max_bytes) as usize,
        timeout: Duration::from_millis(cfg.block.timeout_ms.unwrap_or(p.block_timeout_ms) as u64),
    };
    let edge = crate::api::guard::Edge {
        auth: crate::auth::Authenticator::new(&genesis.chain_id),
        limits: crate::api::limits::Limits::new(&cfg.limits),
        bodies: crate::api::body_limits(&genesis.params, cfg.records.max_record_bytes),
    };
    // The record store: its own RocksDB beside the chain's, sealed under the KEK.
    let kek = phr_gateway::crypto::Kek::load(&cfg.records.kek)?;
    let records_dir = cfg.data_dir.join("records");
    let store = tokio::task::spawn_blocking(move || phr_gateway::store::RecordStore::open(&records_dir, kek))
        .await?
        .context("cannot open the record store")?;
    let gateway = crate::gateway::Gateway {
        store: Arc::new(store),
        max_bytes: cfg.records.max_record_bytes,
        accept_patient_uploads: cfg.records.accept_patient_uploads,
        backup_dir: cfg.records.backup_dir.clone(),
    };
    let node = Arc::new(Node {
        id: cfg.node_id.clone(),
        org: me.org.clone(),
        key,
        edge,
        gateway,
        api: std::sync::OnceLock::new(),
        exec: exec.clone(),
        mempool: mempool.clone(),
        sequencer: sequencer.clone(),
        waiters,
        events,
        metrics,
        started: Instant::now(),
        election_timeout_ms: cfg.raft.election_timeout_max_ms,
    });
    let cutter = Cutter {
        mempool: mempool.clone(),
        sequencer: sequencer.clone(),
        config: cutter_config.clone(),
        node_id: cfg.node_id.clone(),
    };
    let forwarder = Forwarder {
        mempool: mempool.clone(),
        sequencer: sequencer.clone(),
        max_txs: cutter_config.max_txs,
        max_bytes: cutter_config.max_bytes,
        retry: Duration::from_secs(3),
        gather: Duration::from_millis(5),
    };
    let loops = vec![tokio::spawn(cutter.run()), tokio::spawn(forwarder.run())];

    let gate = Arc::new(crate::api::admin::Gate(std::sync::OnceLock::new()));
    let _ = gate.0.set(Arc::downgrade(&node));
    let relay = Arc::new(crate::gateway::forward::Relay(std::sync::OnceLock::new()));
    let _ = relay.0.set(Arc::downgrade(&node));
    let peer_app = phr_orderer::raft::server::router(Arc::new(PeerService {
        sequencer: sequencer.clone(),
        sink: Arc::new(ForwardedTxs { exec: exec.clone(), mempool }),
        admin: gate,
        relay,
    }));
    let (peer_tls, api_tls) = match &tls {
        Some(id) => {
            let policy: Arc<dyn phr_tls::pinned::PeerCertPolicy> = sequencer.keys().clone();
            (Some(phr_tls::configs::peer_server(id, policy)?), Some(phr_tls::configs::api_server(id)?))
        }
        None => (None, None),
    };
    // Peers first: a node catches up through them, before its API serves.
    let (peer_stop, peer_task) =
        phr_tls::serve::serve(peer_listener, peer_app, phr_tls::serve::ServeOptions::new(peer_tls), "peer");
    // Before the API serves anything: a node holding records (say, restored
    // from a backup) first catches up with the group, then the record store is
    // brought in line with the chain (every disposal honoured, pending saves
    // settled).
    let holds_records = !node.gateway.store.all().map(|a| a.is_empty()).unwrap_or(true);
    if holds_records && sequencer.status().voters.len() > 1 {
        if caught_up(&sequencer, Duration::from_secs(30)).await {
            tracing::info!(height = exec.tip().height, "caught up with the group before serving");
        } else {
            tracing::warn!(
                "not caught up with the group within 30 s; serving anyway (every fetch is decided at the chain's head)"
            );
        }
    }
    let n = node.clone();
    let settled = tokio::task::spawn_blocking(move || crate::gateway::shred::reconcile(&n))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    let settled = match settled {
        Ok(r) => r,
        Err(why) => {
            let _ = peer_stop.send(());
            anyhow::bail!("cannot reconcile the record store with the chain: {why}");
        }
    };
    tracing::info!(
        shredded = settled.shredded.len(),
        confirmed = settled.confirmed.len(),
        abandoned = settled.abandoned.len(),
        "record store reconciled with the chain"
    );
    let mut loops = loops;
    loops.push(crate::gateway::shred::spawn(node.clone()));

    // The API on its own runtime.
    let api_runtime = api_runtime(&cfg.node_id)?;
    let std_listener = bind_std(&cfg.api_addr, "for the API")?;
    let addr = std_listener.local_addr()?;
    let (api_stop, api_task) = {
        let _in_api = api_runtime.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let router = crate::api::router(node.clone())?;
        let _ = node.api.set(router.clone());
        phr_tls::serve::serve(listener, router, phr_tls::serve::ServeOptions::new(api_tls), "API")
    };
    let shrink = {
        let n = node.clone();
        api_runtime.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                n.edge.limits.shrink();
            }
        })
    };
    tracing::info!(node = %cfg.node_id, %addr, %peer_addr, height = exec.tip().height, chain = %genesis.chain_id, tls = tls.is_some(), "node started");
    loops.push(shrink);
    Ok(RunningNode {
        addr,
        peer_addr,
        node,
        scheme: cfg.scheme(),
        shutdown: vec![api_stop, peer_stop],
        servers: vec![api_task, peer_task],
        loops,
        api_runtime: Some(api_runtime),
    })
}
