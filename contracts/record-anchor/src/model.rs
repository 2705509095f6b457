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
    /// Identity id of who wrote the current version: a practitioner of `org`,
    /// or the patient for self-reported data.
    pub author: String,
    pub device: Option<String>,
    /// The patient saved it themself (a note, a home device's readings),
    /// through a node of `org` as gateway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub self_reported: bool,
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
    /// The node (gateway) holding the content, when saved through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The content's media type and size in bytes, when saved through a gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
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
