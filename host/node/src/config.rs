//! `node.toml`: the settings of one node. Relative paths are relative to the
//! directory of the file.

use anyhow::{bail, Context};
use phr_orderer::raft::{PeerNode, RaftSettings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Node-local overrides of the genesis block-cutting parameters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_txs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

/// The node's TLS files (relative to `node.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// This node's certificate (PEM), issued by the consortium CA; its
    /// SHA-256 must be the one the genesis (or the command that added the
    /// node) pins.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The consortium CA certificate (PEM).
    pub ca: PathBuf,
}

/// The record gateway of a node (`[records]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSettings {
    /// The key-encryption key (64 hex characters, mode 0600), which wraps every
    /// record's data key. Keep it outside `data_dir`: a backup of the store
    /// does not contain it, and is unreadable without it.
    pub kek: PathBuf,
    /// Patients may save their own data here (self-reported notes, device readings).
    #[serde(default = "yes")]
    pub accept_patient_uploads: bool,
    /// Largest record content accepted, in bytes.
    #[serde(default = "default_record_bytes")]
    pub max_record_bytes: usize,
    /// Where `POST /v1/admin/backup` writes backups, each in a new directory
    /// named by the request (default `backups`, beside the config). Nothing
    /// else on the machine is written by a backup request.
    #[serde(default = "default_backup_dir")]
    pub backup_dir: PathBuf,
}

fn default_backup_dir() -> PathBuf {
    PathBuf::from("backups")
}

fn default_record_bytes() -> usize {
    16 << 20
}

/// The contents of `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id in the genesis.
    pub node_id: String,
    /// The genesis file.
    pub genesis: PathBuf,
    /// This node's key file (its public key must match the genesis).
    pub key_file: PathBuf,
    /// Where the node keeps its RocksDB store.
    pub data_dir: PathBuf,
    /// HTTP API address (`host:port`; port 0 picks a free port).
    pub api_addr: String,
    /// fsync each block commit. The Raft vote and log are always synced, so a
    /// commit lost with the power is applied again from the log at restart;
    /// `false` only trades that replay for speed.
    #[serde(default = "yes")]
    pub sync_writes: bool,
    /// At start, check the whole store against its own hashes (blocks,
    /// receipts, state roots, key versions) and refuse to start if it was
    /// altered. Takes about 2.6 s per 100 000 transactions on a 2-core machine.
    #[serde(default = "yes")]
    pub verify_store: bool,
    /// Cache of compiled contract code (default: `<data_dir>/compiled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_cache: Option<PathBuf>,
    /// Transactions that may wait for a block before submissions are refused...
    #[serde(default = "default_mempool")]
    pub mempool_capacity: usize,
    /// ...and how many bytes of them.
    #[serde(default = "default_mempool_bytes")]
    pub mempool_max_bytes: usize,
    /// TLS for the API and mutual TLS between peers.
    pub tls: TlsFiles,
    /// The record gateway.
    pub records: RecordSettings,
    /// Serve the API and the peer links as plain HTTP instead of TLS. Only for a
    /// demo on loopback: the node refuses it for any other address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_plain_http: bool,
    /// Rate, concurrency and stream limits at the API's edge.
    #[serde(default)]
    pub limits: crate::api::limits::LimitSettings,
    #[serde(default)]
    pub block: BlockOverrides,
    /// For a node added after the genesis: its peer address as the others reach
    /// it. A genesis node's peer address is the one in the genesis (this field is
    /// then ignored; use `peer_listen` to listen elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_addr: Option<String>,
    /// Where to listen for peers (default: the peer address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_listen: Option<String>,
    /// The organisation of a node added after the genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Raft timing and log compaction.
    #[serde(default)]
    pub raft: RaftSettings,
    /// Addresses to reach peers at instead of their advertised ones, by node id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_addresses: BTreeMap<String, String>,
    /// Nodes added after the genesis whose messages to accept before the
    /// membership names them (written by `phr network add-node`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_peers: Vec<PeerNode>,
}

fn yes() -> bool {
    true
}

fn default_mempool() -> usize {
    100_000
}

fn default_mempool_bytes() -> usize {
    256 << 20
}

/// Whether `host:port` names a loopback address.
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr).trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl NodeConfig {
    /// The scheme of this node's API: `https`, or `http` on a plain demo.
    pub fn scheme(&self) -> &'static str {
        if self.insecure_plain_http {
            "http"
        } else {
            "https"
        }
    }

    /// Read `node.toml` and make its paths absolute.
    pub fn load(path: &Path) -> anyhow::Result<NodeConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read node config {}", path.display()))?;
        let mut cfg: NodeConfig =
            toml::from_str(&text).with_context(|| format!("node config {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        cfg.resolve(&base);
        cfg.check()?;
        Ok(cfg)
    }

    /// Make relative paths relative to `base`.
    pub fn resolve(&mut self, base: &Path) {
        let abs = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base.join(p) };
        self.genesis = abs(&self.genesis);
        self.key_file = abs(&self.key_file);
        self.data_dir = abs(&self.data_dir);
        self.tls.cert = abs(&self.tls.cert);
        self.tls.key = abs(&self.tls.key);
        self.tls.ca = abs(&self.tls.ca);
        self.records.kek = abs(&self.records.kek);
        self.records.backup_dir = abs(&self.records.backup_dir);
        self.compile_cache = Some(match &self.compile_cache {
            Some(p) => abs(p),
            None => self.data_dir.join("compiled"),
        });
        if let Ok(dir) = std::env::var("PHR_COMPILE_CACHE") {
            self.compile_cache = Some(PathBuf::from(dir));
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.mempool_capacity == 0 || self.mempool_max_bytes == 0 {
            bail!("mempool_capacity and mempool_max_bytes must be positive");
        }
        self.limits.check().map_err(anyhow::Error::msg)?;
        // A record fetched through another node travels back in one relayed answer.
        let most = crate::gateway::forward::MAX_ANSWER - (1 << 20);
        if self.records.max_record_bytes == 0 || self.records.max_record_bytes > most {
            bail!("records.max_record_bytes must be between 1 and {most} (what one node relays for another)");
        }
        if self.records.kek.starts_with(&self.data_dir) {
            bail!(
                "records.kek {} is inside data_dir: keep the key-encryption key apart from the store (and its backups)",
                self.records.kek.display()
            );
        }
        if self.records.backup_dir.starts_with(&self.data_dir) {
            bail!(
                "records.backup_dir {} is inside data_dir: a backup must survive the loss of the data directory",
                self.records.backup_dir.display()
            );
        }
        if self.insecure_plain_http {
            for (what, addr) in [
                ("api_addr", Some(&self.api_addr)),
                ("peer_addr", self.peer_addr.as_ref()),
                ("peer_listen", self.peer_listen.as_ref()),
            ] {
                if let Some(a) = addr {
                    if !is_loopback(a) {
                        bail!(
                            "insecure_plain_http is only for a demo on loopback, but {what} is {a}; remove it to serve TLS"
                        );
                    }
                }
            }
        }
        for (what, addr) in [
            ("api_addr", Some(&self.api_addr)),
            ("peer_addr", self.peer_addr.as_ref()),
            ("peer_listen", self.peer_listen.as_ref()),
        ] {
            if let Some(a) = addr {
                if !crate::api::admin::is_host_port(a) {
                    bail!("{what} {a:?} is not host:port (for example 127.0.0.1:7700 or node1.example.org:7800)");
                }
            }
        }
        Ok(())
    }
}
