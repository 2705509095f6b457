//! The one atomic write that commits a block.

use crate::keys::{position, state_key, version_key};
use crate::meta::APPLIED;
use crate::{
    AppliedMeta, Result, StateDb, StateError, CF_BLOCKS, CF_CODE, CF_META, CF_RECEIPTS, CF_STATE, CF_TXINDEX,
    CF_VERSIONS,
};
use phr_ledger::{Block, Canonical, Hash32, Receipt};
use rocksdb::{WriteBatch, WriteOptions};

/// One write to world state by the transaction at `tx_index` (`value: None` deletes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateWrite {
    pub namespace: String,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub tx_index: u32,
}

/// Everything a block changes in the store.
pub struct BlockCommit<'a> {
    pub block: &'a Block,
    /// One per transaction, in order.
    pub receipts: &'a [Receipt],
    /// In transaction order; a later write to the same key wins.
    pub writes: &'a [StateWrite],
    /// Contract code to store by its SHA-256.
    pub code: &'a [(Hash32, Vec<u8>)],
    /// Transaction ids to index, with their index in the block (only those that
    /// were executed; an invalid duplicate keeps its first location).
    pub indexed_txs: &'a [(Hash32, u32)],
    pub meta: AppliedMeta,
}

impl StateDb {
    /// Commit a block in one atomic write: block, receipts, tx index, state,
    /// versions, code and the applied metadata. Blocks must come in height order.
    pub fn commit(&self, c: BlockCommit<'_>) -> Result<()> {
        let height = c.block.header.height;
        let at = self.applied()?.map(|m| m.height);
        let expected = at.map_or(0, |h| h + 1);
        if height != expected || c.meta.height != height {
            return Err(StateError::OutOfOrder { at, height });
        }
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_BLOCKS), height.to_be_bytes(), c.block.to_canonical());
        for (i, r) in c.receipts.iter().enumerate() {
            b.put_cf(self.cf(CF_RECEIPTS), position(height, i as u32), r.to_canonical());
        }
        for (id, i) in c.indexed_txs {
            b.put_cf(self.cf(CF_TXINDEX), id.as_bytes(), position(height, *i));
        }
        for w in c.writes {
            let vk = version_key(&w.namespace, &w.key, height, w.tx_index);
            let sk = state_key(&w.namespace, &w.key);
            match &w.value {
                Some(v) => {
                    let mut sv = position(height, w.tx_index).to_vec();
                    sv.extend_from_slice(v);
                    b.put_cf(self.cf(CF_STATE), sk, sv);
                    let mut vv = vec![1u8];
                    vv.extend_from_slice(v);
                    b.put_cf(self.cf(CF_VERSIONS), vk, vv);
                }
                None => {
                    b.delete_cf(self.cf(CF_STATE), sk);
                    b.put_cf(self.cf(CF_VERSIONS), vk, [0u8]);
                }
            }
        }
        for (hash, bytes) in c.code {
            b.put_cf(self.cf(CF_CODE), hash.as_bytes(), bytes);
        }
        b.put_cf(self.cf(CF_META), APPLIED, borsh::to_vec(&c.meta).expect("borsh to Vec"));
        let mut wo = WriteOptions::default();
        wo.set_sync(self.opts.sync_writes && self.opts.write_ahead_log);
        wo.disable_wal(!self.opts.write_ahead_log);
        self.db.write_opt(b, &wo)?;
        Ok(())
    }
}
