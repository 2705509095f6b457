//! The node's record store: each version of a record sealed under its own data
//! key ([`crate::crypto`]), in the node's [`RecordDb`].
//!
//! A save is staged first (sealed content, wrapped key and metadata written
//! together, marked pending), then confirmed once its anchor committed on
//! chain, or abandoned (erased) if the anchor failed: a record is never
//! served without its anchor, and a failed save leaves nothing. Shredding
//! erases every version's wrapped key, ciphertext and metadata, and purges the
//! store's files of them.

use crate::crypto::{self, Kek, Sealed};
use phr_state::{RecordDb, StateError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record store: {0}")]
    State(#[from] StateError),
    #[error("record {0}: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    /// The version is held already: nothing is ever written over.
    #[error("record {0} version {1} is held here already")]
    Exists(String, u32),
}

/// Whether a stored version's anchor is on chain yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveState {
    /// Written here; its anchor is not committed (yet).
    Pending,
    /// Its anchor is committed.
    Stored,
}

/// What the store keeps beside a version's sealed content. Nothing here is
/// record content; the SHA-256 is the anchor's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub record_id: String,
    pub version: u32,
    pub patient: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
    pub state: SaveState,
    pub saved_at_ms: u64,
    /// While pending: the height after which its anchoring transaction can no
    /// longer commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_expiry_height: Option<u64>,
}

