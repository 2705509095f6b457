//! A client's `DocumentReference` create (`POST /fhir/DocumentReference`), read
//! into the record the gateway saves.
//!
//! What a create must carry, each refused with a message naming it:
//!
//! - a JSON R5 `DocumentReference` (every element known to R5), `status: current`;
//! - `subject`: the reference `Patient/<identity id>` (40 lowercase hex);
//! - exactly one `content`, whose `attachment` has a `contentType` (a media type
//!   `type/subtype`) and the content inline in `data` (base64, not empty); no
//!   `url` (the gateway holds the content); a `size`, if given, equal to the
//!   data's length; the SHA-256 extension ([`SHA256_EXTENSION`]), if given,
//!   equal to the data's digest;
//! - optionally the data class, as a coding of [`CLASS_SYSTEM`] in `type` or
//!   else `category` (a slug; default `document`), and the security label, as a
//!   coding of HL7 v3 Confidentiality in `securityLabel` (one of `U L M N R V`;
//!   default `N`). Codings of other systems (LOINC types, other labels) are
//!   allowed and ignored;
//! - content of type `application/fhir+json` must itself be an R5 resource
//!   ([`validate_resource`]).
//!
//! The resource's `id`, `author`, `custodian` and dates are the server's to set
//! and are ignored.

use fhir_model::r5::codes::{DocumentReferenceStatus, IssueType};
use fhir_model::r5::resources::{DocumentReference, Resource};
use fhir_model::r5::types::{CodeableConcept, ExtensionValue};
use fhir_model::ParsedReference;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::validate::{conforming, is_media_type, validate_resource};
use super::{FhirError, CLASS_SYSTEM, CONFIDENTIALITY_SYSTEM, SHA256_EXTENSION};

/// The data class of a document whose create names none.
pub const DEFAULT_CLASS: &str = "document";
/// The security label of a document whose create names none.
pub const DEFAULT_LABEL: &str = "N";

/// A document to save, as read from a create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDocument {
    /// The patient's identity id (40 lowercase hex).
    pub patient: String,
    /// The data class: a slug (1-40 of `a-z 0-9 -`).
    pub class: String,
    /// The HL7 v3 Confidentiality code: one of `U L M N R V`.
    pub security_label: String,
    /// The content's media type, as the client gave it.
    pub media_type: String,
    /// The content, decoded.
    pub bytes: Vec<u8>,
}

fn invalid(code: IssueType, message: impl Into<String>) -> FhirError {
    FhirError::invalid(code, message)
}

/// Read a create's body (JSON) into the document to save, or say precisely
/// what is wrong with it ([`FhirError::Invalid`]).
pub fn parse_document_reference_create(body: &[u8]) -> Result<NewDocument, FhirError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(IssueType::Structure, format!("the body is not JSON: {e}")))?;
    match value.get("resourceType").and_then(Value::as_str) {
        Some("DocumentReference") => {}
        Some(other) => {
            return Err(invalid(IssueType::Invalid, format!("expected a DocumentReference, got a {other}")));
        }
        None => return Err(invalid(IssueType::Structure, "the body is not a FHIR resource: it has no resourceType")),
    }
    let Resource::DocumentReference(doc) = conforming(&value)? else {
        return Err(FhirError::Internal("a DocumentReference read as another resource".into()));
    };
    if doc.status != DocumentReferenceStatus::Current {
        return Err(invalid(IssueType::Value, "status must be `current` for a new document"));
    }
    let patient = patient(&doc)?;
    let (media_type, bytes) = content(&doc)?;
    let class = class(&doc)?;
    let security_label = security_label(&doc)?;
    validate_resource(&media_type, &bytes)?;
    Ok(NewDocument { patient, class, security_label, media_type, bytes })
}

fn patient(doc: &DocumentReference) -> Result<String, FhirError> {
    let want = "subject must be the reference Patient/<identity id: 40 lowercase hex characters>";
    let reference = doc.subject.as_ref().and_then(|s| s.reference.as_deref());
    let Some(reference) = reference else {
        return Err(invalid(IssueType::Required, format!("{want}; it is missing")));
    };
    match ParsedReference::new(reference) {
        ParsedReference::Relative { resource_type: "Patient", id, version_id: None }
            if id.len() == 40 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(id.to_owned())
        }
        _ => Err(invalid(IssueType::Value, format!("{want}, not {reference:?}"))),
    }
}

