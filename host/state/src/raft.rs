//! Storage for the orderer's replicated log: entries by index and a few
//! metadata values (vote, committed position, last purged entry), as opaque
//! bytes. Kept in the node's RocksDB beside the chain, in their own column
//! families, so that applying an entry and recording it as applied is one
//! atomic write.

use crate::meta::APPLIED;
use crate::{AppliedMeta, Result, StateDb, StateError, CF_META, CF_RAFT_LOG, CF_RAFT_META};
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch, WriteOptions};

impl StateDb {
    /// Raft's safety rests on its vote and log surviving a power loss, so these
    /// writes are always synced, whatever `sync_writes` says for the chain (a chain
    /// commit lost with the power is applied again from the durable log).
    fn raft_write(&self, b: WriteBatch) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo)?;
        Ok(())
    }

    /// Append (or overwrite) log entries by index, durably.
    pub fn raft_append(&self, entries: &[(u64, Vec<u8>)]) -> Result<()> {
        let mut b = WriteBatch::default();
        for (i, bytes) in entries {
            b.put_cf(self.cf(CF_RAFT_LOG), i.to_be_bytes(), bytes);
        }
        self.raft_write(b)
    }

    /// Delete every entry from `index` on (a conflicting suffix).
    pub fn raft_truncate_from(&self, index: u64) -> Result<()> {
        let mut b = WriteBatch::default();
        b.delete_range_cf(self.cf(CF_RAFT_LOG), index.to_be_bytes(), u64::MAX.to_be_bytes());
        b.delete_cf(self.cf(CF_RAFT_LOG), u64::MAX.to_be_bytes());
        self.raft_write(b)
    }

    /// Delete every entry up to and including `index` (compacted into a
    /// snapshot), recording the last purged entry under `raft_meta[key]`.
    pub fn raft_purge_upto(&self, index: u64, key: &str, last_purged: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.delete_range_cf(self.cf(CF_RAFT_LOG), 0u64.to_be_bytes(), (index + 1).to_be_bytes());
        b.put_cf(self.cf(CF_RAFT_META), key, last_purged);
        self.raft_write(b)
    }

    /// Entries with indexes in `[from, to)`, in order.
    pub fn raft_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to.to_be_bytes().to_vec());
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(
            self.cf(CF_RAFT_LOG),
            ro,
            IteratorMode::From(&from.to_be_bytes(), Direction::Forward),
        ) {
            let (k, v) = item?;
            let idx = u64::from_be_bytes(
                k.as_ref()
                    .try_into()
                    .map_err(|_| StateError::Corrupt { what: "raft log key", detail: format!("{k:?}") })?,
            );
            out.push((idx, v.to_vec()));
        }
        Ok(out)
    }

    /// The entry with the highest index, if any.
    pub fn raft_last_entry(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_RAFT_LOG));
        it.seek_to_last();
        if !it.valid() {
            it.status()?;
            return Ok(None);
        }
        let k = it.key().expect("valid iterator has a key");
        let idx = u64::from_be_bytes(
            k.try_into().map_err(|_| StateError::Corrupt { what: "raft log key", detail: format!("{k:?}") })?,
        );
        Ok(Some((idx, it.value().expect("valid iterator has a value").to_vec())))
    }

    /// A raft metadata value.
    pub fn raft_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_RAFT_META), key)?)
    }

    /// Set a raft metadata value, durably.
    pub fn set_raft_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_RAFT_META), key, value);
        self.raft_write(b)
    }

    /// Record that the orderer applied an entry that is not a block (a
    /// membership change, a leader's blank entry): the applied metadata gets the
    /// new position and `raft_meta[key] = value` is set, in one atomic write.
    pub fn record_orderer_position(&self, position: Vec<u8>, meta: Option<(&str, &[u8])>) -> Result<()> {
        let mut applied: AppliedMeta = self.applied()?.ok_or(StateError::OutOfOrder { at: None, height: 0 })?;
        applied.orderer_position = position;
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(CF_META), APPLIED, borsh::to_vec(&applied).expect("borsh to Vec"));
        if let Some((k, v)) = meta {
            b.put_cf(self.cf(CF_RAFT_META), k, v);
        }
        self.raft_write(b)
    }
}

#[cfg(test)]
mod tests {
    use crate::{StateDb, StoreOptions};

    #[test]
    fn append_read_truncate_purge() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path(), StoreOptions { sync_writes: false, ..Default::default() }).unwrap();
        assert!(db.raft_last_entry().unwrap().is_none());
        db.raft_append(&(1..=10).map(|i| (i, vec![i as u8])).collect::<Vec<_>>()).unwrap();
        assert_eq!(db.raft_entries(3, 6).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [3, 4, 5]);
        db.raft_truncate_from(8).unwrap();
        assert_eq!(db.raft_last_entry().unwrap().unwrap().0, 7);
        db.raft_purge_upto(4, "purged", b"x").unwrap();
        assert_eq!(db.raft_entries(0, 100).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [5, 6, 7]);
        assert_eq!(db.raft_meta("purged").unwrap().unwrap(), b"x");
        db.set_raft_meta("vote", b"v").unwrap();
        drop(db);
        let db = StateDb::open(dir.path(), StoreOptions { sync_writes: false, ..Default::default() }).unwrap();
        assert_eq!(db.raft_meta("vote").unwrap().unwrap(), b"v");
        assert_eq!(db.raft_last_entry().unwrap().unwrap(), (7, vec![7]));
    }
}
