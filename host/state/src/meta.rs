//! What the store has applied: the last block and its results.

use crate::{Result, StateDb, StateError, CF_META};
use borsh::{BorshDeserialize, BorshSerialize};
use phr_ledger::Hash32;

pub(crate) const APPLIED: &[u8] = b"applied";

/// The last committed block and the results computed for it. Written in the
/// same atomic batch as the block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AppliedMeta {
    pub height: u64,
    pub block_hash: Hash32,
    pub time_ms: u64,
    /// State root after this block.
    pub state_root: Hash32,
    /// Merkle root of this block's receipts.
    pub receipts_root: Hash32,
    /// The genesis hash of the chain this store holds.
    pub genesis_hash: Hash32,
    /// Where the orderer's log stands once this block is applied (opaque here).
    pub orderer_position: Vec<u8>,
}

impl StateDb {
    /// The last committed block's metadata, or `None` for an empty store.
    pub fn applied(&self) -> Result<Option<AppliedMeta>> {
        match self.db.get_pinned_cf(self.cf(CF_META), APPLIED)? {
            None => Ok(None),
            Some(b) => borsh::from_slice(&b)
                .map(Some)
                .map_err(|e| StateError::Corrupt { what: "applied metadata", detail: e.to_string() }),
        }
    }
}
