//! A disclosure entry (the accounting of disclosures) as an R5 `AuditEvent`.
//!
//! | AuditEvent | from the entry |
//! |---|---|
//! | `id` | the first 40 hex of `tx_id`, `-`, the first 16 of `patient` (one transaction may log several patients) |
//! | `category` | DICOM 110106 Export for a record; 110112 Query for an auditor's read |
//! | `code` | `action`, in FHIR consentaction where it is one of its codes, with a sentence as text |
//! | `action` | `R` (every entry is a read) |
//! | `severity` | `informational`; `notice` for a break-glass read; `warning` for a failure |
//! | `recorded` | `recorded_at_ms` |
//! | `outcome` | audit-event-outcome `0` (success) or `4` (minor failure: refused), `detail` = `reason` |
//! | `authorization` | `purpose`, in HL7 v3 ActReason |
//! | `patient` | `Patient/<patient>` |
//! | `agent[0]` | the reader, `requestor: true`, type IRCP, role = `agent.role` in [`ROLE_SYSTEM`]: `Patient/<id>` for a patient (the kind `patient`, or the role `patient` of a refused patient), an auditor or an organisation's admin by identifier, else `Practitioner/<id>`; its organisation in `who.display` |
//! | `agent[1]` | the witnessing node (`witness`), when given: by identifier, type WIT, `requestor: false` |
//! | `source.observer` | the serving node (`served_by`), by identifier ([`NODE_SYSTEM`]) |
//! | `entity` | the record (`DocumentReference/<id>`, its security label, its data class) or the auditor's query; the ledger transaction; the authorising consent (`Consent/<id>`); the access grant |
//! | extension [`AUTHORIZATION_EXTENSION`] | `authorization`: parts `kind`, `access`, `consent`, `break-glass` |

use fhir_model::r5::codes::{AuditEventAction, AuditEventSeverity};
use fhir_model::r5::resources::{
    AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventEntityDetail, AuditEventEntityDetailValue,
    AuditEventOutcome, AuditEventSource,
};
use fhir_model::r5::types::{CodeableConcept, ExtensionValue, Reference};
use serde_json::Value;

use super::elements::{
    coding, complex_extension, concept, confidentiality, extension, instant, logical_reference, reference, text_concept,
};
use super::input::{self, Disclosure};
use super::{
    to_fhir_id, FhirError, ACCESS_SYSTEM, ACT_REASON_SYSTEM, CLASS_SYSTEM, CONSENT_ACTION_SYSTEM, CONSENT_SYSTEM,
    IDENTITY_SYSTEM, NODE_SYSTEM, RECORD_SYSTEM, ROLE_SYSTEM, TX_SYSTEM,
};

/// Complex extension on an AuditEvent: what authorised the read. Parts `kind`
/// (valueCode: `consent`, `patient-approval`, `break-glass`, `audit`,
/// `patient` or `none`), `access` (valueString, the access id), `consent`
/// (valueString, the consent id) and `break-glass` (valueBoolean).
pub const AUTHORIZATION_EXTENSION: &str = "urn:phr-ledger:authorization";

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const OUTCOME_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/audit-event-outcome";
const PARTICIPATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const SOURCE_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const CONSENT_ACTIONS: [&str; 5] = ["collect", "access", "use", "disclose", "correct"];