fn content(doc: &DocumentReference) -> Result<(String, Vec<u8>), FhirError> {
    let contents: Vec<_> = doc.content.iter().flatten().collect();
    let [content] = contents[..] else {
        return Err(invalid(
            IssueType::Invalid,
            format!("content must have exactly one element, with the document inline; it has {}", contents.len()),
        ));
    };
    let a = &content.attachment;
    let Some(media_type) = a.content_type.clone() else {
        return Err(invalid(IssueType::Required, "content[0].attachment.contentType is required"));
    };
    if !is_media_type(&media_type) {
        return Err(invalid(
            IssueType::Value,
            format!("content[0].attachment.contentType {media_type:?} is not a media type type/subtype"),
        ));
    }
    if a.url.is_some() {
        return Err(invalid(
            IssueType::NotSupported,
            "content[0].attachment.url is not supported: send the document inline in attachment.data",
        ));
    }
    let bytes = match &a.data {
        Some(data) if !data.0.is_empty() => data.0.clone(),
        Some(_) => return Err(invalid(IssueType::Value, "content[0].attachment.data is empty")),
        None => {
            return Err(invalid(
                IssueType::Required,
                "content[0].attachment.data is required: the document, base64-encoded",
            ))
        }
    };
    if let Some(size) = &a.size {
        if u64::try_from(size.0).ok() != Some(bytes.len() as u64) {
            return Err(invalid(
                IssueType::Value,
                format!("content[0].attachment.size is {}, but data has {} bytes", size.0, bytes.len()),
            ));
        }
    }
    for e in a.extension.iter().filter(|e| e.url == SHA256_EXTENSION) {
        let digest = hex::encode(Sha256::digest(&bytes));
        match &e.value {
            Some(ExtensionValue::String(s)) if s.eq_ignore_ascii_case(&digest) => {}
            _ => {
                return Err(invalid(
                    IssueType::Value,
                    format!(
                        "content[0].attachment extension {SHA256_EXTENSION} does not match the data's SHA-256 {digest}"
                    ),
                ))
            }
        }
    }
    Ok((media_type, bytes))
}

/// The codes of `system` in `concepts`, without repeats.
fn codes<'a>(concepts: impl Iterator<Item = &'a CodeableConcept>, system: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = concepts.flat_map(|c| c.codes_with_system(system)).collect();
    out.dedup();
    out
}

fn class(doc: &DocumentReference) -> Result<String, FhirError> {
    let mut found = codes(doc.r#type.iter(), CLASS_SYSTEM);
    if found.is_empty() {
        found = codes(doc.category.iter().flatten(), CLASS_SYSTEM);
    }
    match found[..] {
        [] => Ok(DEFAULT_CLASS.to_owned()),
        [c] if !c.is_empty()
            && c.len() <= 40
            && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(c.to_owned())
        }
        [c] => Err(invalid(
            IssueType::Value,
            format!("the data class {c:?} ({CLASS_SYSTEM}) must be 1-40 characters of a-z, 0-9 and -"),
        )),
        _ => Err(invalid(IssueType::Value, format!("type or category names several data classes: {found:?}"))),
    }
}

