//! Reads of the chain: blocks, receipts, the transaction index, contract code.

use crate::keys::{parse_position, position};
use crate::{Result, StateDb, StateError, CF_BLOCKS, CF_CODE, CF_RECEIPTS, CF_TXINDEX};
use phr_ledger::{Block, Canonical, Hash32, Receipt, TxId};
use rocksdb::{Direction, IteratorMode, ReadOptions};

fn corrupt(what: &'static str, detail: String) -> StateError {
    StateError::Corrupt { what, detail }
}

impl StateDb {
    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        match self.db.get_pinned_cf(self.cf(CF_BLOCKS), height.to_be_bytes())? {
            None => Ok(None),
            Some(b) => {
                Block::from_canonical(&b).map(Some).map_err(|e| corrupt("block", format!("height {height}: {e}")))
            }
        }
    }

    /// The receipts of the block at `height`, in transaction order.
    pub fn receipts(&self, height: u64) -> Result<Vec<Receipt>> {
        let lower = position(height, 0);
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(position(height + 1, 0).to_vec());
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(self.cf(CF_RECEIPTS), ro, IteratorMode::From(&lower, Direction::Forward)) {
            let (k, v) = item?;
            let r = Receipt::from_canonical(&v).map_err(|e| corrupt("receipt", format!("{k:?}: {e}")))?;
            out.push(r);
        }
        Ok(out)
    }

    /// One receipt.
    pub fn receipt_at(&self, height: u64, tx_index: u32) -> Result<Option<Receipt>> {
        match self.db.get_pinned_cf(self.cf(CF_RECEIPTS), position(height, tx_index))? {
            None => Ok(None),
            Some(b) => Receipt::from_canonical(&b)
                .map(Some)
                .map_err(|e| corrupt("receipt", format!("height {height} tx {tx_index}: {e}"))),
        }
    }

    /// Where a committed transaction is: (height, tx index).
    pub fn tx_location(&self, id: &TxId) -> Result<Option<(u64, u32)>> {
        match self.db.get_pinned_cf(self.cf(CF_TXINDEX), id.as_bytes())? {
            None => Ok(None),
            Some(b) => parse_position(&b).map(Some).ok_or_else(|| corrupt("tx index", id.to_hex())),
        }
    }

    /// Whether a transaction id is committed.
    pub fn has_tx(&self, id: &TxId) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_TXINDEX), id.as_bytes())?.is_some())
    }

    /// A committed transaction's location and receipt.
    pub fn receipt(&self, id: &TxId) -> Result<Option<((u64, u32), Receipt)>> {
        let Some((h, i)) = self.tx_location(id)? else { return Ok(None) };
        let r = self.receipt_at(h, i)?.ok_or_else(|| corrupt("receipt", format!("tx {id} indexed but missing")))?;
        Ok(Some(((h, i), r)))
    }

    /// Contract code stored under its SHA-256.
    pub fn code(&self, hash: &Hash32) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_CODE), hash.as_bytes())?)
    }
}
