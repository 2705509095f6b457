//! What the orderer orders: one batch of transactions per log entry, which every
//! node turns into the next block.

use crate::hash::Hash32;
use crate::tx::SignedTx;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The proposer's results for an earlier block, checked by every node that
/// applies the batch. A node whose own results differ stops instead of forking.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Attestation {
    pub height: u64,
    pub block_hash: Hash32,
    pub state_root: Hash32,
    pub receipts_root: Hash32,
}

/// A batch cut by the leader: transactions in order, the time the block will
/// carry, and what the leader computed for the last block it applied.
///
/// The block height is not in the batch: it is given when the batch is applied,
/// so that a batch proposed by a deposed leader cannot claim a height.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Batch {
    pub proposer: String,
    pub time_ms: u64,
    pub attestation: Option<Attestation>,
    pub txs: Vec<SignedTx>,
}

impl crate::Canonical for Batch {
    const DOMAIN: &'static [u8] = b"phr/batch/v1";
    const WHAT: &'static str = "batch";
}
