//! The anchored record and its version entries.

use phr_sdk::prelude::*;

/// Confidentiality codes (HL7 v3).
pub const LABELS: &[&str] = &["U", "L", "M", "N", "R", "V"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    Active,
    /// Shredded off chain: data and key destroyed, hashes kept here.
    Disposed,
}

/// Where a record came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub org: String,
    /// Identity id of the practitioner who wrote the current version.
    pub author: String,
    pub device: Option<String>,
}

/// A record as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub patient: String,
    pub sha256: String,
    pub class: String,
    pub security_label: String,
    pub source: Source,
    pub version: u32,
    pub status: RecordStatus,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub disposed_at_ms: Option<u64>,
}

/// A record as returned by the contract (the same fields; a separate type so the
/// stored shape can change without changing the interface).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    pub record_id: String,
    pub patient: String,
    pub sha256: String,
    pub class: String,
    pub security_label: String,
    pub source: Source,
    pub version: u32,
    pub status: RecordStatus,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub disposed_at_ms: Option<u64>,
}

impl From<&Record> for RecordView {
    fn from(r: &Record) -> Self {
        RecordView {
            record_id: r.id.clone(),
            patient: r.patient.clone(),
            sha256: r.sha256.clone(),
            class: r.class.clone(),
            security_label: r.security_label.clone(),
            source: r.source.clone(),
            version: r.version,
            status: r.status,
            created_at_ms: r.created_at_ms,
            updated_at_ms: r.updated_at_ms,
            disposed_at_ms: r.disposed_at_ms,
        }
    }
}

/// One link of a record's version chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: u32,
    /// `anchor`, `amend` or `dispose`.
    pub change: String,
    pub sha256: String,
    pub class: String,
    pub security_label: String,
    pub author: String,
    pub at_ms: u64,
    pub tx_id: String,
    pub reason: Option<String>,
}
