//! A consent as an R5 `Consent`.
//!
//! | Consent | from the ledger's consent |
//! |---|---|
//! | `id`, `identifier` | `id` (as is; also in [`CONSENT_SYSTEM`]) |
//! | `meta.lastUpdated` | `revoked_at_ms`, else `created_at_ms` |
//! | `status` | `active`, or `inactive` once revoked |
//! | `category` | LOINC 59284-0 Patient Consent |
//! | `subject`, `grantor` | `Patient/<patient>` |
//! | `date` | the UTC day of `created_at_ms` |
//! | `period`, `provision.period` | `period` (the ledger's end is exclusive, FHIR's inclusive: the FHIR end is 1 ms earlier) |
//! | `policyBasis.url` | [`RULES_POLICY`]: the ledger's evaluation rules, which also combine a patient's consents |
//! | `decision` | `decision`, the base decision |
//! | extensions | [`CREATED_TX_EXTENSION`], [`REVOKED_AT_EXTENSION`], [`REVOKED_TX_EXTENSION`] |
//!
//! **Provisions.** The ledger's provisions carry a `type` (permit or deny);
//! R5's do not: an R5 provision is an *exception* to the base `decision`, and a
//! nested provision an exception to its parent, so each level reverses the one
//! above. The ledger evaluates with *deny overrides*: a matching deny provision
//! wins over any permit provision, which wins over the base decision. So:
//!
//! - a provision of the type opposite to the base decision is a top-level
//!   provision, in ledger order (under base `deny` the permits, under base
//!   `permit` the denies);
//! - under base `deny`, every deny provision is also nested in every top-level
//!   (permit) provision: within what a permit opens, a matching deny closes
//!   again, exactly as deny-overrides evaluates;
//! - a provision of the base decision's own type that this leaves without a
//!   place — a permit under base `permit`, a deny under base `deny` when the
//!   consent has no permits — does not change this consent's own decision, and
//!   R5 has no element for it. It still matters to the ledger (a deny overrides
//!   another consent's permit; a permit naming `V` or `R` opens data a base
//!   permit does not), so it is carried whole in a complex extension
//!   [`PROVISION_EXTENSION`] on the Consent (parts `index`, `type`, `actor`,
//!   `purpose`, `action`, `data-class`, `security-label`, `period`).
//!
//! Every R5 provision carries [`PROVISION_INDEX_EXTENSION`] (its index in the
//! ledger's list, as `consent.evaluate` names it) and
//! [`PROVISION_TYPE_EXTENSION`] (its ledger type). Inside a provision:
//! `actor` with role `IRCP` (information recipient, the grantee) and the
//! reference `Practitioner/<id>` or `Organization/<org>`, or, for a role actor,
//! no reference and the role as a code of [`ROLE_SYSTEM`]; `purpose` in
//! HL7 v3 ActReason; `action` in FHIR consentaction; `securityLabel` in HL7 v3
//! Confidentiality; `documentType` the data classes, in [`CLASS_SYSTEM`] (the
//! `type` of the DocumentReferences). An empty ledger list is an absent
//! element, which in R5 too matches anything.
//!
//! What R5 cannot say and [`RULES_POLICY`] governs: how several consents of a
//! patient combine (deny overrides across them), and that a base permit, or a
//! permit provision without labels, does not open very restricted (`V`) data
//! (nor, under rules version 2, restricted `R` data).

use fhir_model::r5::codes::{ConsentProvisionType, ConsentState};
use fhir_model::r5::resources::{Consent, ConsentPolicyBasis, ConsentProvision, ConsentProvisionActor};
use fhir_model::r5::types::{CodeableConcept, Extension, ExtensionValue};
use serde_json::Value;

use super::elements::{
    coding, complex_extension, concept, confidentiality_coding, date, extension, identifier, instant, meta, period,
    reference,
};
use super::input::{self, Actor, Provision};
use super::{
    to_fhir_id, FhirError, ACT_REASON_SYSTEM, CLASS_SYSTEM, CONSENT_ACTION_SYSTEM, CONSENT_SYSTEM, IDENTITY_SYSTEM,
    ORG_SYSTEM, ROLE_SYSTEM,
};

