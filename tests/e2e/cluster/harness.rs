//! A network of real `phr` processes on loopback, with a TCP proxy on every
//! directed peer link so that a test can cut a node off while it keeps running,
//! and a load generator that records what was acknowledged.

use crate::support::*;
use phr_ledger::{Keypair, SignedTx};
use phr_node::client::{sign, Client};
use phr_node::config::NodeConfig;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy for one directed link; `cut` drops its connections and refuses new ones.
pub struct Proxy {
    pub addr: String,
    cut: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (cut, rx) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if *rx.borrow() {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Proxy { addr, cut }
    }

    pub fn set_cut(&self, cut: bool) {
        let _ = self.cut.send(cut);
    }
}

pub struct Cluster {
    pub net: Network,
    pub n: usize,
    pub nodes: Vec<Option<NodeProc>>,
    /// proxies[(from, to)]
    pub proxies: BTreeMap<(usize, usize), Proxy>,
}

/// Settings for the nodes of a test cluster.
pub struct Opts {
    pub proxies: bool,
    pub snapshot_every: u64,
    pub keep_logs: u64,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { proxies: false, snapshot_every: 2000, keep_logs: 500 }
    }
}

impl Cluster {
    /// Create an `n`-node network (not started).
    pub async fn new(n: usize, opts: Opts) -> Cluster {
        Self::new_with(n, opts, &[]).await
    }

    /// Like [`Cluster::new`], with more arguments for `phr network init`.
    pub async fn new_with(n: usize, opts: Opts, extra: &[&str]) -> Cluster {
        let n_s = n.to_string();
        let mut args = vec!["--nodes", n_s.as_str(), "--orgs", "stmarys,northclinic,citylab"];
        args.extend_from_slice(extra);
        let net = Network::init(&args);
        let mut proxies = BTreeMap::new();
        let configs: Vec<NodeConfig> = (0..n).map(|i| NodeConfig::load(&net.node_config(i)).unwrap()).collect();
        let genesis: phr_ledger::Genesis =
            phr_ledger::Genesis::from_json(&std::fs::read_to_string(net.path().join("genesis.json")).unwrap()).unwrap();
        if opts.proxies {
            for from in 0..n {
                for to in 0..n {
                    if from != to {
                        proxies.insert((from, to), Proxy::start(genesis.nodes[to].peer_addr.clone()).await);
                    }
                }
            }
        }
        for (i, mut cfg) in configs.into_iter().enumerate() {
            cfg.raft.snapshot_every = opts.snapshot_every;
            cfg.raft.keep_logs = opts.keep_logs;
            cfg.sync_writes = false;
            if opts.proxies {
                for to in 0..n {
                    if to != i {
                        cfg.peer_addresses.insert(format!("node{to}"), proxies[&(i, to)].addr.clone());
                    }
                }
            }
            std::fs::write(net.node_config(i), toml::to_string(&cfg).unwrap()).unwrap();
        }
        Cluster { net, n, nodes: (0..n).map(|_| None).collect(), proxies }
    }

    pub fn start(&mut self, i: usize) {
        self.nodes[i] = Some(NodeProc::start(&self.net.node_config(i)));
    }

    /// Start every node and wait until they can commit.
    pub async fn start_all(&mut self) {
        for i in 0..self.n {
            self.start(i);
        }
        for i in 0..self.n {
            ready(&self.client(i)).await;
        }
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(p) = self.nodes[i].take() {
            p.kill9();
        }
    }

