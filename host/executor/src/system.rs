//! Records the node keeps in the `system` namespace: the genesis, organisations,
//! nodes and which code serves each contract.

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

/// Which code serves a contract, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRecord {
    pub name: String,
    pub code_hash: Hash32,
    /// Lifecycle sequence: 1 for the first version, +1 per upgrade.
    pub sequence: u64,
    /// The first block height this code served.
    pub since_height: u64,
}

/// The digest naming a built-in system contract in receipts (it has no component).
pub fn native_code_hash(name: &str) -> Hash32 {
    sha256(&[b"phr/native-contract/v1/", name.as_bytes()])
}
