//! `phr network init`: a genesis, keys and node configs for a new network.

use crate::config::{BlockOverrides, NodeConfig, TlsFiles};
use anyhow::{bail, Context};
use phr_ledger::{is_valid_name, ChainParams, Genesis, GenesisContract, Keypair, NodeInfo, Org};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to create.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub out: PathBuf,
    pub nodes: usize,
    pub orgs: Vec<String>,
    pub chain_id: Option<String>,
    /// Host of every node's addresses.
    pub host: String,
    /// API port of the first node (the others follow); 0 lets each node pick.
    pub base_port: u16,
    /// Contracts beyond the standard three: (name, component file).
    pub extra_contracts: Vec<(String, PathBuf)>,
    pub params: ChainParams,
    /// Serve plain HTTP instead of TLS (only on loopback, for a demo).
    pub insecure_plain_http: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            out: PathBuf::from("network"),
            nodes: 1,
            orgs: vec!["org1".into(), "org2".into(), "org3".into()],
            chain_id: None,
            host: "127.0.0.1".into(),
            base_port: 7700,
            extra_contracts: Vec::new(),
            params: ChainParams::default(),
            insecure_plain_http: false,
        }
    }
}

/// What was created.
#[derive(Clone, Debug)]
pub struct Network {
    pub dir: PathBuf,
    pub genesis: Genesis,
    /// `node.toml` of each node, in order.
    pub node_configs: Vec<PathBuf>,
    /// Admin key file of each organisation.
    pub admin_keys: Vec<(String, PathBuf)>,
}

/// A TCP port that is free on `host` now.
pub fn free_port(host: &str) -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((host, 0)).with_context(|| format!("cannot find a free port on {host}"))?;
    Ok(l.local_addr()?.port())
}

/// Write a key file readable only by its owner.
pub fn write_key(path: &Path, key: &Keypair, label: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create key file {} (it must not exist yet)", path.display()))?;
    f.write_all(serde_json::to_string_pretty(&key.to_file(label))?.as_bytes())?;
    Ok(())
}

/// The record gateway of a node as `network init` and `add-node` lay it out:
/// a fresh key-encryption key beside the node's other keys.
fn default_records(dir: &Path) -> anyhow::Result<crate::config::RecordSettings> {
    phr_gateway::crypto::Kek::create(&dir.join("kek.key"))?;
    Ok(crate::config::RecordSettings {
        kek: PathBuf::from("kek.key"),
        accept_patient_uploads: true,
        max_record_bytes: 16 << 20,
        backup_dir: PathBuf::from("backups"),
    })
}

/// The TLS files of a node, as `network init` and `add-node` lay them out.
fn default_tls() -> TlsFiles {
    TlsFiles { cert: PathBuf::from("tls.pem"), key: PathBuf::from("tls.key"), ca: PathBuf::from("../ca.pem") }
}

/// Certify node `id` (reachable at `host`, `localhost` and its id) into its
/// directory; the certificate's fingerprint.
fn issue_cert(ca: &phr_tls::certs::Ca, dir: &Path, id: &str, host: &str) -> anyhow::Result<phr_ledger::Hash32> {
    let mut hosts = vec![host.to_string(), "localhost".to_string()];
    if host != "127.0.0.1" {
        hosts.push("127.0.0.1".to_string());
    }
    let cert = ca.issue(id, &hosts)?;
    phr_tls::certs::write(&dir.join("tls.pem"), &cert.cert_pem, false)?;
    phr_tls::certs::write(&dir.join("tls.key"), &cert.key_pem, true)?;
    Ok(cert.fingerprint())
}

