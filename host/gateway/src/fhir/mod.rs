//! The FHIR R5 views of the chain, for the REST facade at `/fhir`.
//!
//! Pure functions: each takes the JSON a contract returned (or a client's
//! request body) and gives a typed R5 resource of the `fhir-model` crate, or a
//! [`FhirError`] naming what was wrong. Nothing here reads the chain, the record
//! store or the network; the node's handlers call these and serve
//! [`to_json`]'s bytes as `application/fhir+json` ([`MEDIA_TYPE`]).
//!
//! | resource | from | function |
//! |---|---|---|
//! | `CapabilityStatement` | the node's base URL and version | [`capability_statement`] |
//! | `DocumentReference` | a record anchor (`record-anchor.get`) | [`document_reference`] |
//! | a new document | a client's `DocumentReference` create | [`parse_document_reference_create`] |
//! | (a check) | uploaded `application/fhir+json` content | [`validate_resource`] |
//! | `Consent` | a consent (`consent.list`) | [`consent()`] |
//! | `AuditEvent` | a disclosure entry (`access-grant.disclosures`) | [`audit_event()`] |
//! | `Patient` | an identity (`identity.get`) | [`patient()`] |
//! | `Bundle` | search results, `Patient/$everything` | [`bundle_searchset`], [`bundle_everything`] |
//! | `OperationOutcome` | an error | [`operation_outcome`], [`FhirError::outcome`] |
//!
//! Each function's module documents its mapping element by element.
//!
//! Conventions every mapping keeps:
//!
//! - **Ids.** Ledger ids become FHIR ids through [`to_fhir_id`], which is the
//!   identity for ids that are already valid FHIR ids (the gateway's own
//!   `stmarys-3fa1…`, identity ids, consent ids, slugs) and otherwise escapes
//!   each byte outside `[A-Za-z0-9-]` as `.HH`; [`from_fhir_id`] reverses it.
//!   See [`id`] for the exact rules.
//! - **References.** A party is referenced as `Practitioner/<identity id>`,
//!   `Patient/<identity id>` or `Organization/<org>`, always with the ledger's
//!   identifier beside it ([`IDENTITY_SYSTEM`], [`ORG_SYSTEM`]), since the facade
//!   serves no Practitioner or Organization resources. Nodes and devices are
//!   referenced by identifier only.
//! - **Times.** Block times (ms since 1970) become UTC instants with
//!   milliseconds.
//! - **Codes.** Security labels use HL7 v3 Confidentiality
//!   ([`CONFIDENTIALITY_SYSTEM`]), purposes HL7 v3 ActReason
//!   ([`ACT_REASON_SYSTEM`]), consent actions FHIR consentaction
//!   ([`CONSENT_ACTION_SYSTEM`]); data classes and roles, which are the ledger's
//!   own slugs, use [`CLASS_SYSTEM`] and [`ROLE_SYSTEM`].
//!
//! ```
//! use phr_gateway::fhir;
//! let record = serde_json::json!({
//!     "record_id": "stmarys/lab/2026-000123", "patient": "27".repeat(20), "sha256": "fa".repeat(32),
//!     "class": "lab", "security_label": "N",
//!     "source": {"org": "stmarys", "author": "02".repeat(20), "device": null},
//!     "version": 1, "status": "active", "created_at_ms": 1764000056789u64, "updated_at_ms": 1764000056789u64,
//!     "disposed_at_ms": null});
//! let doc = fhir::document_reference(&record, "https://node0.example/fhir").unwrap();
//! assert_eq!(doc.id.as_deref(), Some("stmarys.2Flab.2F2026-000123"));
//! assert_eq!(fhir::from_fhir_id("stmarys.2Flab.2F2026-000123").unwrap(), "stmarys/lab/2026-000123");
//! let json: serde_json::Value = serde_json::from_slice(&fhir::to_json(&doc).unwrap()).unwrap();
//! assert_eq!(json["resourceType"], "DocumentReference");
//! ```

pub mod audit_event;
pub mod bundle;
pub mod capability;
pub mod consent;
pub mod create;
pub mod document;
mod elements;
mod error;
pub mod id;
mod input;
pub mod outcome;
pub mod patient;
pub mod validate;

pub use audit_event::audit_event;
pub use bundle::{bundle_everything, bundle_searchset};
pub use capability::capability_statement;
pub use consent::consent;
pub use create::{parse_document_reference_create, NewDocument};
pub use document::document_reference;
pub use error::FhirError;
pub use fhir_model::r5::codes::{IssueSeverity, IssueType};
pub use fhir_model::r5::resources::Resource;
pub use id::{from_fhir_id, to_fhir_id};
pub use outcome::operation_outcome;
pub use patient::patient;
pub use validate::validate_resource;

use serde::Serialize;

/// The media type of every body the facade serves.
pub const MEDIA_TYPE: &str = "application/fhir+json";

/// Identifier system of record ids (`Record.record_id`).
pub const RECORD_SYSTEM: &str = "urn:phr-ledger:record";
/// Identifier system of identity ids (patients, practitioners, auditors, nodes).
pub const IDENTITY_SYSTEM: &str = "urn:phr-ledger:identity";
/// Identifier system of organisations (their slugs).
pub const ORG_SYSTEM: &str = "urn:phr-ledger:org";
/// Identifier system of node ids (`served_by`, `held_by`).
pub const NODE_SYSTEM: &str = "urn:phr-ledger:node";
/// Identifier system of devices (`source.device`).
pub const DEVICE_SYSTEM: &str = "urn:phr-ledger:device";
/// Identifier system of transaction ids.
pub const TX_SYSTEM: &str = "urn:phr-ledger:tx";
/// Identifier system of consent ids.
pub const CONSENT_SYSTEM: &str = "urn:phr-ledger:consent";
/// Identifier system of access ids (requests and grants).
pub const ACCESS_SYSTEM: &str = "urn:phr-ledger:access";
/// Code system of the ledger's data classes (`lab`, `imaging`, …).
pub const CLASS_SYSTEM: &str = "urn:phr-ledger:class";
/// Code system of the ledger's practitioner roles (`physician`, `emergency`, …).
pub const ROLE_SYSTEM: &str = "urn:phr-ledger:role";
/// Extension (valueString, 64 lowercase hex) carrying a record's SHA-256 on its
/// attachment: R5 `Attachment.hash` is SHA-1.
pub const SHA256_EXTENSION: &str = "urn:phr-ledger:sha256";
/// HL7 v3 Confidentiality: the security labels `U L M N R V`.
pub const CONFIDENTIALITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
/// HL7 v3 ActReason: the purposes of use (`TREAT`, `ETREAT`, `HCOMPL`, …).
pub const ACT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
/// FHIR consentaction: `collect access use disclose correct`.
pub const CONSENT_ACTION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentaction";

/// The JSON bytes of a resource, as served with [`MEDIA_TYPE`].
///
/// Fails only for a value JSON cannot carry (an instant past year 9999, which
/// no mapping here builds).
pub fn to_json<T: Serialize>(resource: &T) -> Result<Vec<u8>, FhirError> {
    serde_json::to_vec(resource).map_err(|e| FhirError::Internal(format!("serializing a FHIR resource: {e}")))
}
