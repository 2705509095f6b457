//! The node's storage: world state by contract namespace, every version of
//! every key, blocks, receipts and the transaction index, in RocksDB.
//!
//! The whole effect of a block is one atomic write ([`StateDb::commit`]) that also
//! records the applied height: after a crash at any moment the store is at its
//! last committed block, never in between.
//!
//! ```
//! use phr_state::{StateDb, StoreOptions, Point};
//! let dir = tempfile::tempdir().unwrap();
//! let db = StateDb::open(dir.path(), StoreOptions::default()).unwrap();
//! assert!(db.applied().unwrap().is_none());
//! assert!(db.get("consent", b"k").unwrap().is_none());
//! assert!(db.get_at("consent", b"k", Point::end_of(0)).unwrap().is_none());
//! ```

mod chain;
mod commit;
mod keys;
mod meta;
mod raft;
mod read;
mod records;
mod snapshot;
mod walk;

pub use commit::{BlockCommit, StateWrite};
pub use meta::AppliedMeta;
pub use read::{HistoryEntry, Versioned};
pub use records::RecordDb;
pub use snapshot::SnapshotInfo;
pub use walk::{first_difference, StateEntry, VersionEntry};

use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, Options, DB};
use std::path::Path;

/// A storage failure. Every one of these is a node fault: the node stops rather
/// than go on with a store it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("commit out of order: store is at {at:?}, block is {height}")]
    OutOfOrder { at: Option<u64>, height: u64 },
}

pub type Result<T> = std::result::Result<T, StateError>;

/// A position in the chain: just after transaction `tx_index` of block `height`
/// was applied. Reads "at" a point see every write up to and including it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    pub height: u64,
    pub tx_index: u32,
}

impl Point {
    /// After the whole block `height`.
    pub fn end_of(height: u64) -> Self {
        Point { height, tx_index: u32::MAX }
    }

    /// Just before transaction `tx_index` of block `height`: the state that
    /// transaction saw at the start of its execution.
    pub fn before(height: u64, tx_index: u32) -> Self {
        match tx_index.checked_sub(1) {
            Some(i) => Point { height, tx_index: i },
            None => Point::end_of(height.saturating_sub(1)),
        }
    }
}

/// How the store writes.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// fsync every block commit (durable across power loss, not just process death).
    pub sync_writes: bool,
    /// Write block commits through RocksDB's write-ahead log. Only a scratch
    /// store that may be thrown away after a crash (an audit replay) turns it off.
    pub write_ahead_log: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { sync_writes: true, write_ahead_log: true }
    }
}

pub(crate) const CF_STATE: &str = "state";
pub(crate) const CF_VERSIONS: &str = "versions";
pub(crate) const CF_BLOCKS: &str = "blocks";
pub(crate) const CF_RECEIPTS: &str = "receipts";
pub(crate) const CF_TXINDEX: &str = "txindex";
pub(crate) const CF_CODE: &str = "code";
pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_RAFT_LOG: &str = "raft_log";
pub(crate) const CF_RAFT_META: &str = "raft_meta";
/// The column families that hold the chain (what a snapshot carries).
pub(crate) const CHAIN_CFS: [&str; 7] = [CF_STATE, CF_VERSIONS, CF_BLOCKS, CF_RECEIPTS, CF_TXINDEX, CF_CODE, CF_META];
pub(crate) const CFS: [&str; 9] =
    [CF_STATE, CF_VERSIONS, CF_BLOCKS, CF_RECEIPTS, CF_TXINDEX, CF_CODE, CF_META, CF_RAFT_LOG, CF_RAFT_META];

/// The RocksDB store of one node. Reads may run concurrently with each other and
/// with a commit; commits come from one writer, in height order.
pub struct StateDb {
    db: DB,
    opts: StoreOptions,
}

impl StateDb {
    /// Open (or create) the store in `path`.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Self> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        db_opts.increase_parallelism(2);
        let cfs = CFS.iter().map(|name| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            if matches!(*name, CF_STATE | CF_TXINDEX | CF_CODE) {
                let mut b = BlockBasedOptions::default();
                b.set_bloom_filter(10.0, false);
                o.set_block_based_table_factory(&b);
            }
            ColumnFamilyDescriptor::new(*name, o)
        });
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        Ok(StateDb { db, opts })
    }

    /// A consistent copy of the whole store (chain, Raft log and vote, applied
    /// height) in `dir`, which must not exist, taken while the store is in use.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        self.db.flush()?;
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    pub(crate) fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column families are created at open")
    }
}

#[cfg(test)]
mod tests;
