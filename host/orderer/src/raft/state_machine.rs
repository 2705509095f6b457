#![allow(clippy::result_large_err)] // openraft's StorageError is large by design; its storage traits return it.
//! openraft's state machine: applying an entry is committing a block.

use super::types::{decode, encode, Applied, Entry, LogId, Membership, PeerNode, PhrRaft, StorageError};
use super::witness::{self, Verdict, Witness};
use crate::BatchApplier;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageIOError, StoredMembership};
use phr_ledger::Batch;
use phr_state::StateDb;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the applied membership is kept in `raft_meta`.
pub const MEMBERSHIP: &str = "membership";

/// Snapshot files: `snap-<id>.bin` and `snap-<id>.meta`, and `current`
/// naming the id of the snapshot in force (replaced atomically).
struct SnapshotDir(PathBuf);

impl SnapshotDir {
    fn bin(&self, id: &str) -> PathBuf {
        self.0.join(format!("snap-{id}.bin"))
    }
    fn meta(&self, id: &str) -> PathBuf {
        self.0.join(format!("snap-{id}.meta"))
    }

    /// Make `bin` (a complete snapshot file, already fsync'd) with `meta` the
    /// current snapshot. Each file is on disk before it is renamed into place and
    /// the directory is synced after each rename, so a power cut leaves either
    /// the previous snapshot or this one in force, never a torn file.
    fn publish(&self, bin: &Path, meta: &SnapshotMeta<u64, PeerNode>) -> std::io::Result<()> {
        let id = &meta.snapshot_id;
        std::fs::rename(bin, self.bin(id))?;
        write_durably(&self.meta(id), &encode(meta))?;
        self.sync()?;
        let tmp = self.0.join("current.tmp");
        write_durably(&tmp, id.as_bytes())?;
        std::fs::rename(&tmp, self.0.join("current"))?;
        self.sync()?;
        // Older snapshots are no longer needed.
        for e in std::fs::read_dir(&self.0)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("snap-") && !name.starts_with(&format!("snap-{id}.")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    /// fsync the directory, making the renames in it durable.
    fn sync(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.0)?.sync_all()
    }

    fn current(&self) -> std::io::Result<Option<(SnapshotMeta<u64, PeerNode>, PathBuf)>> {
        let id = match std::fs::read_to_string(self.0.join("current")) {
            Ok(id) => id,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = decode(&std::fs::read(self.meta(&id))?).map_err(std::io::Error::other)?;
        Ok(Some((meta, self.bin(&id))))
    }

    fn temp(&self, what: &str) -> PathBuf {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        self.0.join(format!("{what}-{nanos}.tmp"))
    }
}

/// Write `bytes` to `path` and fsync it.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sm_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e.to_string())).into()
}

fn snap_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::error(e.to_string())).into()
}

/// The state machine of a node: the executor, through [`BatchApplier`], over the
/// node's store.
pub struct StateMachine {
    db: Arc<StateDb>,
    applier: Arc<dyn BatchApplier>,
    witness: Arc<Witness>,
    dir: Arc<SnapshotDir>,
    receiving: Option<PathBuf>,
}

