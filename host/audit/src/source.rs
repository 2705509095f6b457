//! Where the chain to audit comes from.

use crate::AuditError;
use phr_ledger::{Block, Genesis, Hash32, Receipt};
use phr_state::StateDb;
use std::path::Path;

/// A committed block and the receipts its node committed for it.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
}

/// The last block a source holds and the results it records for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TipInfo {
    pub height: u64,
    pub block_hash: Hash32,
    pub state_root: Hash32,
    pub receipts_root: Hash32,
}

/// A chain to audit. Everything it returns is untrusted: the audit checks it.
pub trait ChainSource: Sync {
    /// What this source is, for reports ("data directory …", "node http://…").
    fn describe(&self) -> String;
    fn genesis(&self) -> Result<Genesis, AuditError>;
    /// Component bytes by code hash (the genesis contracts' at least).
    fn code(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, AuditError>;
    fn tip(&self) -> Result<TipInfo, AuditError>;
    /// Consecutive blocks from `from`, at most `max` of them (fewer at the tip).
    fn blocks(&self, from: u64, max: u64) -> Result<Vec<StoredBlock>, AuditError>;
    /// The store itself, when the source is one: its state is then compared too.
    fn store(&self) -> Option<&StateDb> {
        None
    }
}

/// A node's data directory, opened read-only (the node may be running).
pub struct StoreSource {
    db: StateDb,
    genesis: Genesis,
    dir: String,
}

impl StoreSource {
    /// Open the store in `data_dir` of the chain of the genesis file `genesis`.
    pub fn open(data_dir: &Path, genesis: &Path) -> Result<Self, AuditError> {
        let text = std::fs::read_to_string(genesis)
            .map_err(|e| AuditError::Source(format!("cannot read the genesis {}: {e}", genesis.display())))?;
        let genesis = Genesis::from_json(&text).map_err(|e| AuditError::Source(e.to_string()))?;
        let db = StateDb::open_read_only(data_dir)?;
        Ok(StoreSource { db, genesis, dir: data_dir.display().to_string() })
    }
}

impl ChainSource for StoreSource {
    fn describe(&self) -> String {
        format!("data directory {}", self.dir)
    }

    fn genesis(&self) -> Result<Genesis, AuditError> {
        Ok(self.genesis.clone())
    }

    fn code(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, AuditError> {
        Ok(self.db.code(hash)?)
    }

    fn tip(&self) -> Result<TipInfo, AuditError> {
        let m = self.db.applied()?.ok_or_else(|| AuditError::Source(format!("{} holds no chain", self.dir)))?;
        Ok(TipInfo {
            height: m.height,
            block_hash: m.block_hash,
            state_root: m.state_root,
            receipts_root: m.receipts_root,
        })
    }

    fn blocks(&self, from: u64, max: u64) -> Result<Vec<StoredBlock>, AuditError> {
        let tip = self.tip()?.height;
        let mut out = Vec::new();
        for h in from..from.saturating_add(max).min(tip + 1) {
            let block = self.db.block(h)?.ok_or_else(|| AuditError::Source(format!("block {h} is missing")))?;
            out.push(StoredBlock { receipts: self.db.receipts(h)?, block });
        }
        Ok(out)
    }

    fn store(&self) -> Option<&StateDb> {
        Some(&self.db)
    }
}