/// `policyBasis.url` of every consent: the ledger's evaluation rules.
pub const RULES_POLICY: &str = "urn:phr-ledger:consent-rules";
/// Extension (valueString) on a Consent: the transaction that created it.
pub const CREATED_TX_EXTENSION: &str = "urn:phr-ledger:created-tx";
/// Extension (valueInstant) on a revoked Consent: when it was revoked.
pub const REVOKED_AT_EXTENSION: &str = "urn:phr-ledger:revoked-at";
/// Extension (valueString) on a revoked Consent: the revoking transaction.
pub const REVOKED_TX_EXTENSION: &str = "urn:phr-ledger:revoked-tx";
/// Extension (valueUnsignedInt) on a provision: its index in the ledger's list.
pub const PROVISION_INDEX_EXTENSION: &str = "urn:phr-ledger:provision-index";
/// Extension (valueCode `permit` or `deny`) on a provision: its ledger type.
pub const PROVISION_TYPE_EXTENSION: &str = "urn:phr-ledger:provision-type";
/// Complex extension on a Consent: a provision R5's structure has no place for.
pub const PROVISION_EXTENSION: &str = "urn:phr-ledger:provision";

const PARTICIPATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const LOINC: &str = "http://loinc.org";

/// The R5 Consent of a ledger consent (an element of `consent.list`).
pub fn consent(consent: &Value) -> Result<Consent, FhirError> {
    let c: input::Consent = input::parse("consent", consent)?;
    let base_permit = c.decision == "permit";
    let indexed: Vec<(usize, &Provision)> = c.provisions.iter().enumerate().collect();
    let (same, opposite): (Vec<_>, Vec<_>) = indexed.iter().partition(|(_, p)| (p.kind == "permit") == base_permit);
    let nested_denies: Vec<ConsentProvision> = if base_permit {
        Vec::new()
    } else {
        same.iter().map(|(i, p)| provision(*i, p, Vec::new())).collect::<Result<_, _>>()?
    };
    let provisions = opposite
        .iter()
        .map(|(i, p)| Ok(Some(provision(*i, p, nested_denies.iter().cloned().map(Some).collect())?)))
        .collect::<Result<Vec<_>, FhirError>>()?;

    let mut extensions = vec![extension(CREATED_TX_EXTENSION, ExtensionValue::String(c.created_tx.clone()))?];
    if let Some(at) = c.revoked_at_ms {
        extensions.push(extension(REVOKED_AT_EXTENSION, ExtensionValue::Instant(instant(at)?))?);
    }
    if let Some(tx) = &c.revoked_tx {
        extensions.push(extension(REVOKED_TX_EXTENSION, ExtensionValue::String(tx.clone()))?);
    }
    if base_permit || opposite.is_empty() {
        for (i, p) in &same {
            extensions.push(unplaced(*i, p)?);
        }
    }

    let patient = reference("Patient", &c.patient, IDENTITY_SYSTEM)?;
    let mut out = Consent::builder()
        .id(to_fhir_id(&c.id)?)
        .meta(meta(None, c.revoked_at_ms.unwrap_or(c.created_at_ms))?)
        .extension(extensions)
        .identifier(vec![Some(identifier(CONSENT_SYSTEM, &c.id)?)])
        .status(if c.status == "active" { ConsentState::Active } else { ConsentState::Inactive })
        .category(vec![Some(concept(LOINC, "59284-0", Some("Patient Consent"))?)])
        .subject(patient.clone())
        .date(date(c.created_at_ms)?)
        .grantor(vec![Some(patient)])
        .policy_basis(ConsentPolicyBasis::builder().url(RULES_POLICY.to_owned()).build()?)
        .decision(if base_permit { ConsentProvisionType::Permit } else { ConsentProvisionType::Deny })
        .provision(provisions);
    if let Some(p) = &c.period {
        if let Some(p) = period(p.start_ms, p.end_ms)? {
            out = out.period(p);
        }
    }
    Ok(out.build()?)
}

/// One ledger provision as an R5 provision, with `nested` exceptions.
fn provision(
    index: usize,
    p: &Provision,
    nested: Vec<Option<ConsentProvision>>,
) -> Result<ConsentProvision, FhirError> {
    let mut out = ConsentProvision::builder()
        .extension(vec![
            extension(PROVISION_INDEX_EXTENSION, ExtensionValue::UnsignedInt(index_u32(index)))?,
            extension(PROVISION_TYPE_EXTENSION, ExtensionValue::Code(p.kind.clone()))?,
        ])
        .actor(p.actors.iter().map(|a| actor(a).map(Some)).collect::<Result<_, _>>()?)
        .action(p.actions.iter().map(|a| concept(CONSENT_ACTION_SYSTEM, a, None).map(Some)).collect::<Result<_, _>>()?)
        .security_label(
            p.security_labels.iter().map(|l| confidentiality_coding(l).map(Some)).collect::<Result<_, _>>()?,
        )
        .purpose(p.purposes.iter().map(|u| coding(ACT_REASON_SYSTEM, u, None).map(Some)).collect::<Result<_, _>>()?)
        .document_type(
            p.data_classes.iter().map(|d| coding(CLASS_SYSTEM, d, None).map(Some)).collect::<Result<_, _>>()?,
        )
        .provision(nested);
    if let Some(per) = &p.period {
        if let Some(per) = period(per.start_ms, per.end_ms)? {
            out = out.period(per);
        }
    }
    Ok(out.build()?)
}

fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

fn actor(a: &Actor) -> Result<ConsentProvisionActor, FhirError> {
    let grantee = || {
        let c = coding(PARTICIPATION_SYSTEM, "IRCP", Some("information recipient"))?;
        Ok::<_, FhirError>(CodeableConcept::builder().coding(vec![Some(c)]).text("grantee".into()).build()?)
    };
    Ok(match a.kind.as_str() {
        "practitioner" => ConsentProvisionActor::builder()
            .role(grantee()?)
            .reference(reference("Practitioner", &a.id, IDENTITY_SYSTEM)?)
            .build()?,
        "organization" => ConsentProvisionActor::builder()
            .role(grantee()?)
            .reference(reference("Organization", &a.id, ORG_SYSTEM)?)
            .build()?,
        _ => ConsentProvisionActor::builder()
            .role(concept(ROLE_SYSTEM, &a.id, Some(&format!("practitioners with the role {}", a.id)))?)
            .build()?,
    })
}

/// A provision without a place in R5's structure, as a complex extension.
fn unplaced(index: usize, p: &Provision) -> Result<Extension, FhirError> {
    let part = |url: &str, v: ExtensionValue| extension(url, v);
    let mut parts = vec![
        part("index", ExtensionValue::UnsignedInt(index_u32(index)))?,
        part("type", ExtensionValue::Code(p.kind.clone()))?,
    ];
    for a in &p.actors {
        parts.push(match a.kind.as_str() {
            "practitioner" => {
                part("actor", ExtensionValue::Reference(reference("Practitioner", &a.id, IDENTITY_SYSTEM)?))?
            }
            "organization" => part("actor", ExtensionValue::Reference(reference("Organization", &a.id, ORG_SYSTEM)?))?,
            _ => part("actor", ExtensionValue::CodeableConcept(concept(ROLE_SYSTEM, &a.id, None)?))?,
        });
    }
    for u in &p.purposes {
        parts.push(part("purpose", ExtensionValue::Coding(coding(ACT_REASON_SYSTEM, u, None)?))?);
    }
    for a in &p.actions {
        parts.push(part("action", ExtensionValue::Coding(coding(CONSENT_ACTION_SYSTEM, a, None)?))?);
    }
    for d in &p.data_classes {
        parts.push(part("data-class", ExtensionValue::Coding(coding(CLASS_SYSTEM, d, None)?))?);
    }
    for l in &p.security_labels {
        parts.push(part("security-label", ExtensionValue::Coding(confidentiality_coding(l)?))?);
    }
    if let Some(per) = &p.period {
        if let Some(per) = period(per.start_ms, per.end_ms)? {
            parts.push(part("period", ExtensionValue::Period(per))?);
        }
    }
    complex_extension(PROVISION_EXTENSION, parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The example of docs/contracts.md, with a deny provision added.
    pub(crate) fn ledger_consent() -> Value {
        json!({
            "id": "consent-431354a62c48acd3cef77081",
            "patient": "277462f44e2ef118ac9f6ad219df8624b930d995",
            "status": "active",
            "decision": "deny",
            "period": {"start_ms": 1764000000000u64, "end_ms": 1795536000000u64},
            "provisions": [
                {"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}],
                 "purposes": ["TREAT"], "actions": ["access"], "data_classes": ["lab", "imaging"],
                 "security_labels": [], "period": null},
                {"type": "deny", "actors": [{"kind": "practitioner", "id": "bf93bddc6b055f84298318b466288d3e6ecffeae"}],
                 "purposes": [], "actions": [], "data_classes": [], "security_labels": ["R", "V"], "period": null},
                {"type": "permit", "actors": [{"kind": "role", "id": "emergency"}], "purposes": ["ETREAT"],
                 "actions": [], "data_classes": [], "security_labels": [],
                 "period": {"start_ms": 1764000000000u64, "end_ms": null}}
            ],
            "created_at_ms": 1764000012345u64,
            "created_tx": "431354a62c48acd3cef7708192c851e620cd26bad15afb48afd95aa71f61d173",
            "revoked_at_ms": null,
            "revoked_tx": null
        })
    }

    fn as_json(c: &Value) -> Value {
        serde_json::to_value(consent(c).unwrap()).unwrap()
    }

    #[test]
    fn deny_base_with_permit_exceptions() {
        let c = as_json(&ledger_consent());
        assert_eq!(c["resourceType"], "Consent");
        assert_eq!(c["id"], "consent-431354a62c48acd3cef77081");
        assert_eq!(c["status"], "active");
        assert_eq!(c["decision"], "deny");
        assert_eq!(c["date"], "2025-11-24");
        assert_eq!(c["subject"]["reference"], "Patient/277462f44e2ef118ac9f6ad219df8624b930d995");
        assert_eq!(c["period"]["start"], "2025-11-24T16:00:00Z");
        assert_eq!(c["period"]["end"], "2026-11-24T15:59:59.999Z");
        assert_eq!(c["policyBasis"]["url"], RULES_POLICY);
        let p = c["provision"].as_array().unwrap();
        assert_eq!(p.len(), 2, "the two permits are the exceptions");
        assert_eq!(p[0]["extension"][0]["valueUnsignedInt"], 0);
        assert_eq!(p[0]["extension"][1]["valueCode"], "permit");
        assert_eq!(p[0]["actor"][0]["reference"]["reference"], "Organization/northclinic");
        assert_eq!(p[0]["actor"][0]["role"]["coding"][0]["code"], "IRCP");
        assert_eq!(p[0]["purpose"][0], json!({"system": ACT_REASON_SYSTEM, "code": "TREAT"}));
        assert_eq!(p[0]["action"][0]["coding"][0], json!({"system": CONSENT_ACTION_SYSTEM, "code": "access"}));
        assert_eq!(p[0]["documentType"][1], json!({"system": CLASS_SYSTEM, "code": "imaging"}));
        assert!(p[0].get("securityLabel").is_none());
        // The deny provision is nested in each permit: deny overrides.
        for permit in p {
            let nested = permit["provision"].as_array().unwrap();
            assert_eq!(nested.len(), 1);
            assert_eq!(nested[0]["extension"][0]["valueUnsignedInt"], 1);
            assert_eq!(nested[0]["extension"][1]["valueCode"], "deny");
            assert_eq!(nested[0]["securityLabel"][1]["code"], "V");
            assert_eq!(
                nested[0]["actor"][0]["reference"]["reference"],
                "Practitioner/bf93bddc6b055f84298318b466288d3e6ecffeae"
            );
        }
        assert_eq!(
            p[1]["actor"][0]["role"]["coding"][0],
            json!({"system": ROLE_SYSTEM, "code": "emergency",
                                                                  "display": "practitioners with the role emergency"})
        );
        assert!(p[1]["actor"][0].get("reference").is_none());
        assert_eq!(p[1]["period"]["start"], "2025-11-24T16:00:00Z");
        assert_eq!(c["extension"].as_array().unwrap().len(), 1, "only created-tx: every provision has its place");
    }

    #[test]
    fn permit_base_keeps_unplaced_permits_in_an_extension() {
        let mut l = ledger_consent();
        l["decision"] = json!("permit");
        l["status"] = json!("inactive");
        l["revoked_at_ms"] = json!(1764000099000u64);
        l["revoked_tx"] = json!("ab".repeat(32));
        l["period"] = json!(null);
        let c = as_json(&l);
        assert_eq!(c["status"], "inactive");
        assert_eq!(c["decision"], "permit");
        assert!(c.get("period").is_none());
        let p = c["provision"].as_array().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["extension"][1]["valueCode"], "deny");
        assert!(p[0].get("provision").is_none());
        let ext = c["extension"].as_array().unwrap();
        let urls: Vec<_> = ext.iter().map(|e| e["url"].as_str().unwrap()).collect();
        assert_eq!(
            urls,
            [
                CREATED_TX_EXTENSION,
                REVOKED_AT_EXTENSION,
                REVOKED_TX_EXTENSION,
                PROVISION_EXTENSION,
                PROVISION_EXTENSION
            ]
        );
        assert_eq!(ext[3]["extension"][0], json!({"url": "index", "valueUnsignedInt": 0}));
        assert_eq!(ext[3]["extension"][1], json!({"url": "type", "valueCode": "permit"}));
        assert_eq!(ext[3]["extension"][2]["valueReference"]["reference"], "Organization/northclinic");
        assert_eq!(ext[4]["extension"][2]["valueCodeableConcept"]["coding"][0]["code"], "emergency");
        assert_eq!(c["meta"]["lastUpdated"], "2025-11-24T16:01:39Z");
    }

    #[test]
    fn deny_base_without_permits() {
        let mut l = ledger_consent();
        l["provisions"] = json!([l["provisions"][1]]);
        let c = as_json(&l);
        assert!(c.get("provision").is_none());
        assert_eq!(c["extension"][1]["url"], PROVISION_EXTENSION);
        assert!(matches!(consent(&json!({"id": "x"})), Err(FhirError::Input { what: "consent", .. })));
    }
}
