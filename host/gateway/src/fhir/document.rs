//! A record anchor as an R5 `DocumentReference`.
//!
//! | DocumentReference | from the record |
//! |---|---|
//! | `id` | [`to_fhir_id`] of `record_id` |
//! | `meta.versionId`, `version` | `version` |
//! | `meta.lastUpdated`, `date` | `updated_at_ms` |
//! | `identifier` | [`RECORD_SYSTEM`] = `record_id` |
//! | `status` | `current` (the reference itself is never replaced or in error) |
//! | `docStatus` | `final` at version 1, `amended` after, `deprecated` once disposed |
//! | `type`, `category` | `class`, in [`CLASS_SYSTEM`] |
//! | `subject` | `Patient/<patient>` |
//! | `author` | `Practitioner/<source.author>`, or `Patient/<source.author>` when `source.self_reported`; then the `source.device`, by identifier ([`DEVICE_SYSTEM`]) |
//! | `custodian` | `Organization/<source.org>` |
//! | `securityLabel` | `security_label`, in HL7 v3 Confidentiality |
//! | `content[0].attachment` | `contentType` = `media_type` (else `application/octet-stream`), `size`, `url` = `<base>/Binary/<id>` while active, and the SHA-256 in the extension [`SHA256_EXTENSION`] |
//! | extension [`HELD_BY_EXTENSION`] | `held_by`: the node holding the content |
//!
//! **A disposed record** (content and key destroyed off chain, hashes kept)
//! stays `status: current` — the reference is still the true account of a
//! document that existed — and is marked so that no client can miss it:
//! `docStatus: deprecated`, the extension [`DISPOSED_EXTENSION`] with the
//! disposal instant, a `description` saying so, and no attachment `url` (there
//! is nothing left to fetch).

use fhir_model::r5::codes::{CompositionStatus, DocumentReferenceStatus};
use fhir_model::r5::resources::{DocumentReference, DocumentReferenceContent};
use fhir_model::r5::types::{Attachment, ExtensionValue, Reference};
use fhir_model::Integer64;
use serde_json::Value;

use super::elements::{self, concept, confidentiality, extension, identifier, instant, reference};
use super::input::{self, Record};
use super::{
    to_fhir_id, FhirError, CLASS_SYSTEM, DEVICE_SYSTEM, IDENTITY_SYSTEM, ORG_SYSTEM, RECORD_SYSTEM, SHA256_EXTENSION,
};

/// Extension (valueInstant) on a disposed record's DocumentReference: when its
/// content and key were destroyed.
pub const DISPOSED_EXTENSION: &str = "urn:phr-ledger:disposed";
/// Extension (valueString, a node id) naming the node that holds a record's content.
pub const HELD_BY_EXTENSION: &str = "urn:phr-ledger:held-by";
/// The media type of content whose type the record does not state.
pub const DEFAULT_MEDIA_TYPE: &str = "application/octet-stream";

/// The DocumentReference of a record anchor (`record-anchor.get`, one element
/// of `list_by_patient`), with content URLs under `base_url` (the facade's
/// base, for example `https://node0.example/fhir`).
pub fn document_reference(record: &Value, base_url: &str) -> Result<DocumentReference, FhirError> {
    let r: Record = input::parse("record", record)?;
    let id = to_fhir_id(&r.record_id)?;
    let disposed = r.status == "disposed";
    let class = concept(CLASS_SYSTEM, &r.class, None)?;

    let mut extensions = Vec::new();
    if let Some(node) = &r.held_by {
        extensions.push(extension(HELD_BY_EXTENSION, ExtensionValue::String(node.clone()))?);
    }
    let mut doc = DocumentReference::builder()
        .id(id.clone())
        .meta(elements::meta(Some(r.version.to_string()), r.updated_at_ms)?)
        .identifier(vec![Some(identifier(RECORD_SYSTEM, &r.record_id)?)])
        .version(r.version.to_string())
        .status(DocumentReferenceStatus::Current)
        .r#type(class.clone())
        .category(vec![Some(class)])
        .subject(reference("Patient", &r.patient, IDENTITY_SYSTEM)?)
        .date(instant(r.updated_at_ms)?)
        .author(authors(&r)?)
        .custodian(reference("Organization", &r.source.org, ORG_SYSTEM)?)
        .security_label(vec![Some(confidentiality(&r.security_label)?)])
        .content(vec![Some(DocumentReferenceContent::builder().attachment(attachment(&r, &id, base_url)?).build()?)]);
    if disposed {
        let at = r.disposed_at_ms.unwrap_or(r.updated_at_ms);
        extensions.push(extension(DISPOSED_EXTENSION, ExtensionValue::Instant(instant(at)?))?);
        let when = elements::instant_text(at)?;
        doc = doc.doc_status(CompositionStatus::Deprecated).description(format!(
            "Disposed at {when}: the content and its key were destroyed; the ledger keeps its SHA-256."
        ));
    } else if r.version > 1 {
        doc = doc.doc_status(CompositionStatus::Amended);
    } else {
        doc = doc.doc_status(CompositionStatus::Final);
    }
    Ok(doc.extension(extensions).build()?)
}

/// Who wrote the current version, then the device it came from.
fn authors(r: &Record) -> Result<Vec<Option<Reference>>, FhirError> {
    let kind = if r.source.self_reported { "Patient" } else { "Practitioner" };
    let mut out = vec![Some(reference(kind, &r.source.author, IDENTITY_SYSTEM)?)];
    if let Some(device) = &r.source.device {
        out.push(Some(elements::logical_reference(Some("Device"), DEVICE_SYSTEM, device, Some(device.clone()))?));
    }
    Ok(out)
}

