//! Blocks and their headers.

use crate::encoding::Canonical;
use crate::hash::{merkle_root, Hash32};
use crate::tx::SignedTx;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A block header. Its digest is the block hash.
///
/// `prev_state_root` and `prev_receipts_root` are the results of the block
/// before this one: every node checks them against what it computed, and a
/// mismatch stops that node instead of letting it diverge.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: u64,
    pub prev_hash: Hash32,
    /// Milliseconds since the Unix epoch, chosen by the proposer, never
    /// earlier than the previous block's time.
    pub time_ms: u64,
    /// The node id of the proposer (`genesis` for block 0).
    pub proposer: String,
    /// Merkle root of the transaction ids, in block order.
    pub tx_root: Hash32,
    pub tx_count: u32,
    pub prev_state_root: Hash32,
    pub prev_receipts_root: Hash32,
}

impl Canonical for BlockHeader {
    const DOMAIN: &'static [u8] = b"phr/block-header/v1";
    const WHAT: &'static str = "block header";
}

/// A block: its header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
}

impl Canonical for Block {
    const DOMAIN: &'static [u8] = b"phr/block/v1";
    const WHAT: &'static str = "block";
}

impl Block {
    /// The block hash: the digest of the header.
    pub fn hash(&self) -> Hash32 {
        self.header.digest()
    }

    /// The Merkle root of these transactions' ids.
    pub fn tx_root_of(txs: &[SignedTx]) -> Hash32 {
        let ids: Vec<Hash32> = txs.iter().map(|t| t.id()).collect();
        merkle_root(&ids)
    }

    /// Whether the header's `tx_root` and `tx_count` match the transactions.
    pub fn txs_match_header(&self) -> bool {
        self.header.tx_count as usize == self.txs.len() && Self::tx_root_of(&self.txs) == self.header.tx_root
    }
}
