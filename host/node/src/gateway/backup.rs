//! Backing up a running node, and restoring one.
//!
//! A backup is a directory:
//!
//! - `state/`: a RocksDB checkpoint of the node's store — the chain (blocks,
//!   receipts, state, history, contract code), the Raft log and vote, and the
//!   applied height — consistent at one instant, taken while the node serves
//!   and commits;
//! - `records/`: a checkpoint of the record store — every record version held
//!   here, sealed, with its wrapped data key;
//! - `manifest.json`: node, chain, genesis hash, the height the checkpoint
//!   holds, when it was taken, and the SHA-256 and size of every file.
//!
//! It holds no key that opens anything: not the key-encryption key (without
//! which the records cannot be read: keep it apart, and back it up apart), not
//! the node's signing key, not its TLS key. A restore refuses a backup whose
//! manifest or files do not check out, or a data directory that is not empty,
//! and writes nothing then. A restored node catches up with the network when
//! it starts, and shreds every record the chain says was disposed of, before
//! it serves anything.

use crate::clock::now_ms;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{what}: {message}")]
    Io { what: String, message: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |e| BackupError::Io { what, message: e.to_string() }
}

/// `manifest.json` of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub node_id: String,
    pub chain_id: String,
    pub genesis_hash: String,
    /// The block the `state` checkpoint ends at.
    pub height: u64,
    pub block_hash: String,
    pub created_ms: u64,
    /// Every file, by path relative to the backup: (SHA-256, size).
    pub files: BTreeMap<String, (String, u64)>,
}

pub const FORMAT: &str = "phr-node-backup/v1";

fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> Result<(), BackupError> {
    for e in std::fs::read_dir(dir).map_err(io(dir.display().to_string()))? {
        let p = e.map_err(io(dir.display().to_string()))?.path();
        if p.is_dir() {
            walk(&p, base, out)?;
        } else {
            out.push(p.strip_prefix(base).expect("under base").to_path_buf());
        }
    }
    Ok(())
}

fn sha256_file(p: &Path) -> Result<(String, u64), BackupError> {
    use sha2::Digest;
    let mut f = std::fs::File::open(p).map_err(io(p.display().to_string()))?;
    let mut h = sha2::Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(io(p.display().to_string()))?;
    Ok((hex::encode(h.finalize()), n))
}

/// The files of the backup in `dir`, hashed.
pub fn inventory(dir: &Path) -> Result<BTreeMap<String, (String, u64)>, BackupError> {
    let mut files = Vec::new();
    for sub in ["state", "records"] {
        walk(&dir.join(sub), dir, &mut files)?;
    }
    let mut out = BTreeMap::new();
    for f in files {
        out.insert(f.display().to_string(), sha256_file(&dir.join(&f))?);
    }
    Ok(out)
}

/// Check a backup: its manifest parses, names this node and chain, and every
/// file it lists is there with its hash and size, and no other.
pub fn verify(dir: &Path, node_id: &str, chain_id: &str, genesis_hash: &str) -> Result<Manifest, BackupError> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| BackupError::Refused(format!("{} is not a backup: no manifest.json ({e})", dir.display())))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| BackupError::Refused(format!("manifest.json is not valid: {e}")))?;
    if m.format != FORMAT {
        return Err(BackupError::Refused(format!("backup format {:?}, expected {FORMAT:?}", m.format)));
    }
    if m.node_id != node_id || m.chain_id != chain_id || m.genesis_hash != genesis_hash {
        return Err(BackupError::Refused(format!(
            "the backup is of node {} on chain {} (genesis {}), not of node {node_id} on chain {chain_id}",
            m.node_id, m.chain_id, m.genesis_hash
        )));
    }
    let found = inventory(dir)?;
    for (path, (sha, size)) in &m.files {
        match found.get(path) {
            None => return Err(BackupError::Refused(format!("the backup is missing {path}"))),
            Some((s, n)) if s != sha || n != size => {
                return Err(BackupError::Refused(format!("{path} does not match the manifest: the backup is damaged")))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|p| !m.files.contains_key(*p)) {
        return Err(BackupError::Refused(format!("{extra} is not in the manifest")));
    }
    Ok(m)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(to).map_err(io(to.display().to_string()))?;
    for e in std::fs::read_dir(from).map_err(io(from.display().to_string()))? {
        let e = e.map_err(io(from.display().to_string()))?;
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).map_err(io(target.display().to_string()))?;
        }
    }
    Ok(())
}

