//! Whether uploaded content that claims to be FHIR is an R5 resource.

use std::str::FromStr;

use fhir_model::r5::codes::IssueType;
use fhir_model::r5::resources::{Resource, ResourceType};
use serde::Deserialize;
use serde_json::Value;

use super::id::is_fhir_id;
use super::FhirError;

/// Check content about to be saved as a record. Content of type
/// `application/fhir+json` (parameters such as `fhirVersion` allowed) must be
/// one JSON object that is an R5 resource: a `resourceType` that R5 defines, a
/// valid `id` if any, the structure and primitive types R5 gives it, and no
/// element R5 does not define. Any other media type is not checked.
///
/// The message of a refusal ([`FhirError::Invalid`]) names the problem and,
/// where it can, the element.
pub fn validate_resource(media_type: &str, bytes: &[u8]) -> Result<(), FhirError> {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence != "application/fhir+json" {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        FhirError::invalid(IssueType::Structure, format!("the application/fhir+json content is not JSON: {e}"))
    })?;
    conforming(&value).map(|_| ())
}

/// `value` as an R5 resource, if it is one (see [`validate_resource`]).
pub(crate) fn conforming(value: &Value) -> Result<Resource, FhirError> {
    let invalid = |code, message: String| FhirError::invalid(code, message);
    let Some(object) = value.as_object() else {
        return Err(invalid(IssueType::Structure, "FHIR content must be one JSON object, a resource".into()));
    };
    let Some(rt) = object.get("resourceType").and_then(Value::as_str) else {
        return Err(invalid(IssueType::Structure, "the content is not a FHIR resource: it has no resourceType".into()));
    };
    if ResourceType::from_str(rt).is_err() {
        return Err(invalid(IssueType::NotSupported, format!("{rt:?} is not an R5 resource type")));
    }
    if let Some(id) = object.get("id") {
        if !id.as_str().is_some_and(is_fhir_id) {
            return Err(invalid(IssueType::Value, format!("{rt}.id {id} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")));
        }
    }
    let resource = Resource::deserialize(value)
        .map_err(|e| invalid(IssueType::Structure, format!("the {rt} does not conform to R5: {e}")))?;
    let back = serde_json::to_value(&resource).map_err(|e| FhirError::Internal(format!("re-serializing: {e}")))?;
    if let Some((path, what)) = first_unknown(value, &back, rt.to_owned()) {
        return Err(invalid(IssueType::Structure, format!("{path} {what}")));
    }
    Ok(resource)
}

/// The first element of `orig` that did not survive reading into the R5 model
/// (`back`), with why: an element R5 does not define, or an empty one.
fn first_unknown(orig: &Value, back: &Value, path: String) -> Option<(String, &'static str)> {
    match (orig, back) {
        (Value::Object(o), Value::Object(b)) => o.iter().find_map(|(k, v)| {
            let here = format!("{path}.{k}");
            match b.get(k) {
                Some(bv) => first_unknown(v, bv, here),
                None if is_empty(v) => Some((here, "is empty: FHIR JSON has no null, empty arrays or empty objects")),
                None => Some((here, "is not an R5 element here")),
            }
        }),
        (Value::Array(o), Value::Array(b)) => o.iter().enumerate().find_map(|(i, v)| {
            let here = format!("{path}[{i}]");
            b.get(i).map_or(Some((here.clone(), "is not an R5 element here")), |bv| first_unknown(v, bv, here))
        }),
        _ => None,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Whether `s` is a media type: `type/subtype` of RFC 6838 names, then
/// optional `;` parameters, in printable ASCII.
pub(crate) fn is_media_type(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or_default().trim();
    let name = |x: &str| {
        !x.is_empty() && x.len() <= 127 && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    s.len() <= 255
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence.split_once('/').is_some_and(|(t, sub)| name(t) && name(sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FHIR: &str = "application/fhir+json; fhirVersion=5.0";

    fn check(v: Value) -> Result<(), FhirError> {
        validate_resource(FHIR, &serde_json::to_vec(&v).unwrap())
    }

    fn message(v: Value) -> String {
        let e = check(v).unwrap_err();
        assert_eq!(e.http_status(), 400);
        e.to_string()
    }

    #[test]
    fn accepts_r5_resources() {
        check(json!({"resourceType": "Observation", "id": "bp-1", "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                     "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
                     "_status": {"extension": [{"url": "urn:x", "valueString": "y"}]}}))
        .unwrap();
        check(json!({"resourceType": "Patient", "active": true})).unwrap();
        // Other media types are not checked.
        validate_resource("text/plain", b"not json").unwrap();
    }

    #[test]
    fn refuses_with_the_problem_named() {
        assert!(validate_resource(FHIR, b"{").unwrap_err().to_string().contains("not JSON"));
        assert!(message(json!([{"resourceType": "Patient"}])).contains("one JSON object"));
        assert!(message(json!({"active": true})).contains("no resourceType"));
        assert!(message(json!({"resourceType": "Medication2"})).contains("\"Medication2\" is not an R5 resource type"));
        // An R4 resource that R5 removed.
        assert!(message(json!({"resourceType": "MedicinalProduct"})).contains("not an R5 resource type"));
        assert!(message(json!({"resourceType": "Patient", "id": "a/b"})).contains("is not a FHIR id"));
        let m = message(json!({"resourceType": "Observation", "code": {"text": "x"}}));
        assert!(m.contains("Observation does not conform to R5") && m.contains("status"), "{m}");
        let m = message(json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                               "subject": {"reference": "Patient/1", "colour": "red"}}));
        assert_eq!(m, "Observation.subject.colour is not an R5 element here");
        let m = message(json!({"resourceType": "Patient", "name": []}));
        assert!(m.starts_with("Patient.name is empty"), "{m}");
        let m = message(json!({"resourceType": "Patient", "active": "yes"}));
        assert!(m.contains("Patient does not conform to R5"), "{m}");
    }

    #[test]
    fn media_types() {
        for ok in ["text/plain", "application/fhir+json; fhirVersion=5.0", "image/svg+xml", "application/vnd.ms-excel"]
        {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in ["text", "/plain", "text/", "text/plain\n", "tex t/plain", ""] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }
}