/// The AuditEvent of a disclosure entry (an element of
/// `access-grant.disclosures`, or of `record_access` / `record_audit`).
pub fn audit_event(entry: &Value) -> Result<AuditEvent, FhirError> {
    let d: Disclosure = input::parse("disclosure entry", entry)?;
    let audit = d.authorization.kind == "audit";
    let failed = d.outcome != "success";
    let break_glass = d.authorization.break_glass || d.authorization.kind == "break-glass";

    let category = if audit { (DCM, "110112", "Query") } else { (DCM, "110106", "Export") };
    let what = if audit {
        format!("auditor's read ({})", d.data_class)
    } else {
        format!("{} of record {}", d.action, d.record_id)
    };
    let mut code = CodeableConcept::builder().text(what);
    if CONSENT_ACTIONS.contains(&d.action.as_str()) {
        code = code.coding(vec![Some(coding(CONSENT_ACTION_SYSTEM, &d.action, None)?)]);
    }
    let severity = match (failed, break_glass) {
        (true, _) => AuditEventSeverity::Warning,
        (false, true) => AuditEventSeverity::Notice,
        (false, false) => AuditEventSeverity::Informational,
    };

    let mut agents = vec![Some(reader(&d)?)];
    if let Some(w) = &d.witness {
        agents.push(Some(
            AuditEventAgent::builder()
                .r#type(concept(PARTICIPATION_SYSTEM, "WIT", Some("witness"))?)
                .role(vec![Some(text_concept("the node that served the data and signed this entry")?)])
                .who(logical_reference(Some("Device"), IDENTITY_SYSTEM, w, Some(format!("node {}", d.served_by)))?)
                .requestor(false)
                .build()?,
        ));
    }
    let mut authorization = Vec::new();
    if !d.purpose.is_empty() {
        authorization.push(Some(concept(ACT_REASON_SYSTEM, &d.purpose, None)?));
    }

    let mut event = AuditEvent::builder()
        .id(id(&d)?)
        .extension(vec![authorization_extension(&d, break_glass)?])
        .category(vec![Some(concept(category.0, category.1, Some(category.2))?)])
        .code(code.build()?)
        .action(AuditEventAction::R)
        .severity(severity)
        .recorded(instant(d.recorded_at_ms)?)
        .outcome(outcome(&d, failed)?)
        .patient(reference("Patient", &d.patient, IDENTITY_SYSTEM)?)
        .agent(agents)
        .source(
            AuditEventSource::builder()
                .observer(logical_reference(Some("Device"), NODE_SYSTEM, &d.served_by, Some(d.served_by.clone()))?)
                .r#type(vec![Some(concept(SOURCE_TYPE_SYSTEM, "4", Some("Application Server"))?)])
                .build()?,
        )
        .entity(entities(&d)?);
    if !authorization.is_empty() {
        event = event.authorization(authorization);
    }
    Ok(event.build()?)
}

/// `<first 40 hex of tx_id>-<first 16 of patient>`: unique per entry, ≤ 57 characters.
fn id(d: &Disclosure) -> Result<String, FhirError> {
    let head = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    to_fhir_id(&format!("{}-{}", head(&d.tx_id, 40), head(&d.patient, 16)))
}

fn outcome(d: &Disclosure, failed: bool) -> Result<AuditEventOutcome, FhirError> {
    let code = if failed {
        coding(OUTCOME_SYSTEM, "4", Some("Minor failure"))?
    } else {
        coding(OUTCOME_SYSTEM, "0", Some("Success"))?
    };
    let mut o = AuditEventOutcome::builder().code(code);
    let detail = match (&d.reason, failed) {
        (Some(r), _) => Some(r.clone()),
        (None, true) => Some("refused".to_owned()),
        (None, false) => None,
    };
    if let Some(text) = detail {
        o = o.detail(vec![Some(text_concept(&text)?)]);
    }
    Ok(o.build()?)
}

/// The reader: who asked and was (or was not) served.
fn reader(d: &Disclosure) -> Result<AuditEventAgent, FhirError> {
    let a = &d.agent;
    let display = match &a.org {
        Some(org) => format!("{} ({org})", a.id),
        None => a.id.clone(),
    };
    let who: Reference = match (d.authorization.kind.as_str(), a.role.as_str()) {
        // A patient (served their own record, or refused another's).
        ("patient", _) | (_, "patient") => with_display(reference("Patient", &a.id, IDENTITY_SYSTEM)?, display),
        ("audit", _) | (_, "auditor") => {
            logical_reference(None, IDENTITY_SYSTEM, &a.id, Some(format!("auditor {display}")))?
        }
        // An organisation's admin: not a practitioner, and no resource the facade serves.
        (_, "admin") => logical_reference(None, IDENTITY_SYSTEM, &a.id, Some(format!("admin {display}")))?,
        _ => with_display(reference("Practitioner", &a.id, IDENTITY_SYSTEM)?, display),
    };
    Ok(AuditEventAgent::builder()
        .r#type(concept(PARTICIPATION_SYSTEM, "IRCP", Some("information recipient"))?)
        .role(vec![Some(concept(ROLE_SYSTEM, &a.role, None)?)])
        .who(who)
        .requestor(true)
        .build()?)
}

fn with_display(mut r: Reference, display: String) -> Reference {
    r.display = Some(display);
    r
}

fn entity(what: Reference, role: &str) -> Result<fhir_model::r5::resources::AuditEventEntityBuilder, FhirError> {
    Ok(AuditEventEntity::builder().what(what).role(text_concept(role)?))
}