fn security_label(doc: &DocumentReference) -> Result<String, FhirError> {
    let found = codes(doc.security_label.iter().flatten(), CONFIDENTIALITY_SYSTEM);
    match found[..] {
        [] => Ok(DEFAULT_LABEL.to_owned()),
        [l] if ["U", "L", "M", "N", "R", "V"].contains(&l) => Ok(l.to_owned()),
        [l] => Err(invalid(
            IssueType::CodeInvalid,
            format!("securityLabel {l:?} is not a confidentiality code (U, L, M, N, R or V)"),
        )),
        _ => Err(invalid(IssueType::Value, format!("securityLabel names several confidentiality codes: {found:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATIENT: &str = "277462f44e2ef118ac9f6ad219df8624b930d995";

    fn create() -> Value {
        json!({
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"},
                                {"system": CLASS_SYSTEM, "code": "lab"}]},
            "subject": {"reference": format!("Patient/{PATIENT}")},
            "securityLabel": [{"coding": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}]}],
            "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8="}}]
        })
    }

    fn parse(v: &Value) -> Result<NewDocument, FhirError> {
        parse_document_reference_create(&serde_json::to_vec(v).unwrap())
    }

    fn refused(v: &Value) -> String {
        let e = parse(v).unwrap_err();
        assert_eq!(e.http_status(), 400, "{e}");
        e.to_string()
    }

    #[test]
    fn accepts_a_good_create() {
        let d = parse(&create()).unwrap();
        assert_eq!(
            d,
            NewDocument {
                patient: PATIENT.into(),
                class: "lab".into(),
                security_label: "R".into(),
                media_type: "text/plain".into(),
                bytes: b"Hello".to_vec(),
            }
        );
    }

    #[test]
    fn defaults_and_category() {
        let mut v = create();
        v.as_object_mut().unwrap().remove("type");
        v.as_object_mut().unwrap().remove("securityLabel");
        assert_eq!(parse(&v).unwrap().class, DEFAULT_CLASS);
        assert_eq!(parse(&v).unwrap().security_label, DEFAULT_LABEL);
        v["category"] = json!([{"coding": [{"system": CLASS_SYSTEM, "code": "imaging"}]}]);
        assert_eq!(parse(&v).unwrap().class, "imaging");
        let digest = hex::encode(Sha256::digest(b"Hello"));
        v["content"][0]["attachment"]["size"] = json!("5");
        v["content"][0]["attachment"]["extension"] = json!([{"url": SHA256_EXTENSION, "valueString": digest}]);
        assert_eq!(parse(&v).unwrap().bytes, b"Hello");
    }

    #[test]
    fn refuses_bad_creates_precisely() {
        assert!(refused(&json!([1])).contains("no resourceType"));
        assert!(parse_document_reference_create(b"{not json").unwrap_err().to_string().contains("not JSON"));
        assert!(refused(&json!({"resourceType": "Patient"})).contains("expected a DocumentReference, got a Patient"));

        let mut v = create();
        v["subject"] = json!({"reference": "Patient/alice"});
        assert!(refused(&v).contains("subject must be the reference Patient/<identity id"));
        v.as_object_mut().unwrap().remove("subject");
        assert!(refused(&v).contains("it is missing"));

        let mut v = create();
        v["content"] = json!([]);
        assert!(refused(&v).contains("exactly one element"));
        let mut v = create();
        v["content"][0]["attachment"]["url"] = json!("http://elsewhere/doc");
        assert!(refused(&v).contains("attachment.url is not supported"));
        let mut v = create();
        v["content"][0]["attachment"].as_object_mut().unwrap().remove("data");
        assert!(refused(&v).contains("attachment.data is required"));
        let mut v = create();
        v["content"][0]["attachment"].as_object_mut().unwrap().remove("contentType");
        assert!(refused(&v).contains("contentType is required"));
        let mut v = create();
        v["content"][0]["attachment"]["contentType"] = json!("text");
        assert!(refused(&v).contains("is not a media type"));
        let mut v = create();
        v["content"][0]["attachment"]["size"] = json!("6");
        assert!(refused(&v).contains("size is 6, but data has 5 bytes"));
        let mut v = create();
        v["content"][0]["attachment"]["extension"] = json!([{"url": SHA256_EXTENSION, "valueString": "00"}]);
        assert!(refused(&v).contains("does not match the data's SHA-256"));

        let mut v = create();
        v["securityLabel"] = json!([{"coding": [{"system": CONFIDENTIALITY_SYSTEM, "code": "X"}]}]);
        assert!(refused(&v).contains("not a confidentiality code"));
        let mut v = create();
        v["type"] = json!({"coding": [{"system": CLASS_SYSTEM, "code": "Lab Results"}]});
        assert!(refused(&v).contains("must be 1-40 characters"));
        let mut v = create();
        v["status"] = json!("superseded");
        assert!(refused(&v).contains("status must be `current`"));
        let mut v = create();
        v["colour"] = json!("blue");
        assert!(refused(&v).contains("colour"));
        let mut v = create();
        v["content"][0]["attachment"]["contentType"] = json!("application/fhir+json");
        v["content"][0]["attachment"]["data"] = json!("eyJyZXNvdXJjZVR5cGUiOiAiTm9wZSJ9"); // {"resourceType": "Nope"}
        assert!(refused(&v).contains("Nope"));
    }
}
