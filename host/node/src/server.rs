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
    shutdown: Vec<oneshot::Sender<()>>,
    servers: Vec<JoinHandle<()>>,
    loops: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
            if tokio::time::timeout(Duration::from_secs(3), &mut s).await.is_err() {
                abort.abort();
            }
        }
        for l in &self.loops {
            l.abort();
        }
        self.node.sequencer.shutdown().await;
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    what: &'static str,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!("{what} server failed: {e}");
        }
    });
    (tx, task)
}

/// This node as a member of the Raft group: from the genesis, or from its
/// config if it was added later.
fn me(cfg: &NodeConfig, genesis: &Genesis, key: &phr_ledger::Keypair) -> anyhow::Result<PeerNode> {
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
    let me = me(&cfg, &genesis, &key)?;
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
    let mempool = Arc::new(Mempool::new(cfg.mempool_capacity));
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
        })
        .collect();
    let sequencer = RaftSequencer::start(RaftParams {
        db: exec.db().clone(),
        applier: applier.clone() as Arc<dyn BatchApplier>,
        chain_id: genesis.chain_id.clone(),
        me: me.clone(),
        key,
        genesis: genesis_members,
        known_peers: cfg.known_peers.clone(),
        address_overrides: cfg.peer_addresses.clone().into_iter().collect(),
        settings: cfg.raft.clone(),
        snapshot_dir: cfg.data_dir.join("snapshots"),
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;

    let p = &genesis.params;
    let cutter_config = CutterConfig {
        max_txs: cfg.block.max_txs.unwrap_or(p.block_max_txs) as usize,
        max_bytes: cfg.block.max_bytes.unwrap_or(p.block_max_bytes) as usize,
        timeout: Duration::from_millis(cfg.block.timeout_ms.unwrap_or(p.block_timeout_ms) as u64),
    };
    let node = Arc::new(Node {
        id: cfg.node_id.clone(),
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
    let peer_app = phr_orderer::raft::server::router(Arc::new(PeerService {
        sequencer: sequencer.clone(),
        sink: Arc::new(ForwardedTxs { exec: exec.clone(), mempool }),
        admin: gate,
    }));
    let (peer_stop, peer_task) = serve(peer_listener, peer_app, "peer");
    let listener = tokio::net::TcpListener::bind(&cfg.api_addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.api_addr))?;
    let addr = listener.local_addr()?;
    let (api_stop, api_task) = serve(listener, crate::api::router(node.clone()), "API");
    tracing::info!(node = %cfg.node_id, %addr, %peer_addr, height = exec.tip().height, chain = %genesis.chain_id, "node started");
    Ok(RunningNode {
        addr,
        peer_addr,
        node,
        shutdown: vec![api_stop, peer_stop],
        servers: vec![api_task, peer_task],
        loops,
    })
}