fn entities(d: &Disclosure) -> Result<Vec<Option<AuditEventEntity>>, FhirError> {
    let mut out = Vec::new();
    if !d.record_id.is_empty() {
        let mut e = entity(reference("DocumentReference", &d.record_id, RECORD_SYSTEM)?, "record")?;
        if !d.security_label.is_empty() {
            e = e.security_label(vec![Some(confidentiality(&d.security_label)?)]);
        }
        if !d.data_class.is_empty() {
            e = e.detail(vec![Some(
                AuditEventEntityDetail::builder()
                    .r#type(text_concept("data class")?)
                    .value(AuditEventEntityDetailValue::CodeableConcept(concept(CLASS_SYSTEM, &d.data_class, None)?))
                    .build()?,
            )]);
        }
        out.push(Some(e.build()?));
    } else if !d.data_class.is_empty() {
        let what = Reference::builder().display(d.data_class.clone()).build()?;
        let detail = AuditEventEntityDetail::builder()
            .r#type(text_concept("query")?)
            .value(AuditEventEntityDetailValue::String(d.data_class.clone()))
            .build()?;
        out.push(Some(entity(what, "query read")?.detail(vec![Some(detail)]).build()?));
    }
    let tx = logical_reference(None, TX_SYSTEM, &d.tx_id, None)?;
    out.push(Some(entity(tx, "ledger transaction")?.build()?));
    if let Some(c) = &d.authorization.consent_id {
        out.push(Some(entity(reference("Consent", c, CONSENT_SYSTEM)?, "authorizing consent")?.build()?));
    }
    if !d.authorization.access_id.is_empty() {
        let access = logical_reference(None, ACCESS_SYSTEM, &d.authorization.access_id, None)?;
        out.push(Some(entity(access, "access grant")?.build()?));
    }
    Ok(out)
}

