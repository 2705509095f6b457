//! The JSON the contracts return, as this layer reads it.
//!
//! Mirrors of `record-anchor`'s `Record`, `consent`'s `Consent`,
//! `access-grant`'s `Disclosure` and the executor's `IdentityRecord`. Fields
//! added after the first version (`held_by`, `media_type`, `size`,
//! `source.self_reported`, `witness`, `reason`) are optional, and unknown fields
//! are ignored, so an older or newer chain still reads. Enumerations are kept as
//! strings: a value this layer does not know is shown, not refused.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::FhirError;

/// Read `value` as a `T`, naming `what` it should have been.
pub(crate) fn parse<T: DeserializeOwned>(what: &'static str, value: &Value) -> Result<T, FhirError> {
    T::deserialize(value).map_err(|e| FhirError::Input { what, message: e.to_string() })
}

#[derive(Debug, Deserialize)]
pub(crate) struct Record {
    pub record_id: String,
    pub patient: String,
    pub sha256: String,
    pub class: String,
    pub security_label: String,
    pub source: Source,
    pub version: u32,
    /// `active` or `disposed`.
    pub status: String,
    pub updated_at_ms: u64,
    #[serde(default)]
    pub disposed_at_ms: Option<u64>,
    #[serde(default)]
    pub held_by: Option<String>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Source {
    pub org: String,
    pub author: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub self_reported: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Consent {
    pub id: String,
    pub patient: String,
    /// `active` or `inactive`.
    pub status: String,
    /// `permit` or `deny`.
    pub decision: String,
    #[serde(default)]
    pub period: Option<Period>,
    #[serde(default)]
    pub provisions: Vec<Provision>,
    pub created_at_ms: u64,
    pub created_tx: String,
    #[serde(default)]
    pub revoked_at_ms: Option<u64>,
    #[serde(default)]
    pub revoked_tx: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Period {
    #[serde(default)]
    pub start_ms: Option<u64>,
    #[serde(default)]
    pub end_ms: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Provision {
    /// `permit` or `deny`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub actors: Vec<Actor>,
    #[serde(default)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub data_classes: Vec<String>,
    #[serde(default)]
    pub security_labels: Vec<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Actor {
    /// `practitioner`, `organization` or `role`.
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Disclosure {
    pub recorded_at_ms: u64,
    pub tx_id: String,
    pub patient: String,
    pub agent: Agent,
    /// Empty for an auditor's read.
    #[serde(default)]
    pub record_id: String,
    /// For an auditor's read, the query read (`consent.list`).
    #[serde(default)]
    pub data_class: String,
    #[serde(default)]
    pub security_label: String,
    pub action: String,
    #[serde(default)]
    pub purpose: String,
    pub authorization: Authorization,
    /// `success` or `failure`.
    pub outcome: String,
    pub served_by: String,
    #[serde(default)]
    pub witness: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Agent {
    pub id: String,
    #[serde(default)]
    pub org: Option<String>,
    pub role: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Authorization {
    /// `consent`, `patient-approval`, `break-glass`, `audit`, `patient` or `none`.
    pub kind: String,
    #[serde(default)]
    pub access_id: String,
    #[serde(default)]
    pub consent_id: Option<String>,
    #[serde(default)]
    pub break_glass: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Identity {
    pub id: String,
    /// `patient`, `practitioner`, `org-admin`, `auditor` or `node`.
    pub kind: String,
    #[serde(default)]
    pub revoked: bool,
}
