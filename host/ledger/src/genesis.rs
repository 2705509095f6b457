//! The genesis: who is in the consortium and the rules the chain starts with.

use crate::encoding::Canonical;
use crate::hash::Hash32;
use crate::identity::PublicKey;
use crate::is_valid_name;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An organisation of the consortium and the keys of its admins.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub name: String,
    pub admins: Vec<PublicKey>,
}

/// A node of the network: its id, organisation, key and addresses.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeInfo {
    pub id: String,
    pub org: String,
    pub public_key: PublicKey,
    /// HTTP API address, `host:port`.
    pub api_addr: String,
    /// Node-to-node address, `host:port`.
    pub peer_addr: String,
    /// SHA-256 of the node's TLS certificate (DER): the only certificate its
    /// peers accept from it, on its peer links and its API.
    pub tls_cert_sha256: Hash32,
}

/// A contract live from the genesis: its name and the SHA-256 of its component,
/// whose bytes are in `file` (relative to the genesis file).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisContract {
    pub name: String,
    pub code_hash: Hash32,
    pub file: String,
}

/// Rules every node applies identically.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainParams {
    /// Largest canonical transaction accepted (but see `max_code_bytes`).
    pub max_tx_bytes: u32,
    /// Largest contract component an install may carry; an install transaction
    /// may be as large as its base64 text plus `max_tx_bytes`.
    pub max_code_bytes: u32,
    /// Fuel one transaction may burn, shared with the calls it makes.
    pub fuel_per_tx: u64,
    /// Linear memory one contract instance may use.
    pub memory_limit_bytes: u32,
    /// Block cutting: at most this many transactions in a block...
    pub block_max_txs: u32,
    /// ...and at most this many bytes of them...
    pub block_max_bytes: u32,
    /// ...and a block is cut this long after its first transaction arrived.
    pub block_timeout_ms: u32,
    /// The project's fuel table every Wasm operator is priced by (its version;
    /// the tables are in `host/vm/src/fuel.rs`), so that an engine upgrade cannot
    /// change what a call costs.
    pub fuel_table: u32,
}

impl ChainParams {
    /// The largest transaction accepted for `contract.method`: installs carry a
    /// component as base64 text.
    pub fn max_tx_bytes_for(&self, contract: &str, method: &str) -> usize {
        if contract == "lifecycle" && method == "install" {
            (self.max_code_bytes as usize).div_ceil(3) * 4 + self.max_tx_bytes as usize
        } else {
            self.max_tx_bytes as usize
        }
    }

    /// The largest transaction of any kind.
    pub fn max_any_tx_bytes(&self) -> usize {
        self.max_tx_bytes_for("lifecycle", "install")
    }
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            max_tx_bytes: 64 * 1024,
            max_code_bytes: 4 * 1024 * 1024,
            fuel_per_tx: 200_000_000,
            memory_limit_bytes: 32 * 1024 * 1024,
            block_max_txs: 2000,
            block_max_bytes: 8 * 1024 * 1024,
            block_timeout_ms: 20,
            fuel_table: 1,
        }
    }
}

/// The genesis document (`genesis.json`). Its digest identifies the chain's start.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    pub genesis_time_ms: u64,
    pub orgs: Vec<Org>,
    pub nodes: Vec<NodeInfo>,
    #[serde(default)]
    pub params: ChainParams,
    #[serde(default)]
    pub contracts: Vec<GenesisContract>,
    #[serde(default)]
    pub policies: Policies,
}

/// How many organisations must agree to something.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OrgPolicy {
    /// More than half of the organisations.
    #[default]
    Majority,
    /// Every organisation.
    All,
    /// At least this many organisations.
    AtLeast(u32),
}

impl OrgPolicy {
    /// How many of `orgs` organisations must agree.
    pub fn required(&self, orgs: usize) -> usize {
        match self {
            OrgPolicy::Majority => orgs / 2 + 1,
            OrgPolicy::All => orgs,
            OrgPolicy::AtLeast(n) => *n as usize,
        }
    }

    /// The policy in words, for messages.
    pub fn describe(&self, orgs: usize) -> String {
        match self {
            OrgPolicy::Majority => format!("a majority ({} of {orgs}) of the organisations", self.required(orgs)),
            OrgPolicy::All => format!("all {orgs} organisations"),
            OrgPolicy::AtLeast(n) => format!("at least {n} of the {orgs} organisations"),
        }
    }
}

/// The consortium's decision rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policies {
    /// Organisations whose admins must approve the same (contract, code hash,
    /// sequence) before it can be committed.
    pub lifecycle: OrgPolicy,
}

impl Canonical for Genesis {
    const DOMAIN: &'static [u8] = b"phr/genesis/v1";
    const WHAT: &'static str = "genesis";
}

