//! The node as its organisation's gateway for health records.
//!
//! Records are saved, fetched, shredded and backed up through the node that
//! holds them, with the chain deciding who may read and recording who did:
//!
//! - [`save`]: a practitioner of this node's organisation (or a patient, for
//!   their own data) stores content here; it is sealed under a fresh key and
//!   anchored on chain (record-anchor, signed by this node for the author) as
//!   one operation: both happen or neither does.
//! - [`fetch`]: whoever asks any node for a record gets an answer from the node
//!   that holds it (requests for records held elsewhere are forwarded to their
//!   holder), which has the chain decide and log the disclosure (access-grant,
//!   signed by the holder as witness) before anything leaves the node, and
//!   checks the content against its anchor.
//! - [`shred`]: disposing of a record destroys its keys and content here, when
//!   the disposal commits and again at every start (a node restored from an
//!   older backup honours every disposal on chain).
//! - [`backup`]: a consistent copy of a running node, and its restore.

pub mod backup;
pub mod fetch;
pub mod forward;
pub mod save;
pub mod shred;

use phr_gateway::store::RecordStore;
use std::sync::Arc;

/// What the gateway keeps for one node.
pub struct Gateway {
    pub store: Arc<RecordStore>,
    /// Largest content accepted.
    pub max_bytes: usize,
    /// Patients may save their own data here.
    pub accept_patient_uploads: bool,
    /// Where backups are written, each in a new directory.
    pub backup_dir: std::path::PathBuf,
}

/// Media types the gateway stores.
pub const MEDIA_TYPES: &[&str] = &[
    "application/fhir+json",
    "application/pdf",
    "application/dicom",
    "application/json",
    "text/plain",
    "text/csv",
    "image/jpeg",
    "image/png",
];

/// The media type of a `Content-Type` header value, without parameters, if the
/// gateway stores it.
pub fn media_type(content_type: &str) -> Option<&'static str> {
    let base = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    MEDIA_TYPES.iter().copied().find(|m| *m == base)
}

/// Why a record's anchor could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// Every contract instance lent to clients is in use: the caller may retry.
    #[error("{0}")]
    Busy(String),
    /// The node could not run the query (a fault to log and report).
    #[error("{0}")]
    Fault(String),
}

impl From<AnchorError> for crate::api::ApiError {
    fn from(e: AnchorError) -> Self {
        match e {
            AnchorError::Busy(m) => Self::busy(m),
            AnchorError::Fault(m) => Self::internal(m),
        }
    }
}

/// The anchor of `record_id`, read as this node (consortium nodes hold the
/// chain): `None` if nothing is anchored under that id. A query on a node
/// whose client instances are all in use is `Busy` (503 to a client), not a fault.
pub fn anchor(node: &crate::runtime::Node, record_id: &str) -> Result<Option<serde_json::Value>, AnchorError> {
    let args = serde_json::json!({ "record_id": record_id }).to_string();
    let out = node.exec.query(Some(&node.key.public_key()), "record-anchor", "get", &args).map_err(|e| match e {
        phr_executor::QueryError::Busy(b) => AnchorError::Busy(b.to_string()),
        other => AnchorError::Fault(other.to_string()),
    })?;
    match out.result {
        phr_vm::CallResult::Ok(s) => serde_json::from_str(&s).map(Some).map_err(|e| AnchorError::Fault(e.to_string())),
        phr_vm::CallResult::Err { code, .. } if code == "not-found" || code == "bad-request" => Ok(None),
        other => Err(AnchorError::Fault(format!("record-anchor.get: {other:?}"))),
    }
}