impl StateMachine {
    /// A state machine keeping snapshots in `snapshot_dir`, asking `witness`
    /// when a batch's attestation differs from this node's results.
    pub fn new(
        db: Arc<StateDb>,
        applier: Arc<dyn BatchApplier>,
        witness: Arc<Witness>,
        snapshot_dir: PathBuf,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&snapshot_dir)?;
        Ok(StateMachine { db, applier, witness, dir: Arc::new(SnapshotDir(snapshot_dir)), receiving: None })
    }

    /// Decide what to do with a batch whose attestation (the proposer's results
    /// for an earlier block) differs from this node's: the voters' majority
    /// decides. If it agrees with this node, the proposer diverged: the batch's
    /// transactions are still the ordered log, so the batch is applied without
    /// the proposer's word (the proposer finds out and halts by itself, see
    /// `sequencer.rs`). If the majority agrees with the proposer, or the voters
    /// are split, the batch is left as it is and the executor's check halts this
    /// node, as it must rather than fork. While too few voters answer, it waits:
    /// nothing is applied on a guess.
    async fn settle_attestation(&self, batch: &mut Batch) -> Result<(), String> {
        let Some(theirs) = batch.attestation.clone() else { return Ok(()) };
        let Some(mine) = self.applier.attestation_at(theirs.height)? else { return Ok(()) };
        if mine == theirs {
            return Ok(());
        }
        let differs = witness::what_differs(&mine, &theirs).join(", ");
        tracing::warn!(
            height = theirs.height,
            proposer = %batch.proposer,
            "the proposer's {differs} for height {} differ from this node's: asking the voters",
            theirs.height
        );
        let mut tries = 0u32;
        loop {
            match self.witness.poll(&mine).await? {
                Verdict::Agreed => {
                    tracing::error!(
                        height = theirs.height,
                        proposer = %batch.proposer,
                        "DIVERGENT PROPOSER: {} computed another {differs} for height {}; a majority of the voters agree with this node, which goes on",
                        batch.proposer,
                        theirs.height
                    );
                    batch.attestation = None;
                    return Ok(());
                }
                Verdict::Outvoted { .. } | Verdict::NoMajority { complete: true } => return Ok(()),
                Verdict::NoMajority { complete: false } => {
                    tries += 1;
                    if tries % 20 == 1 {
                        tracing::warn!(
                            height = theirs.height,
                            "too few voters have answered to tell whose results are right; waiting before applying the next block"
                        );
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
            }
        }
    }
}

/// Builds a snapshot from a consistent view of the store.
pub struct SnapshotBuilder {
    db: Arc<StateDb>,
    dir: Arc<SnapshotDir>,
}

impl RaftSnapshotBuilder<PhrRaft> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<PhrRaft>, StorageError> {
        let (db, dir) = (self.db.clone(), self.dir.clone());
        let (meta, path) = tokio::task::spawn_blocking(move || -> Result<_, StorageError> {
            let tmp = dir.temp("building");
            let file = std::fs::File::create(&tmp).map_err(snap_err)?;
            let mut w = std::io::BufWriter::new(file);
            let info = db.export_snapshot(&mut w, &[MEMBERSHIP]).map_err(snap_err)?;
            // Flush (reporting a failed write, which dropping would swallow) and
            // put the file on disk before it is published.
            w.into_inner().map_err(|e| snap_err(e.error()))?.sync_all().map_err(snap_err)?;
            let last_log_id: Option<LogId> =
                if info.applied.orderer_position.is_empty() { None } else { Some(decode(&info.applied.orderer_position).map_err(snap_err)?) };
            let last_membership: Membership = match &info.raft_meta[0].1 {
                Some(b) => decode(b).map_err(snap_err)?,
                None => StoredMembership::default(),
            };
            let id = match &last_log_id {
                Some(l) => format!("{}-{}-h{}", l.leader_id.term, l.index, info.applied.height),
                None => format!("0-0-h{}", info.applied.height),
            };
            let meta = SnapshotMeta { last_log_id, last_membership, snapshot_id: id };
            dir.publish(&tmp, &meta).map_err(snap_err)?;
            let path = dir.bin(&meta.snapshot_id);
            tracing::info!(height = info.applied.height, bytes = info.bytes, id = %meta.snapshot_id, "built a snapshot");
            Ok((meta, path))
        })
        .await
        .map_err(snap_err)??;
        let file = tokio::fs::File::open(&path).await.map_err(snap_err)?;
        Ok(Snapshot { meta, snapshot: Box::new(file) })
    }
}

impl RaftStateMachine<PhrRaft> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        let applied = self.db.applied().map_err(sm_err)?;
        let position = match applied {
            Some(m) if !m.orderer_position.is_empty() => Some(decode(&m.orderer_position).map_err(sm_err)?),
            _ => None,
        };
        let membership = match self.db.raft_meta(MEMBERSHIP).map_err(sm_err)? {
            Some(b) => decode(&b).map_err(sm_err)?,
            None => StoredMembership::default(),
        };
        Ok((position, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let position = encode(&log_id);
            match entry.payload {
                EntryPayload::Normal(mut batch) => {
                    self.settle_attestation(&mut batch).await.map_err(sm_err)?;
                    let applier = self.applier.clone();
                    let height = tokio::task::spawn_blocking(move || applier.apply(batch, position))
                        .await
                        .map_err(sm_err)?
                        .map_err(|e| StorageError::from(StorageIOError::apply(log_id, AnyError::error(e))))?;
                    out.push(Applied { height: Some(height) });
                }
                EntryPayload::Membership(m) => {
                    let stored = StoredMembership::new(Some(log_id), m);
                    self.db.record_orderer_position(position, Some((MEMBERSHIP, &encode(&stored)))).map_err(sm_err)?;
                    out.push(Applied::default());
                }
                EntryPayload::Blank => {
                    self.db.record_orderer_position(position, None).map_err(sm_err)?;
                    out.push(Applied::default());
                }
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { db: self.db.clone(), dir: self.dir.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.dir.temp("receiving");
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(snap_err)?;
        if let Some(old) = self.receiving.replace(path) {
            let _ = std::fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, PeerNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        use tokio::io::AsyncWriteExt;
        let mut file = *snapshot;
        file.flush().await.map_err(snap_err)?;
        file.sync_all().await.map_err(snap_err)?;
        drop(file);
        let path = self.receiving.take().ok_or_else(|| snap_err("no snapshot was being received"))?;
        let (db, applier, dir, meta) = (self.db.clone(), self.applier.clone(), self.dir.clone(), meta.clone());
        tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
            let membership = encode(&meta.last_membership);
            let f = std::fs::File::open(&path).map_err(snap_err)?;
            let applied = db.import_snapshot(f, &[(MEMBERSHIP, &membership)]).map_err(snap_err)?;
            applier.reload().map_err(snap_err)?;
            dir.publish(&path, &meta).map_err(snap_err)?;
            tracing::info!(height = applied.height, id = %meta.snapshot_id, "installed a snapshot");
            Ok(())
        })
        .await
        .map_err(snap_err)?
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<PhrRaft>>, StorageError> {
        let Some((meta, path)) = self.dir.current().map_err(snap_err)? else { return Ok(None) };
        let file = tokio::fs::File::open(&path).await.map_err(snap_err)?;
        Ok(Some(Snapshot { meta, snapshot: Box::new(file) }))
    }
}