fn authorization_extension(d: &Disclosure, break_glass: bool) -> Result<fhir_model::r5::types::Extension, FhirError> {
    let a = &d.authorization;
    let mut parts = vec![extension("kind", ExtensionValue::Code(a.kind.clone()))?];
    if !a.access_id.is_empty() {
        parts.push(extension("access", ExtensionValue::String(a.access_id.clone()))?);
    }
    if let Some(c) = &a.consent_id {
        parts.push(extension("consent", ExtensionValue::String(c.clone()))?);
    }
    parts.push(extension("break-glass", ExtensionValue::Boolean(break_glass))?);
    complex_extension(AUTHORIZATION_EXTENSION, parts)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The example of docs/contracts.md (`record_access`).
    pub(crate) fn entry() -> Value {
        json!({
            "recorded_at_ms": 1764000234567u64,
            "tx_id": "1a599d6eacda199c535a646828268a086c6bb68a85c57a89ee7b6fd7afffa1aa",
            "patient": "277462f44e2ef118ac9f6ad219df8624b930d995",
            "agent": {"id": "bf93bddc6b055f84298318b466288d3e6ecffeae", "org": "northclinic", "role": "physician"},
            "record_id": "stmarys/lab/2026-000123",
            "data_class": "lab",
            "security_label": "N",
            "action": "access",
            "purpose": "TREAT",
            "authorization": {"kind": "consent", "access_id": "access-ea1a99a0c1a6664233645272",
                              "consent_id": "consent-431354a62c48acd3cef77081", "break_glass": false},
            "outcome": "success",
            "served_by": "node0",
            "witness": "9f0e2c1d3b4a59687766554433221100ffeeddcc"
        })
    }

    fn as_json(e: &Value) -> Value {
        serde_json::to_value(audit_event(e).unwrap()).unwrap()
    }

    #[test]
    fn a_disclosure() {
        let a = as_json(&entry());
        assert_eq!(a["resourceType"], "AuditEvent");
        assert_eq!(a["id"], "1a599d6eacda199c535a646828268a086c6bb68a-277462f44e2ef118");
        assert_eq!(a["category"][0]["coding"][0]["code"], "110106");
        assert_eq!(a["code"]["coding"][0], json!({"system": CONSENT_ACTION_SYSTEM, "code": "access"}));
        assert_eq!(a["action"], "R");
        assert_eq!(a["severity"], "informational");
        assert_eq!(a["recorded"], "2025-11-24T16:03:54.567Z");
        assert_eq!(a["outcome"]["code"]["code"], "0");
        assert!(a["outcome"].get("detail").is_none());
        assert_eq!(a["authorization"][0]["coding"][0], json!({"system": ACT_REASON_SYSTEM, "code": "TREAT"}));
        assert_eq!(a["patient"]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        let reader = &a["agent"][0];
        assert_eq!(reader["who"]["reference"], "Practitioner/bf93bddc6b055f84298318b466288d3e6ecffeae");
        assert_eq!(reader["who"]["display"], "bf93bddc6b055f84298318b466288d3e6ecffeae (northclinic)");
        assert_eq!(reader["role"][0]["coding"][0]["code"], "physician");
        assert_eq!(reader["requestor"], true);
        let witness = &a["agent"][1];
        assert_eq!(witness["requestor"], false);
        assert_eq!(witness["who"]["identifier"]["value"], "9f0e2c1d3b4a59687766554433221100ffeeddcc");
        assert_eq!(a["source"]["observer"]["identifier"], json!({"system": NODE_SYSTEM, "value": "node0"}));
        let entities = a["entity"].as_array().unwrap();
        assert_eq!(entities.len(), 4);
        assert_eq!(entities[0]["what"]["reference"], "DocumentReference/stmarys.2Flab.2F2026-000123");
        assert_eq!(entities[0]["securityLabel"][0]["coding"][0]["code"], "N");
        assert_eq!(entities[1]["what"]["identifier"]["system"], TX_SYSTEM);
        assert_eq!(entities[2]["what"]["reference"], "Consent/consent-431354a62c48acd3cef77081");
        assert_eq!(entities[3]["what"]["identifier"]["value"], "access-ea1a99a0c1a6664233645272");
        let ext = &a["extension"][0];
        assert_eq!(ext["url"], AUTHORIZATION_EXTENSION);
        assert_eq!(ext["extension"][0], json!({"url": "kind", "valueCode": "consent"}));
        assert_eq!(ext["extension"][3], json!({"url": "break-glass", "valueBoolean": false}));
    }

    #[test]
    fn a_refusal_a_break_glass_and_an_audit() {
        let mut e = entry();
        e["outcome"] = json!("failure");
        e["reason"] = json!("consent no longer permits access");
        e["authorization"] = json!({"kind": "none", "access_id": "", "consent_id": null, "break_glass": false});
        let a = as_json(&e);
        assert_eq!((a["outcome"]["code"]["code"].as_str(), a["severity"].as_str()), (Some("4"), Some("warning")));
        assert_eq!(a["outcome"]["detail"][0]["text"], "consent no longer permits access");
        assert_eq!(a["entity"].as_array().unwrap().len(), 2);

        let mut e = entry();
        e["agent"]["role"] = json!("emergency");
        e["purpose"] = json!("ETREAT");
        e["authorization"] =
            json!({"kind": "break-glass", "access_id": "access-1", "consent_id": null, "break_glass": true});
        let a = as_json(&e);
        assert_eq!(a["severity"], "notice");
        assert_eq!(a["extension"][0]["extension"][2], json!({"url": "break-glass", "valueBoolean": true}));

        let mut e = entry();
        e["agent"] = json!({"id": "aa".repeat(20), "org": null, "role": "auditor"});
        e["record_id"] = json!("");
        e["security_label"] = json!("");
        e["data_class"] = json!("consent.list");
        e["action"] = json!("read");
        e["purpose"] = json!("HCOMPL");
        e["authorization"] = json!({"kind": "audit", "access_id": "", "consent_id": null, "break_glass": false});
        let a = as_json(&e);
        assert_eq!(a["category"][0]["coding"][0]["code"], "110112");
        assert!(a["code"].get("coding").is_none());
        assert_eq!(a["code"]["text"], "auditor's read (consent.list)");
        assert!(a["agent"][0]["who"].get("reference").is_none());
        assert_eq!(a["entity"][0]["detail"][0]["valueString"], "consent.list");

        let mut e = entry();
        e["agent"] = json!({"id": e["patient"], "org": null, "role": "patient"});
        e["authorization"] = json!({"kind": "patient", "access_id": "", "consent_id": null, "break_glass": false});
        assert_eq!(as_json(&e)["agent"][0]["who"]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        // A patient refused someone else's record is still no practitioner.
        e["authorization"] = json!({"kind": "none", "access_id": "", "consent_id": null, "break_glass": false});
        e["agent"]["role"] = json!("patient");
        assert_eq!(as_json(&e)["agent"][0]["who"]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        e["agent"]["role"] = json!("admin");
        let who = &as_json(&e)["agent"][0]["who"];
        assert!(who.get("reference").is_none() && who["display"].as_str().unwrap().starts_with("admin "), "{who}");
    }
}