/// Create the network directory.
pub fn init(o: &InitOptions) -> anyhow::Result<Network> {
    if o.nodes == 0 || o.nodes > 64 {
        bail!("--nodes must be between 1 and 64");
    }
    if o.orgs.is_empty() {
        bail!("--orgs must name at least one organisation");
    }
    for org in &o.orgs {
        if !is_valid_name(org) {
            bail!("organisation {org:?} must be 1-40 characters of a-z, 0-9 and -, starting with a letter");
        }
    }
    if o.out.join("genesis.json").exists() {
        bail!("{} already holds a network (genesis.json); choose another directory or remove it", o.out.display());
    }
    if o.insecure_plain_http && !crate::config::is_loopback(&format!("{}:1", o.host)) {
        bail!("plain HTTP is only for a demo on loopback; --host {} is not a loopback address", o.host);
    }
    std::fs::create_dir_all(o.out.join("contracts"))?;
    std::fs::create_dir_all(o.out.join("keys"))?;

    let mut contracts = Vec::new();
    let mut add = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let file = format!("contracts/{name}.wasm");
        std::fs::write(o.out.join(&file), bytes)?;
        contracts.push(GenesisContract { name: name.to_string(), code_hash: phr_ledger::sha256(&[bytes]), file });
        Ok(())
    };
    for (name, bytes) in phr_contracts::STANDARD {
        add(name, bytes)?;
    }
    for (name, path) in &o.extra_contracts {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read contract {name} from {}", path.display()))?;
        add(name, &bytes)?;
    }

    let mut orgs = Vec::new();
    let mut admin_keys = Vec::new();
    for name in &o.orgs {
        let k = Keypair::generate();
        let path = o.out.join("keys").join(format!("{name}-admin.key"));
        write_key(&path, &k, &format!("{name} admin"))?;
        orgs.push(Org { name: name.clone(), admins: vec![k.public_key()] });
        admin_keys.push((name.clone(), path));
    }

    // The consortium CA: it certifies every node's TLS certificate, whose
    // fingerprint the genesis pins. Its key stays here, to certify nodes added
    // later; it never goes to a node.
    let chain_id = o.chain_id.clone().unwrap_or_else(|| format!("phr-{}", &Keypair::generate().id().to_hex()[..8]));
    let ca = phr_tls::certs::Ca::generate(&chain_id)?;
    phr_tls::certs::write(&o.out.join("ca.pem"), ca.cert_pem(), false)?;
    phr_tls::certs::write(&o.out.join("keys").join("ca.key"), &ca.key_pem(), true)?;

    // With base port 0, every address gets a port free now, so that nodes can
    // name each other in the genesis.
    let port = |i: usize, offset: u16| -> anyhow::Result<u16> {
        if o.base_port == 0 {
            free_port(&o.host)
        } else {
            Ok(o.base_port + offset + i as u16)
        }
    };
    let mut nodes = Vec::new();
    let mut node_configs = Vec::new();
    for i in 0..o.nodes {
        let id = format!("node{i}");
        let dir = o.out.join(&id);
        std::fs::create_dir_all(&dir)?;
        let k = Keypair::generate();
        write_key(&dir.join("node.key"), &k, &id)?;
        let api_addr = format!("{}:{}", o.host, port(i, 0)?);
        let peer_addr = format!("{}:{}", o.host, port(i, 100)?);
        let cert = issue_cert(&ca, &dir, &id, &o.host)?;
        nodes.push(NodeInfo {
            id: id.clone(),
            org: o.orgs[i % o.orgs.len()].clone(),
            public_key: k.public_key(),
            api_addr: api_addr.clone(),
            peer_addr,
            tls_cert_sha256: cert,
        });
        let cfg = NodeConfig {
            node_id: id.clone(),
            genesis: PathBuf::from("../genesis.json"),
            key_file: PathBuf::from("node.key"),
            data_dir: PathBuf::from("data"),
            api_addr,
            sync_writes: true,
            verify_store: true,
            compile_cache: None,
            mempool_capacity: 100_000,
            mempool_max_bytes: 256 << 20,
            tls: default_tls(),
            records: default_records(&dir)?,
            insecure_plain_http: o.insecure_plain_http,
            limits: Default::default(),
            block: BlockOverrides::default(),
            peer_addr: None,
            peer_listen: None,
            org: None,
            raft: Default::default(),
            peer_addresses: Default::default(),
            known_peers: Vec::new(),
        };
        let path = dir.join("node.toml");
        std::fs::write(
            &path,
            format!("# Node {id} of this network. Paths are relative to this file.\n{}", toml::to_string(&cfg)?),
        )?;
        node_configs.push(path);
    }

    let genesis_time_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    let genesis = Genesis {
        chain_id,
        genesis_time_ms,
        orgs,
        nodes,
        params: o.params.clone(),
        contracts,
        policies: Default::default(),
    };
    genesis.validate()?;
    std::fs::write(o.out.join("genesis.json"), serde_json::to_string_pretty(&genesis)?)?;
    Ok(Network { dir: o.out.clone(), genesis, node_configs, admin_keys })
}