    pub fn client(&self, i: usize) -> Client {
        self.nodes[i].as_ref().expect("node running").client()
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.n).filter(|i| self.nodes[*i].is_some()).collect()
    }

    pub async fn status(&self, i: usize) -> Option<Value> {
        self.nodes[i].as_ref()?.anon().status().await.ok()
    }

    /// The index of the running node every running node agrees leads, waiting up to `within`.
    pub async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let mut seen = HashSet::new();
            for i in self.running() {
                if let Some(s) = self.status(i).await {
                    seen.insert(s["raft"]["leader"].as_str().unwrap_or("").to_string());
                }
            }
            if seen.len() == 1 {
                let l = seen.iter().next().unwrap();
                if let Some(i) = l.strip_prefix("node").and_then(|x| x.parse::<usize>().ok()) {
                    if self.nodes.get(i).is_some_and(|n| n.is_some()) {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no agreed leader within {within:?}: {seen:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Cut node `i` off from every other node (both directions), or heal it.
    pub fn isolate(&self, i: usize, cut: bool) {
        for ((from, to), p) in &self.proxies {
            if *from == i || *to == i {
                p.set_cut(cut);
            }
        }
    }

    /// Wait until the running nodes agree on height, last block and state root.
    pub async fn converged(&self, within: Duration) -> (u64, String, String) {
        let deadline = Instant::now() + within;
        loop {
            let mut seen = HashSet::new();
            for i in self.running() {
                match self.status(i).await {
                    Some(s) => {
                        seen.insert((
                            s["height"].as_u64().unwrap(),
                            s["last_block_hash"].as_str().unwrap().to_string(),
                            s["state_root"].as_str().unwrap().to_string(),
                        ));
                    }
                    None => {
                        seen.insert((u64::MAX, String::new(), String::new()));
                    }
                }
            }
            if seen.len() == 1 {
                return seen.into_iter().next().unwrap();
            }
            assert!(Instant::now() < deadline, "nodes did not converge within {within:?}: {seen:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every transaction with an `ok` receipt on node `i`, checking that the
    /// blocks link up and that no transaction was applied twice. Reads the
    /// stored blocks 256 at a time, waiting out the node's limits (429).
    pub async fn committed(&self, i: usize) -> HashSet<String> {
        let c = self.client(i);
        let tip = c.status().await.unwrap()["height"].as_u64().unwrap();
        let mut ok = HashSet::new();
        let mut prev: Option<phr_ledger::Hash32> = None;
        let mut from = 0;
        while from <= tip {
            let path = format!("/v1/raw/blocks?from={from}&count=256");
            let body = loop {
                match c.get_bytes(&path).await {
                    Ok(Some(b)) => break b,
                    Err(e) if e.status == Some(429) => tokio::time::sleep(Duration::from_secs(1)).await,
                    other => panic!("{path}: {other:?}"),
                }
            };
            let blocks = phr_audit::wire::decode_blocks(&body).unwrap();
            assert!(!blocks.is_empty(), "{path} returned no block");
            for sb in blocks {
                let h = sb.block.header.height;
                if let Some(p) = prev {
                    assert_eq!(sb.block.header.prev_hash, p, "block {h} does not link to its parent");
                }
                prev = Some(sb.block.hash());
                for r in &sb.receipts {
                    if r.status == phr_ledger::TxStatus::Ok {
                        let id = r.tx_id.to_hex();
                        assert!(ok.insert(id.clone()), "transaction {id} applied twice");
                    }
                }
                from = h + 1;
            }
        }
        ok
    }
}

/// A practitioner enrolled through node 0, to sign the load.
pub async fn load_signer(c: &Cluster) -> (Keypair, String) {
    let client = c.client(c.running()[0]);
    let doc = practitioner(&client, &c.net.admin("stmarys"), &["physician"]).await;
    let patient = patient(&client).await.id().to_hex();
    (doc, patient)
}

/// Signed record anchors, `count` of them, unique by `tag`.
pub fn anchors(chain: &str, key: &Keypair, patient: &str, tag: &str, count: usize) -> Vec<SignedTx> {
    (0..count)
        .map(|i| {
            let args = json!({"record_id": format!("{tag}/{i}"), "patient": patient, "sha256": sha(&format!("{tag}{i}")), "class": "lab"});
            sign(key, chain, 1_000_000, "record-anchor", "anchor", &args)
        })
        .collect()
}

/// A steady load: transactions submitted round-robin to the given nodes, each
/// waiting for its commit; what was acknowledged is recorded with its time.
pub struct Load {
    pub acked: Arc<parking_lot::Mutex<Vec<(String, Instant)>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Each transaction submitted in a request signed by the client's key.
    pub fn start(clients: Vec<Client>, txs: Vec<SignedTx>, concurrency: usize) -> Load {
        Self::start_signed(clients, txs.into_iter().map(|t| (None, t)).collect(), concurrency)
    }

    /// Each transaction submitted in a request signed by the key paired with
    /// it (or the client's key), so that requests count against the signers.
    pub fn start_signed(clients: Vec<Client>, txs: Vec<(Option<Keypair>, SignedTx)>, concurrency: usize) -> Load {
        let acked = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (acked.clone(), stop.clone());
        let task = tokio::spawn(async move {
            use futures::StreamExt;
            futures::stream::iter(txs.into_iter().enumerate())
                .map(|(i, (key, tx))| {
                    let client = match key {
                        Some(k) => clients[i % clients.len()].signed_by(&k),
                        None => clients[i % clients.len()].clone(),
                    };
                    let (a, s) = (a.clone(), s.clone());
                    async move {
                        if s.load(Ordering::SeqCst) {
                            return;
                        }
                        if let Ok(r) = client.submit(&tx, true).await {
                            if r.receipt.is_some() {
                                a.lock().push((r.tx_id, Instant::now()));
                            }
                        }
                    }
                })
                .buffer_unordered(concurrency)
                .collect::<Vec<_>>()
                .await;
        });
        Load { acked, stop, task }
    }

    pub fn count(&self) -> usize {
        self.acked.lock().len()
    }

    /// Wait until at least `n` transactions were acknowledged.
    pub async fn until(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} transactions acknowledged within {within:?}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop submitting and return the acknowledged transaction ids.
    pub async fn stop(self) -> Vec<(String, Instant)> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(60), self.task).await;
        self.acked.lock().clone()
    }
}
