//! The record store: opaque blobs (sealed record content and wrapped keys) in
//! a RocksDB instance of their own, beside the chain's store and never part of
//! a snapshot, so no record content leaves the node that holds it.
//!
//! Deleting is erasing: [`RecordDb::erase`] deletes the keys, flushes the
//! memtable, compacts the whole store to its last level (so the tombstones and
//! every older copy of the values are dropped, not merely shadowed) and lets
//! RocksDB remove the write-ahead logs that held them. Afterwards no file of
//! the store holds the erased values.

use crate::Result;
use rocksdb::{BottommostLevelCompaction, CompactOptions, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;

/// The record store of one node.
pub struct RecordDb {
    db: DB,
}

impl RecordDb {
    /// Open (or create) the store in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut o = Options::default();
        o.create_if_missing(true);
        // Sealed content does not compress; old write-ahead logs are deleted, not recycled.
        o.set_compression_type(rocksdb::DBCompressionType::None);
        o.set_recycle_log_file_num(0);
        o.set_wal_ttl_seconds(0);
        o.set_wal_size_limit_mb(0);
        Ok(RecordDb { db: DB::open(&o, path)? })
    }

    /// Open the store in `path` read-only, beside a node that holds it open
    /// (to inspect it; writes fail).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        Ok(RecordDb { db: DB::open_for_read_only(&Options::default(), path, false)? })
    }

    fn sync() -> WriteOptions {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        w
    }

    /// Write (`Some`) or delete (`None`) keys in one atomic, fsynced batch.
    pub fn write(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        let mut b = WriteBatch::default();
        for (k, v) in entries {
            match v {
                Some(v) => b.put(k, v),
                None => b.delete(k),
            }
        }
        Ok(self.db.write_opt(b, &Self::sync())?)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(prefix) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Delete `keys` and purge them from every file of the store.
    pub fn erase(&self, keys: &[Vec<u8>]) -> Result<()> {
        let entries: Vec<_> = keys.iter().map(|k| (k.clone(), None)).collect();
        self.write(&entries)?;
        self.purge()
    }

    /// Rewrite the store so that deleted values survive in no file: flush the
    /// memtable (so the write-ahead logs holding them become obsolete and are
    /// deleted), then compact everything to the last level, dropping
    /// tombstones and what they covered.
    pub fn purge(&self) -> Result<()> {
        self.db.flush()?;
        self.db.flush_wal(true)?;
        let mut c = CompactOptions::default();
        c.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        c.set_exclusive_manual_compaction(true);
        self.db.compact_range_opt::<&[u8], &[u8]>(None, None, &c);
        Ok(())
    }

    /// A consistent copy of the store in `dir` (which must not exist), taken
    /// while it is in use.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        self.db.flush()?;
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
        let mut hits = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && std::fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
        hits
    }

    #[test]
    fn erased_values_are_in_no_file_of_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let marker = b"SECRET-CIPHERTEXT-7f3a91";
        let keep = b"KEPT-VALUE-2b81";
        {
            let db = RecordDb::open(dir.path()).unwrap();
            db.write(&[(b"r/1".to_vec(), Some(marker.to_vec())), (b"r/2".to_vec(), Some(keep.to_vec()))]).unwrap();
            // On disk through the write-ahead log and, after a flush, in a table file.
            db.db.flush().unwrap();
            db.write(&[(b"r/3".to_vec(), Some(marker.to_vec()))]).unwrap();
            assert!(!files_contain(dir.path(), marker).is_empty());
            db.erase(&[b"r/1".to_vec(), b"r/3".to_vec()]).unwrap();
            assert_eq!(db.get(b"r/1").unwrap(), None);
            assert_eq!(db.get(b"r/2").unwrap().as_deref(), Some(&keep[..]));
            assert_eq!(files_contain(dir.path(), marker), Vec::<String>::new(), "erased from every file");
        }
        let db = RecordDb::open(dir.path()).unwrap();
        assert_eq!(db.get(b"r/2").unwrap().as_deref(), Some(&keep[..]), "what was kept survives a reopen");
        assert_eq!(db.scan_prefix(b"r/").unwrap().len(), 1);
    }
}
