//! Records the node keeps in the `system` namespace: the genesis, organisations,
//! nodes, installed code, lifecycle approvals and which code serves each contract.
//!
//! They are world state like any other, so they are versioned: the history of
//! `contract/<name>` is the list of every version that served the contract, with
//! the height and transaction that committed it.

use phr_ledger::{sha256, Hash32};
use serde::{Deserialize, Serialize};

/// The namespace of chain-level records.
pub const SYSTEM_NS: &str = "system";

pub fn genesis_key() -> Vec<u8> {
    b"genesis".to_vec()
}

pub fn org_key(name: &str) -> Vec<u8> {
    format!("org/{name}").into_bytes()
}

pub fn node_key(id: &str) -> Vec<u8> {
    format!("node/{id}").into_bytes()
}

pub fn contract_key(name: &str) -> Vec<u8> {
    format!("contract/{name}").into_bytes()
}

/// The range of all contract records: `[CONTRACTS_START, CONTRACTS_END)`.
pub const CONTRACTS_START: &[u8] = b"contract/";
pub const CONTRACTS_END: &[u8] = b"contract0";

pub fn code_key(hash: &Hash32) -> Vec<u8> {
    format!("code/{hash}").into_bytes()
}

/// The range of all installed-code records.
pub const CODES_START: &[u8] = b"code/";
pub const CODES_END: &[u8] = b"code0";

/// Approvals of `name` at `sequence`, one key per organisation. Sequences are
/// zero-padded so that keys sort by sequence.
pub fn approvals_prefix(name: &str, sequence: u64) -> Vec<u8> {
    format!("approval/{name}/{sequence:020}/").into_bytes()
}

pub fn approval_key(name: &str, sequence: u64, org: &str) -> Vec<u8> {
    let mut k = approvals_prefix(name, sequence);
    k.extend_from_slice(org.as_bytes());
    k
}

/// The end of a prefix range: the prefix with its last byte (`/`) raised by one.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Where something was committed on the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainPoint {
    pub height: u64,
    pub tx_index: u32,
}

/// An organisation admin's approval of (contract, code hash, sequence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub name: String,
    pub sequence: u64,
    pub code_hash: Hash32,
    pub org: String,
    /// Identity id of the admin who approved.
    pub admin: String,
    pub at: ChainPoint,
    pub tx_id: String,
}

/// Which code serves a contract, since when and on whose approval.
///
/// The code serves every transaction after the one that committed it
/// (`committed_at`); a genesis contract serves from block 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRecord {
    pub name: String,
    pub code_hash: Hash32,
    /// Lifecycle sequence: 1 for the first version, +1 per upgrade.
    pub sequence: u64,
    /// The transaction that made this code live (height 0: the genesis).
    pub committed_at: ChainPoint,
    /// Its id; empty for the genesis.
    pub committed_tx: String,
    /// The code this replaced, if any.
    pub previous_code_hash: Option<Hash32>,
    /// The approvals that made it live (none for the genesis, which every
    /// organisation signed up to).
    pub approvals: Vec<Approval>,
    /// Whether `migrate` ran at the commit.
    pub migrated: bool,
}

/// Contract code installed on the chain (its bytes are in the code store, by hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub code_hash: Hash32,
    pub size: u64,
    pub modules: u64,
    pub functions: u64,
    pub has_migrate: bool,
    pub installed_at: ChainPoint,
    /// The install transaction's id; empty for the genesis.
    pub installed_tx: String,
    /// Identity id of the admin who installed it, or `genesis`.
    pub installed_by: String,
    pub org: Option<String>,
}

/// The digest naming a built-in system contract in receipts (it has no component).
pub fn native_code_hash(name: &str) -> Hash32 {
    sha256(&[b"phr/native-contract/v1/", name.as_bytes()])
}