impl Network {
    /// The network's CA certificate, which clients trust.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A client of the node at `url` of this network, trusting its CA.
    pub fn client(&self, url: &str) -> anyhow::Result<crate::client::Client> {
        let ca = if url.starts_with("https://") { Some(self.ca_path()) } else { None };
        Ok(crate::client::Client::with_ca(url, ca.as_deref())?)
    }

    /// The admin key of `org`.
    pub fn admin_key(&self, org: &str) -> anyhow::Result<phr_ledger::Keypair> {
        let (_, path) = self
            .admin_keys
            .iter()
            .find(|(o, _)| o == org)
            .with_context(|| format!("no organisation {org} in this network"))?;
        let file: phr_ledger::KeyFile = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        Ok(file.keypair()?)
    }
}

/// Create a one-node network in `dir` with free loopback ports and start its
/// node in this process (for the demo).
pub async fn start_local(
    dir: &Path,
    orgs: &[&str],
    chain_id: &str,
) -> anyhow::Result<(Network, crate::server::RunningNode)> {
    let (net, mut nodes) = start_local_cluster(dir, 1, orgs, chain_id, false).await?;
    Ok((net, nodes.remove(0)))
}

/// Create an `n`-node network in `dir` with free loopback ports (TLS, or
/// plain HTTP if `plain`), start every node in this process, and wait until
/// the group can commit.
pub async fn start_local_cluster(
    dir: &Path,
    n: usize,
    orgs: &[&str],
    chain_id: &str,
    plain: bool,
) -> anyhow::Result<(Network, Vec<crate::server::RunningNode>)> {
    start_local_cluster_with(dir, n, orgs, chain_id, plain, |_| {}).await
}