fn attachment(r: &Record, id: &str, base_url: &str) -> Result<Attachment, FhirError> {
    let mut a = Attachment::builder()
        .content_type(r.media_type.clone().unwrap_or_else(|| DEFAULT_MEDIA_TYPE.to_owned()))
        .extension(vec![extension(SHA256_EXTENSION, ExtensionValue::String(r.sha256.clone()))?]);
    if let Some(size) = r.size.and_then(|s| i64::try_from(s).ok()) {
        a = a.size(Integer64(size));
    }
    if r.status != "disposed" {
        a = a.url(format!("{}/Binary/{id}", base_url.trim_end_matches('/')));
    }
    Ok(a.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn record() -> Value {
        json!({
            "record_id": "stmarys/lab/2026-000123",
            "patient": "277462f44e2ef118ac9f6ad219df8624b930d995",
            "sha256": "fa274a40096c91d390ac0e452fa497d7efa9f4ec61939dcd94448af45184a912",
            "class": "lab",
            "security_label": "N",
            "source": {"org": "stmarys", "author": "0218aeed2cb3e455dcede6ea67219a244760272f",
                       "device": "hematology-analyzer-7"},
            "version": 1,
            "status": "active",
            "created_at_ms": 1764000056789u64,
            "updated_at_ms": 1764000056789u64,
            "disposed_at_ms": null
        })
    }

    fn as_json(r: &Value) -> Value {
        serde_json::to_value(document_reference(r, "https://node0.example/fhir/").unwrap()).unwrap()
    }

    #[test]
    fn active_record() {
        let d = as_json(&record());
        assert_eq!(d["resourceType"], "DocumentReference");
        assert_eq!(d["id"], "stmarys.2Flab.2F2026-000123");
        assert_eq!(d["identifier"][0], json!({"system": RECORD_SYSTEM, "value": "stmarys/lab/2026-000123"}));
        assert_eq!(d["status"], "current");
        assert_eq!(d["docStatus"], "final");
        assert_eq!(d["version"], "1");
        assert_eq!(d["date"], "2025-11-24T16:00:56.789Z");
        assert_eq!(d["subject"]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        assert_eq!(d["author"][0]["reference"], "Practitioner/0218aeed2cb3e455dcede6ea67219a244760272f");
        assert_eq!(d["author"][1]["identifier"]["value"], "hematology-analyzer-7");
        assert_eq!(d["custodian"]["reference"], "Organization/stmarys");
        assert_eq!(d["type"]["coding"][0], json!({"system": CLASS_SYSTEM, "code": "lab"}));
        assert_eq!(d["category"][0]["coding"][0]["code"], "lab");
        assert_eq!(d["securityLabel"][0]["coding"][0]["code"], "N");
        let a = &d["content"][0]["attachment"];
        assert_eq!(a["contentType"], DEFAULT_MEDIA_TYPE);
        assert_eq!(a["url"], "https://node0.example/fhir/Binary/stmarys.2Flab.2F2026-000123");
        assert_eq!(a["extension"][0]["url"], SHA256_EXTENSION);
        assert_eq!(a["extension"][0]["valueString"], record()["sha256"]);
        assert!(d.get("extension").is_none() && d.get("description").is_none());
    }

    #[test]
    fn disposed_record_says_so() {
        let mut r = record();
        r["status"] = json!("disposed");
        r["version"] = json!(3);
        r["disposed_at_ms"] = json!(1764000099000u64);
        r["updated_at_ms"] = json!(1764000099000u64);
        let d = as_json(&r);
        assert_eq!(d["status"], "current");
        assert_eq!(d["docStatus"], "deprecated");
        assert_eq!(d["extension"][0], json!({"url": DISPOSED_EXTENSION, "valueInstant": "2025-11-24T16:01:39Z"}));
        assert!(d["description"].as_str().unwrap().starts_with("Disposed at 2025-11-24T16:01:39Z"));
        assert!(d["content"][0]["attachment"].get("url").is_none());
    }

    #[test]
    fn self_reported_gateway_record() {
        let mut r = record();
        r["record_id"] = json!("stmarys-3fa1c0d2e4");
        r["source"] = json!({"org": "stmarys", "author": r["patient"], "device": null, "self_reported": true});
        r["held_by"] = json!("node0");
        r["media_type"] = json!("application/pdf");
        r["size"] = json!(5123);
        r["version"] = json!(2);
        let d = as_json(&r);
        assert_eq!(d["id"], "stmarys-3fa1c0d2e4");
        assert_eq!(d["docStatus"], "amended");
        assert_eq!(d["author"].as_array().unwrap().len(), 1);
        assert_eq!(d["author"][0]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        assert_eq!(d["extension"][0], json!({"url": HELD_BY_EXTENSION, "valueString": "node0"}));
        let a = &d["content"][0]["attachment"];
        assert_eq!((a["contentType"].as_str(), a["size"].as_str()), (Some("application/pdf"), Some("5123")));
    }

    #[test]
    fn refuses_what_is_not_a_record() {
        let e = document_reference(&json!({"record_id": "x"}), "http://n/fhir").unwrap_err();
        assert!(matches!(e, FhirError::Input { what: "record", .. }), "{e}");
        let mut r = record();
        r["record_id"] = json!("a/".repeat(40));
        assert!(matches!(document_reference(&r, "http://n/fhir"), Err(FhirError::Unmappable(_))));
    }
}