/// What is wrong with a genesis document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("genesis: {0}")]
pub struct GenesisError(pub String);

impl Genesis {
    /// Parse `genesis.json` and check it.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let g: Genesis = serde_json::from_str(text).map_err(|e| GenesisError(format!("not valid: {e}")))?;
        g.validate()?;
        Ok(g)
    }

    /// Check names, uniqueness and limits.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let err = |m: String| Err(GenesisError(m));
        if self.chain_id.is_empty() || self.chain_id.len() > 64 || !self.chain_id.is_ascii() {
            return err("chain_id must be 1-64 ASCII characters".into());
        }
        if self.orgs.is_empty() {
            return err("at least one organisation is required".into());
        }
        let mut orgs = BTreeSet::new();
        for o in &self.orgs {
            if !is_valid_name(&o.name) {
                return err(format!("organisation name {:?} must be a-z, 0-9 and -, starting with a letter", o.name));
            }
            if !orgs.insert(o.name.as_str()) {
                return err(format!("organisation {} is listed twice", o.name));
            }
            if o.admins.is_empty() {
                return err(format!("organisation {} has no admin key", o.name));
            }
        }
        if self.nodes.is_empty() {
            return err("at least one node is required".into());
        }
        let mut nodes = BTreeSet::new();
        for n in &self.nodes {
            if !is_valid_name(&n.id) {
                return err(format!("node id {:?} must be a-z, 0-9 and -, starting with a letter", n.id));
            }
            if !nodes.insert(n.id.as_str()) {
                return err(format!("node {} is listed twice", n.id));
            }
            if !orgs.contains(n.org.as_str()) {
                return err(format!("node {} belongs to unknown organisation {}", n.id, n.org));
            }
        }
        // Every key is one identity: a node is not an admin, and no two share a key.
        let mut keys = BTreeSet::new();
        for k in self.orgs.iter().flat_map(|o| o.admins.iter()).chain(self.nodes.iter().map(|n| &n.public_key)) {
            if !keys.insert(k) {
                return err(format!("key {k} is listed twice (admins and nodes each need their own key)"));
            }
        }
        let mut names = BTreeSet::new();
        for c in &self.contracts {
            if !is_valid_name(&c.name) {
                return err(format!("contract name {:?} must be a-z, 0-9 and -, starting with a letter", c.name));
            }
            if crate::Genesis::RESERVED.contains(&c.name.as_str()) {
                return err(format!("contract name {} is reserved for a system contract", c.name));
            }
            if !names.insert(c.name.as_str()) {
                return err(format!("contract {} is listed twice", c.name));
            }
        }
        let p = &self.params;
        if p.max_tx_bytes < 1024 || p.max_tx_bytes > 16 * 1024 * 1024 {
            return err("params.max_tx_bytes must be between 1 KiB and 16 MiB".into());
        }
        if p.max_code_bytes < 64 * 1024 || p.max_code_bytes > 8 * 1024 * 1024 {
            return err("params.max_code_bytes must be between 64 KiB and 8 MiB".into());
        }
        if p.fuel_per_tx < 1_000_000 {
            return err("params.fuel_per_tx must be at least 1000000".into());
        }
        if p.fuel_table == 0 {
            return err("params.fuel_table must name a fuel table (1 is the first)".into());
        }
        if p.memory_limit_bytes < 1024 * 1024 || p.memory_limit_bytes > 1024 * 1024 * 1024 {
            return err("params.memory_limit_bytes must be between 1 MiB and 1 GiB".into());
        }
        if p.block_max_txs == 0 || p.block_timeout_ms == 0 {
            return err("params: block_max_txs and block_timeout_ms must be positive".into());
        }
        if (p.block_max_bytes as usize) < p.max_any_tx_bytes() {
            return err(format!(
                "params.block_max_bytes must hold the largest transaction, an install of max_code_bytes: at least {}",
                p.max_any_tx_bytes()
            ));
        }
        if let OrgPolicy::AtLeast(n) = self.policies.lifecycle {
            if n == 0 || n as usize > self.orgs.len() {
                return err(format!("policies.lifecycle: at_least must be between 1 and {}", self.orgs.len()));
            }
        }
        Ok(())
    }

    /// Names of the system contracts built into the node.
    pub const RESERVED: &'static [&'static str] = &["identity", "lifecycle", "system"];

    /// The organisation whose admin holds `key`, if any.
    pub fn admin_org(&self, key: &PublicKey) -> Option<&str> {
        self.orgs.iter().find(|o| o.admins.contains(key)).map(|o| o.name.as_str())
    }

    /// The genesis hash.
    pub fn hash(&self) -> Hash32 {
        self.digest()
    }
}