/// [`start_local_cluster`], with each node's config changed by `tweak`
/// before it starts (a benchmark lifts the edge's limits this way).
pub async fn start_local_cluster_with(
    dir: &Path,
    n: usize,
    orgs: &[&str],
    chain_id: &str,
    plain: bool,
    tweak: impl Fn(&mut NodeConfig),
) -> anyhow::Result<(Network, Vec<crate::server::RunningNode>)> {
    let net = init(&InitOptions {
        out: dir.to_path_buf(),
        nodes: n,
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        chain_id: Some(chain_id.to_string()),
        base_port: 0,
        insecure_plain_http: plain,
        ..Default::default()
    })?;
    let mut nodes = Vec::new();
    for path in &net.node_configs {
        let mut cfg = NodeConfig::load(path)?;
        tweak(&mut cfg);
        nodes.push(crate::server::start(cfg).await?);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for node in &nodes {
        while let Some(why) = node.node.commit_obstacle() {
            if std::time::Instant::now() > deadline {
                bail!("node {} did not become ready: {why}", node.node.id);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    Ok((net, nodes))
}

/// What `phr network add-node` creates.
#[derive(Clone, Debug)]
pub struct AddedNode {
    pub config: PathBuf,
    pub node: phr_orderer::raft::PeerNode,
}

/// Create the directory, key and config of a node to add to the network in
/// `network_dir` (made by [`init`]). The node is not in the genesis: once it
/// runs, an admin of `org` adds it with `phr node add`.
pub fn add_node(
    network_dir: &Path,
    name: &str,
    org: &str,
    host: &str,
    api_port: u16,
    peer_port: u16,
) -> anyhow::Result<AddedNode> {
    let genesis: Genesis = Genesis::from_json(&std::fs::read_to_string(network_dir.join("genesis.json"))?)?;
    if !is_valid_name(name) {
        bail!("node id {name:?} must be 1-40 characters of a-z, 0-9 and -, starting with a letter");
    }
    if !genesis.orgs.iter().any(|o| o.name == org) {
        bail!("organisation {org} is not in the genesis");
    }
    let dir = network_dir.join(name);
    if dir.exists() {
        bail!("{} exists already", dir.display());
    }
    // Every node known in this directory: its messages are accepted from the start.
    let mut known_peers = Vec::new();
    for entry in std::fs::read_dir(network_dir)?.flatten() {
        let cfg_path = entry.path().join("node.toml");
        if !cfg_path.exists() {
            continue;
        }
        let cfg = NodeConfig::load(&cfg_path)?;
        let key: phr_ledger::KeyFile = serde_json::from_str(&std::fs::read_to_string(&cfg.key_file)?)?;
        let g = genesis.nodes.iter().find(|n| n.id == cfg.node_id);
        known_peers.push(phr_orderer::raft::PeerNode {
            name: cfg.node_id.clone(),
            org: g.map(|n| n.org.clone()).or(cfg.org.clone()).unwrap_or_default(),
            public_key: key.public_key.to_hex(),
            peer_addr: g.map(|n| n.peer_addr.clone()).or(cfg.peer_addr.clone()).unwrap_or_default(),
            api_addr: cfg.api_addr.clone(),
            tls_cert_sha256: match g {
                Some(n) => n.tls_cert_sha256.to_hex(),
                None => {
                    phr_tls::certs::Identity::load(&cfg.tls.cert, &cfg.tls.key, &cfg.tls.ca)?.fingerprint().to_hex()
                }
            },
        });
    }
    known_peers.sort_by(|a, b| a.name.cmp(&b.name));
    let port = |p: u16| if p == 0 { free_port(host) } else { Ok(p) };
    let api_addr = format!("{host}:{}", port(api_port)?);
    let peer_addr = format!("{host}:{}", port(peer_port)?);
    let ca_key = network_dir.join("keys").join("ca.key");
    let ca = phr_tls::certs::Ca::load(&genesis.chain_id, &network_dir.join("ca.pem"), &ca_key)
        .with_context(|| format!("the consortium CA certifies the new node: {} is needed", ca_key.display()))?;
    std::fs::create_dir_all(&dir)?;
    let k = Keypair::generate();
    write_key(&dir.join("node.key"), &k, name)?;
    let cert = issue_cert(&ca, &dir, name, host)?;
    let plain = std::fs::read_dir(network_dir)?
        .flatten()
        .filter_map(|e| NodeConfig::load(&e.path().join("node.toml")).ok())
        .any(|c| c.insecure_plain_http);
    let cfg = NodeConfig {
        node_id: name.to_string(),
        genesis: PathBuf::from("../genesis.json"),
        key_file: PathBuf::from("node.key"),
        data_dir: PathBuf::from("data"),
        api_addr: api_addr.clone(),
        sync_writes: true,
        verify_store: true,
        compile_cache: None,
        mempool_capacity: 100_000,
        mempool_max_bytes: 256 << 20,
        tls: default_tls(),
        records: default_records(&dir)?,
        insecure_plain_http: plain,
        limits: Default::default(),
        block: BlockOverrides::default(),
        peer_addr: Some(peer_addr.clone()),
        peer_listen: None,
        org: Some(org.to_string()),
        raft: Default::default(),
        peer_addresses: Default::default(),
        known_peers,
    };
    let path = dir.join("node.toml");
    std::fs::write(
        &path,
        format!("# Node {name}, added after the genesis. Paths are relative to this file.\n{}", toml::to_string(&cfg)?),
    )?;
    let node = phr_orderer::raft::PeerNode {
        name: name.to_string(),
        org: org.to_string(),
        public_key: k.public_key().to_hex(),
        peer_addr,
        api_addr,
        tls_cert_sha256: cert.to_hex(),
    };
    Ok(AddedNode { config: path, node })
}
