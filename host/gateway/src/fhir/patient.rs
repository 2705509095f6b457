//! An enrolled patient's identity as an R5 `Patient`.
//!
//! The ledger holds no demographics: the Patient is its identity id (`id`, and
//! `identifier` in [`IDENTITY_SYSTEM`]) and whether it may still act
//! (`active` = not revoked).

use fhir_model::r5::resources::Patient;
use serde_json::Value;

use super::elements::identifier;
use super::input::{self, Identity};
use super::{to_fhir_id, FhirError, IDENTITY_SYSTEM};

/// The Patient of an identity record (`identity.get`). An identity of another
/// kind (a practitioner, a node) is no patient: [`FhirError::NotFound`].
pub fn patient(identity: &Value) -> Result<Patient, FhirError> {
    let i: Identity = input::parse("identity", identity)?;
    if i.kind != "patient" {
        return Err(FhirError::NotFound(format!("identity {} is a {}, not a patient", i.id, i.kind)));
    }
    Ok(Patient::builder()
        .id(to_fhir_id(&i.id)?)
        .identifier(vec![Some(identifier(IDENTITY_SYSTEM, &i.id)?)])
        .active(!i.revoked)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn identity() -> Value {
        json!({"id": "277462f44e2ef118ac9f6ad219df8624b930d995", "public_key": "02".repeat(33), "kind": "patient",
               "org": null, "roles": [], "enrolled_at_height": 7, "enrolled_by": "277462f44e2ef118ac9f6ad219df8624b930d995",
               "revoked": false})
    }

    #[test]
    fn a_patient() {
        let p = serde_json::to_value(patient(&identity()).unwrap()).unwrap();
        assert_eq!(
            p,
            json!({"resourceType": "Patient", "id": "277462f44e2ef118ac9f6ad219df8624b930d995",
                   "identifier": [{"system": IDENTITY_SYSTEM, "value": "277462f44e2ef118ac9f6ad219df8624b930d995"}],
                   "active": true})
        );
        let mut revoked = identity();
        revoked["revoked"] = json!(true);
        assert_eq!(serde_json::to_value(patient(&revoked).unwrap()).unwrap()["active"], false);
        let mut doctor = identity();
        doctor["kind"] = json!("practitioner");
        assert_eq!(patient(&doctor).unwrap_err().http_status(), 404);
    }
}