fn key(kind: &str, record_id: &str, version: u32) -> Vec<u8> {
    let mut k = format!("{kind}/{record_id}\0").into_bytes();
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn prefix(kind: &str, record_id: &str) -> Vec<u8> {
    format!("{kind}/{record_id}\0").into_bytes()
}

/// A confirmed version's metadata and content.
pub type Held = (Meta, Zeroizing<Vec<u8>>);

/// Sealed records of one node.
pub struct RecordStore {
    db: RecordDb,
    kek: Kek,
    /// Makes "is it held?" and the write of a stage one step.
    staging: parking_lot::Mutex<()>,
}

impl RecordStore {
    /// Open (or create) the store in `dir`, sealing under `kek`.
    pub fn open(dir: &Path, kek: Kek) -> Result<Self, StoreError> {
        Ok(RecordStore { db: RecordDb::open(dir)?, kek, staging: parking_lot::Mutex::new(()) })
    }

    /// Seal and write `content` as `meta` describes it, pending its anchor.
    /// A version held already (pending or stored) is never written over:
    /// [`StoreError::Exists`], and nothing changes.
    pub fn stage(&self, meta: &Meta, content: &[u8]) -> Result<(), StoreError> {
        let sealed = crypto::seal(&self.kek, &meta.record_id, meta.version, content);
        let m = Meta { state: SaveState::Pending, ..meta.clone() };
        let _one_at_a_time = self.staging.lock();
        if self.meta(&m.record_id, m.version)?.is_some() {
            return Err(StoreError::Exists(m.record_id, m.version));
        }
        self.db.write(&[
            (key("c", &m.record_id, m.version), Some(sealed.ciphertext)),
            (key("k", &m.record_id, m.version), Some(sealed.wrapped_key)),
            (key("m", &m.record_id, m.version), Some(serde_json::to_vec(&m).expect("meta serializes"))),
        ])?;
        Ok(())
    }

    /// The version's anchor committed: it may be served.
    pub fn confirm(&self, record_id: &str, version: u32) -> Result<(), StoreError> {
        let Some(mut m) = self.meta(record_id, version)? else {
            return Err(StoreError::Corrupt(record_id.into(), format!("version {version} is not staged")));
        };
        m.state = SaveState::Stored;
        self.db.write(&[(key("m", record_id, version), Some(serde_json::to_vec(&m).expect("meta serializes")))])?;
        Ok(())
    }

    /// The version's anchor failed: erase what was staged.
    pub fn abandon(&self, record_id: &str, version: u32) -> Result<(), StoreError> {
        let keys = ["c", "k", "m"].map(|k| key(k, record_id, version)).to_vec();
        Ok(self.db.erase(&keys)?)
    }

    /// A version's metadata, if this node holds it.
    pub fn meta(&self, record_id: &str, version: u32) -> Result<Option<Meta>, StoreError> {
        match self.db.get(&key("m", record_id, version))? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(record_id.into(), format!("metadata: {e}"))),
        }
    }

    /// Every version this node holds of `record_id`, oldest first.
    pub fn versions(&self, record_id: &str) -> Result<Vec<Meta>, StoreError> {
        self.db
            .scan_prefix(&prefix("m", record_id))?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(record_id.into(), format!("metadata: {e}")))
            })
            .collect()
    }

    /// Every version this node holds, of every record.
    pub fn all(&self) -> Result<Vec<Meta>, StoreError> {
        self.db
            .scan_prefix(b"m/")?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| {
                    StoreError::Corrupt(String::from_utf8_lossy(&k).into_owned(), format!("metadata: {e}"))
                })
            })
            .collect()
    }

    /// The content of a confirmed version (`None` if not held or not confirmed).
    pub fn read(&self, record_id: &str, version: u32) -> Result<Option<Held>, StoreError> {
        let Some(m) = self.meta(record_id, version)? else { return Ok(None) };
        if m.state != SaveState::Stored {
            return Ok(None);
        }
        let (Some(ciphertext), Some(wrapped_key)) =
            (self.db.get(&key("c", record_id, version))?, self.db.get(&key("k", record_id, version))?)
        else {
            return Err(StoreError::Corrupt(record_id.into(), format!("version {version} lost its content or key")));
        };
        let content = crypto::open(&self.kek, record_id, version, &Sealed { ciphertext, wrapped_key })?;
        Ok(Some((m, content)))
    }

    /// Destroy every version of `record_id`: keys, ciphertext and metadata,
    /// purged from the store's files. Returns how many versions were held.
    pub fn shred(&self, record_id: &str) -> Result<usize, StoreError> {
        let versions = self.versions(record_id)?;
        let mut keys = Vec::new();
        for m in &versions {
            for k in ["k", "c", "m"] {
                keys.push(key(k, record_id, m.version));
            }
        }
        if !keys.is_empty() {
            self.db.erase(&keys)?;
        }
        Ok(versions.len())
    }

    /// A consistent copy of the store (sealed; the KEK is not in it).
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StoreError> {
        Ok(self.db.checkpoint(dir)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, v: u32) -> Meta {
        Meta {
            record_id: id.into(),
            version: v,
            patient: "ab".repeat(20),
            media_type: "text/plain".into(),
            size: 5,
            sha256: "00".repeat(32),
            state: SaveState::Pending,
            saved_at_ms: 1,
            anchor_expiry_height: None,
        }
    }

    #[test]
    fn staged_versions_serve_only_once_confirmed_and_shredding_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = RecordStore::open(dir.path(), Kek::generate()).unwrap();
        s.stage(&meta("r/1", 1), b"PLAINTEXT-MARKER-1").unwrap();
        assert!(s.read("r/1", 1).unwrap().is_none(), "pending is not served");
        s.confirm("r/1", 1).unwrap();
        assert_eq!(s.read("r/1", 1).unwrap().unwrap().1.as_slice(), b"PLAINTEXT-MARKER-1");
        s.stage(&meta("r/1", 2), b"PLAINTEXT-MARKER-2").unwrap();
        s.confirm("r/1", 2).unwrap();
        s.stage(&meta("r/9", 1), b"abandoned").unwrap();
        s.abandon("r/9", 1).unwrap();
        assert!(s.meta("r/9", 1).unwrap().is_none());
        // A version held is never written over, staged or stored.
        s.stage(&meta("r/8", 1), b"first").unwrap();
        assert!(matches!(s.stage(&meta("r/8", 1), b"second"), Err(StoreError::Exists(..))));
        assert!(matches!(s.stage(&meta("r/1", 2), b"second"), Err(StoreError::Exists(..))));
        s.confirm("r/8", 1).unwrap();
        assert_eq!(s.read("r/8", 1).unwrap().unwrap().1.as_slice(), b"first");
        assert_eq!(s.shred("r/1").unwrap(), 2);
        assert!(s.read("r/1", 1).unwrap().is_none() && s.versions("r/1").unwrap().is_empty());
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap_or_default();
            assert!(!bytes.windows(9).any(|w| w == b"PLAINTEXT"), "no plaintext in any file");
        }
    }
}
