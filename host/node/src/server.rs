//! Starting and stopping a node.

use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::runtime::{Applier, Node, Waiters};
use anyhow::{bail, Context};
use phr_executor::{Executor, ExecutorOptions};
use phr_ledger::{Genesis, KeyFile};
use phr_orderer::{Cutter, CutterConfig, Mempool, SoloSequencer};
use phr_state::StoreOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// A node serving its API.
pub struct RunningNode {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    cutter: JoinHandle<()>,
}

impl RunningNode {
    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving: finish requests in progress for up to three seconds, then
    /// close what is left (event streams never finish on their own). Committed
    /// blocks are already durable.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let abort = self.server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(3), &mut self.server).await.is_err() {
            abort.abort();
        }
        self.cutter.abort();
    }

    /// Serve until the server ends (after a shutdown signal).
    pub async fn wait(self) {
        let _ = self.server.await;
        self.cutter.abort();
    }
}

/// Load the genesis and key, open (or create) the store, and start serving.
pub async fn start(cfg: NodeConfig) -> anyhow::Result<RunningNode> {
    let text = std::fs::read_to_string(&cfg.genesis)
        .with_context(|| format!("cannot read genesis {}", cfg.genesis.display()))?;
    let genesis = Genesis::from_json(&text)?;
    let key_text = std::fs::read_to_string(&cfg.key_file)
        .with_context(|| format!("cannot read key file {}", cfg.key_file.display()))?;
    let key_file: KeyFile =
        serde_json::from_str(&key_text).with_context(|| format!("key file {} is not valid", cfg.key_file.display()))?;
    let key = key_file.keypair()?;
    let Some(me) = genesis.nodes.iter().find(|n| n.id == cfg.node_id) else {
        bail!(
            "node {} is not in the genesis (nodes: {})",
            cfg.node_id,
            genesis.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>().join(", ")
        );
    };
    if me.public_key != key.public_key() {
        bail!("the key in {} is not the key the genesis gives node {}", cfg.key_file.display(), cfg.node_id);
    }
    let genesis_dir = cfg.genesis.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let opts = ExecutorOptions {
        store: StoreOptions { sync_writes: cfg.sync_writes },
        compile_cache: cfg.compile_cache.clone(),
        max_instances: 128,
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
        progress: parking_lot::Mutex::new((Instant::now(), 0)),
    });
    let sequencer = Arc::new(SoloSequencer::new(applier));
    let p = &genesis.params;
    let cutter = Cutter {
        mempool: mempool.clone(),
        sequencer: sequencer.clone(),
        config: CutterConfig {
            max_txs: cfg.block.max_txs.unwrap_or(p.block_max_txs) as usize,
            max_bytes: cfg.block.max_bytes.unwrap_or(p.block_max_bytes) as usize,
            timeout: Duration::from_millis(cfg.block.timeout_ms.unwrap_or(p.block_timeout_ms) as u64),
        },
        node_id: cfg.node_id.clone(),
    };
    let node = Arc::new(Node {
        id: cfg.node_id.clone(),
        exec,
        mempool,
        sequencer,
        waiters,
        events,
        metrics,
        started: Instant::now(),
    });
    let cutter = tokio::spawn(cutter.run());
    let listener = tokio::net::TcpListener::bind(&cfg.api_addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.api_addr))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = crate::api::router(node.clone());
    let server = tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!("API server failed: {e}");
        }
    });
    tracing::info!(node = %cfg.node_id, %addr, height = node.exec.tip().height, chain = %genesis.chain_id, "node started");
    Ok(RunningNode { addr, node, shutdown: Some(tx), server, cutter })
}
