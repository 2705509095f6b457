#![allow(clippy::result_large_err)] // openraft's StorageError is large by design; its storage traits return it.
//! openraft's log storage over the node's RocksDB.

use super::types::{decode, encode, Entry, LogId, PhrRaft, StorageError};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogId, RaftLogReader, StorageIOError, Vote};
use phr_state::StateDb;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "last_purged";

/// The Raft log, vote and committed position, in RocksDB. Writes are durable
/// (fsync) when the store syncs writes.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<StateDb>,
}

impl LogStore {
    pub fn new(db: Arc<StateDb>) -> Self {
        LogStore { db }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        match self.db.raft_meta(key).map_err(|e| StorageIOError::read(&e))? {
            None => Ok(None),
            Some(b) => decode(&b).map(Some).map_err(|e| StorageIOError::read(&e).into()),
        }
    }
}

fn range_of<RB: RangeBounds<u64>>(r: &RB) -> (u64, u64) {
    let from = match r.start_bound() {
        Bound::Included(x) => *x,
        Bound::Excluded(x) => x + 1,
        Bound::Unbounded => 0,
    };
    let to = match r.end_bound() {
        Bound::Included(x) => x.saturating_add(1),
        Bound::Excluded(x) => *x,
        Bound::Unbounded => u64::MAX,
    };
    (from, to)
}

impl RaftLogReader<PhrRaft> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (from, to) = range_of(&range);
        let rows = self.db.raft_entries(from, to).map_err(|e| StorageIOError::read_logs(&e))?;
        rows.into_iter()
            .map(|(i, b)| decode::<Entry>(&b).map_err(|e| StorageIOError::read_log_at_index(i, &e).into()))
            .collect()
    }
}

impl RaftLogStorage<PhrRaft> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<PhrRaft>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.meta(PURGED)?;
        let last = match self.db.raft_last_entry().map_err(|e| StorageIOError::read_logs(&e))? {
            Some((_, b)) => Some(*decode::<Entry>(&b).map_err(|e| StorageIOError::read_logs(&e))?.get_log_id()),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        self.db.set_raft_meta(VOTE, &encode(vote)).map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.db.set_raft_meta(COMMITTED, &encode(&committed)).map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<PhrRaft>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows: Vec<(u64, Vec<u8>)> = entries.into_iter().map(|e| (e.get_log_id().index, encode(&e))).collect();
        let db = self.db.clone();
        let r = tokio::task::spawn_blocking(move || db.raft_append(&rows))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        match r {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.db.raft_truncate_from(log_id.index).map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.db
            .raft_purge_upto(log_id.index, PURGED, &encode(&log_id))
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
