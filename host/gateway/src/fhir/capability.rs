//! What the facade serves, as an R5 `CapabilityStatement` (`GET /fhir/metadata`).

use fhir_model::r5::codes::{
    CapabilityStatementKind, FHIRVersion, PublicationStatus, RestfulCapabilityMode, SearchParamType,
};
use fhir_model::r5::resources::{
    CapabilityStatement, CapabilityStatementImplementation, CapabilityStatementRest, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam, CapabilityStatementRestSecurity, CapabilityStatementSoftware,
};
use fhir_model::DateTime;

use super::elements::text_concept;
use super::FhirError;

/// The day the statement last changed: bump it with any change of what the
/// facade serves.
pub const CAPABILITIES_DATE: &str = "2026-12-04";

const SECURITY: &str = "Every request except `GET /fhir/metadata` is made as an enrolled identity: \
either signed with its key (HTTP Message Signatures, RFC 9421: `Signature-Input` and `Signature` \
over the method, path, query and `Content-Digest`) or carrying a session token \
(`Authorization: Bearer`, from `POST /v1/session`). The chain decides what each caller may read; \
every read of a patient's record is logged as a disclosure the patient sees.";

/// The CapabilityStatement of the facade at `base_url` (for example
/// `https://node0.example/fhir`), run by PHR Ledger `software_version`.
///
/// `kind: instance`, FHIR 5.0.0, JSON only, one REST server: DocumentReference
/// (read, search by `patient` with `_sort` and `_count`, create), Binary
/// (read), Consent and AuditEvent (search by `patient`), Patient
/// (`$everything`); the security section states how requests authenticate.
pub fn capability_statement(base_url: &str, software_version: &str) -> Result<CapabilityStatement, FhirError> {
    let base = base_url.trim_end_matches('/');
    let date: DateTime = CAPABILITIES_DATE
        .parse()
        .map_err(|e| FhirError::Internal(format!("CAPABILITIES_DATE {CAPABILITIES_DATE:?}: {e}")))?;
    let rest = CapabilityStatementRest::builder()
        .mode(RestfulCapabilityMode::Server)
        .documentation(
            "The FHIR R5 view of a PHR Ledger node: records, consents and the accounting of disclosures.".into(),
        )
        .security(
            CapabilityStatementRestSecurity::builder()
                .cors(false)
                .service(vec![
                    Some(text_concept("HTTP Message Signatures (RFC 9421), ECDSA secp256k1")?),
                    Some(text_concept("Session token (Authorization: Bearer)")?),
                ])
                .description(SECURITY.into())
                .build()?,
        )
        .resource(vec![
            Some(resource(
                "DocumentReference",
                &["read", "search-type", "create"],
                &[
                    ("patient", SearchParamType::Reference, "the patient: Patient/<identity id> or the id"),
                    ("_sort", SearchParamType::Special, "`date` or `-date`"),
                    ("_count", SearchParamType::Number, "results per page"),
                ],
                "A record anchored on the chain; create saves a document (inline attachment.data) through this node.",
            )?),
            Some(resource("Binary", &["read"], &[], "A record's content, served when the chain grants it.")?),
            Some(resource(
                "Consent",
                &["search-type"],
                &[("patient", SearchParamType::Reference, "the patient")],
                "The patient's consents.",
            )?),
            Some(resource(
                "AuditEvent",
                &["search-type"],
                &[("patient", SearchParamType::Reference, "the patient")],
                "The accounting of disclosures: every read of the patient's data.",
            )?),
            Some(
                CapabilityStatementRestResource::builder()
                    .r#type("Patient".into())
                    .documentation("The patient's identity; $everything gives all of the above for one patient.".into())
                    .operation(vec![Some(
                        CapabilityStatementRestResourceOperation::builder()
                            .name("everything".into())
                            .definition("http://hl7.org/fhir/OperationDefinition/Patient-everything".into())
                            .build()?,
                    )])
                    .build()?,
            ),
        ])
        .build()?;
    Ok(CapabilityStatement::builder()
        .url(format!("{base}/metadata"))
        .version(software_version.to_owned())
        .name("PHRLedgerFHIR".into())
        .title("PHR Ledger FHIR R5 facade".into())
        .status(PublicationStatus::Active)
        .date(date)
        .publisher("PHR Ledger".into())
        .description("The FHIR R5 REST facade of a PHR Ledger node.".into())
        .kind(CapabilityStatementKind::Instance)
        .software(
            CapabilityStatementSoftware::builder()
                .name("PHR Ledger".into())
                .version(software_version.to_owned())
                .build()?,
        )
        .implementation(
            CapabilityStatementImplementation::builder()
                .description("PHR Ledger node".into())
                .url(base.to_owned())
                .build()?,
        )
        .fhir_version(FHIRVersion::N500)
        .format(vec![Some("json".into())])
        .rest(vec![Some(rest)])
        .build()?)
}

fn resource(
    kind: &str,
    interactions: &[&str],
    params: &[(&str, SearchParamType, &str)],
    documentation: &str,
) -> Result<CapabilityStatementRestResource, FhirError> {
    Ok(CapabilityStatementRestResource::builder()
        .r#type(kind.to_owned())
        .documentation(documentation.to_owned())
        .interaction(
            interactions
                .iter()
                .map(|c| Ok(Some(CapabilityStatementRestResourceInteraction::builder().code((*c).to_owned()).build()?)))
                .collect::<Result<_, FhirError>>()?,
        )
        .search_param(
            params
                .iter()
                .map(|(name, t, doc)| {
                    Ok(Some(
                        CapabilityStatementRestResourceSearchParam::builder()
                            .name((*name).to_owned())
                            .r#type(*t)
                            .documentation((*doc).to_owned())
                            .build()?,
                    ))
                })
                .collect::<Result<_, FhirError>>()?,
        )
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_served() {
        let c = serde_json::to_value(capability_statement("https://node0.example/fhir/", "0.1.0").unwrap()).unwrap();
        assert_eq!(c["resourceType"], "CapabilityStatement");
        assert_eq!((c["kind"].as_str(), c["fhirVersion"].as_str()), (Some("instance"), Some("5.0.0")));
        assert_eq!(c["format"], serde_json::json!(["json"]));
        assert_eq!(c["implementation"]["url"], "https://node0.example/fhir");
        assert_eq!(c["software"]["version"], "0.1.0");
        let rest = &c["rest"][0];
        assert_eq!(rest["mode"], "server");
        assert!(rest["security"]["description"].as_str().unwrap().contains("RFC 9421"));
        let resources = rest["resource"].as_array().unwrap();
        let types: Vec<_> = resources.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["DocumentReference", "Binary", "Consent", "AuditEvent", "Patient"]);
        let doc = &resources[0];
        let codes: Vec<_> =
            doc["interaction"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["read", "search-type", "create"]);
        let params: Vec<_> =
            doc["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(params, ["patient", "_sort", "_count"]);
        assert_eq!(resources[4]["operation"][0]["name"], "everything");
        assert!(resources[1].get("searchParam").is_none());
    }
}
