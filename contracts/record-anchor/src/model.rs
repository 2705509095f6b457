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

/// A record as stored and as returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
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