/// Restore the verified backup in `from` into `data_dir`, which must not
/// exist or be empty: the state into `data_dir`, the records into
/// `data_dir/records`. Written into a sibling directory first and renamed
/// into place, so a failed restore leaves nothing.
pub fn restore(from: &Path, data_dir: &Path) -> Result<phr_executor::verify::StoreCheck, BackupError> {
    if data_dir.exists() {
        let empty = std::fs::read_dir(data_dir).map_err(io(data_dir.display().to_string()))?.next().is_none();
        if !empty {
            return Err(BackupError::Refused(format!(
                "{} is not empty: restore into a fresh data directory (nothing was overwritten)",
                data_dir.display()
            )));
        }
        std::fs::remove_dir(data_dir).map_err(io(data_dir.display().to_string()))?;
    }
    let parent = data_dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent.display().to_string()))?;
    let staging = parent.join(format!(
        ".restore-{}",
        data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let done = copy_tree(&from.join("state"), &staging)
        .and_then(|_| copy_tree(&from.join("records"), &staging.join("records")));
    // The copy is checked against its own hashes (every block, receipt and
    // root) before it takes the data directory's name.
    let checked = done.and_then(|_| {
        let db = phr_state::StateDb::open_read_only(&staging)
            .map_err(|e| BackupError::Refused(format!("the restored store does not open: {e}")))?;
        phr_executor::verify::verify_store(&db)
            .map_err(|e| BackupError::Refused(format!("the restored store does not check out: {e}")))
    });
    match checked {
        Ok(c) => {
            std::fs::rename(&staging, data_dir).map_err(io(data_dir.display().to_string()))?;
            Ok(c)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Back up the running `node` into `out` (which must not exist): checkpoints
/// of its store and its record store, and the manifest. The node keeps
/// serving and committing meanwhile.
pub fn create(node: &crate::runtime::Node, out: &Path) -> Result<Manifest, BackupError> {
    if out.exists() {
        return Err(BackupError::Refused(format!("{} exists already; back up into a new directory", out.display())));
    }
    std::fs::create_dir_all(out).map_err(io(out.display().to_string()))?;
    // A backup that failed half-way is not left to be mistaken for one.
    create_in(node, out).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(out);
    })
}

fn create_in(node: &crate::runtime::Node, out: &Path) -> Result<Manifest, BackupError> {
    let fail = |e: String| BackupError::Io { what: out.display().to_string(), message: e };
    node.exec.db().checkpoint(&out.join("state")).map_err(|e| fail(e.to_string()))?;
    node.gateway.store.checkpoint(&out.join("records")).map_err(|e| fail(e.to_string()))?;
    // What the state checkpoint holds, read from the copy itself.
    let applied = phr_state::StateDb::open_read_only(&out.join("state"))
        .and_then(|db| db.applied())
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("the checkpoint holds no chain".into()))?;
    let g = node.exec.genesis();
    let m = Manifest {
        format: FORMAT.to_string(),
        node_id: node.id.clone(),
        chain_id: g.chain_id.clone(),
        genesis_hash: g.hash().to_hex(),
        height: applied.height,
        block_hash: applied.block_hash.to_hex(),
        created_ms: now_ms(),
        files: inventory(out)?,
    };
    let text = serde_json::to_string_pretty(&m).expect("a manifest serializes");
    std::fs::write(out.join("manifest.json"), text).map_err(io("manifest.json"))?;
    tracing::info!(out = %out.display(), height = m.height, files = m.files.len(), "backed up the node");
    Ok(m)
}
