//! Receipts: the committed result of every transaction in a block.

use crate::encoding::Canonical;
use crate::hash::Hash32;
use crate::tx::TxId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// How a transaction ended. Every variant is deterministic: every node and every
/// replay computes the same one. Only `Ok` keeps the transaction's writes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum TxStatus {
    Ok,
    /// The contract returned an error (`code` is one of the WIT error codes).
    Rejected {
        code: String,
        message: String,
    },
    /// The call used all the fuel of a transaction.
    OutOfFuel,
    /// The call trapped: a wasm trap, a panic, a broken host limit.
    Trapped {
        reason: String,
    },
    /// Not executed: the transaction was not valid in this block (duplicate,
    /// expired, bad signature, unknown signer, unknown contract).
    Invalid {
        reason: String,
    },
}

impl TxStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, TxStatus::Ok)
    }
}

/// An event a contract emitted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Event {
    pub contract: String,
    pub name: String,
    pub topics: Vec<String>,
    /// JSON text.
    pub payload: String,
}

/// A key the transaction read, and the version it saw (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ReadEntry {
    pub namespace: String,
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// (height, tx index) of the write that produced the value read.
    pub version: Option<(u64, u32)>,
}

/// A key the transaction wrote (`value: None` deletes it).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WriteEntry {
    pub namespace: String,
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "hex_opt")]
    pub value: Option<Vec<u8>>,
}

/// The committed result of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_id: TxId,
    #[serde(flatten)]
    pub status: TxStatus,
    pub contract: String,
    pub method: String,
    /// The code that ran: a component's SHA-256, or the digest naming a
    /// built-in system contract.
    pub code_hash: Hash32,
    pub fuel_used: u64,
    /// JSON text returned by the contract (empty unless `Ok`).
    pub output: String,
    pub events: Vec<Event>,
    pub reads: Vec<ReadEntry>,
    pub writes: Vec<WriteEntry>,
}

impl Canonical for Receipt {
    const DOMAIN: &'static [u8] = b"phr/receipt/v1";
    const WHAT: &'static str = "receipt";
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?.map(|h| hex::decode(h).map_err(serde::de::Error::custom)).transpose()
    }
}
