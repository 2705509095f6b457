//! Disclosures witnessed by a gateway: the node that holds a record decides
//! from the chain whether a requester may read it now, and the decision and
//! the disclosure (or the refusal) are logged in the same transaction, signed
//! by the node. The requester cannot skip the log: the node serves the content
//! only once this transaction committed saying so.

use crate::decide::evaluate_for;
use crate::model::{Agent, AuthKind, Disclosure, DisclosureAuth, Requester};
use crate::queries::usable_grant;
use crate::{record_info, RecordInfo};
use phr_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscloseArgs {
    /// Who asked, as the node resolved the signature of the request.
    requester: Requester,
    /// The requester's kind (`patient`, `practitioner`, `org-admin`, `auditor`).
    requester_kind: CallerKind,
    record_id: String,
    /// Purpose of use (HL7 v3), default `TREAT`.
    #[serde(default = "treat")]
    purpose: String,
    /// The node id serving the content.
    served_by: String,
}

fn treat() -> String {
    "TREAT".to_string()
}

/// The node's answer: whether to serve, and the entry logged.
#[derive(Serialize)]
pub struct Decision {
    /// `served`, `refused` or `gone` (the record was disposed of).
    outcome: &'static str,
    reason: String,
    entry: Disclosure,
    /// The anchor the content must match before it leaves the node.
    sha256: String,
    version: u32,
}

/// Decide a fetch of `record_id` by `requester` and log it, as the node that
/// holds the record. Allowed: the patient themself; the practitioner who wrote
/// the current version, of its organisation; a practitioner holding a
/// usable grant for the record (consent, patient approval or break-glass); a
/// practitioner a consent of the patient permits now for the purpose.
/// Everything else is refused, and logged as a refused disclosure.
pub fn disclose(a: DiscloseArgs) -> Result<Decision> {
    let (node, _org) = caller().require_node()?;
    a.requester.validate()?;
    validate::external_id("record_id", &a.record_id)?;
    validate::external_id("served_by", &a.served_by)?;
    validate::one_of("purpose", &a.purpose, crate::decide::PURPOSES)?;
    let rec: RecordInfo = record_info(&a.record_id)?;
    let (outcome, reason, auth) = decide(&a, &rec)?;
    let now = now_ms();
    let tx = tx_id();
    let entry = Disclosure {
        recorded_at_ms: now,
        tx_id: tx.clone(),
        patient: rec.patient.clone(),
        agent: Agent {
            id: a.requester.id.clone(),
            org: a.requester.org.clone(),
            role: match (&auth, a.requester.roles.first()) {
                (Some(d), _) if d.break_glass => crate::emergency::EMERGENCY_ROLE.to_string(),
                (_, Some(r)) => r.clone(),
                (_, None) => kind_word(a.requester_kind).to_string(),
            },
        },
        record_id: a.record_id.clone(),
        data_class: rec.class.clone(),
        security_label: rec.security_label.clone(),
        action: "access".to_string(),
        purpose: a.purpose.clone(),
        authorization: auth.clone().unwrap_or(DisclosureAuth {
            kind: AuthKind::None,
            access_id: String::new(),
            consent_id: None,
            break_glass: false,
        }),
        outcome: if outcome == "served" { "success" } else { "failure" }.to_string(),
        served_by: a.served_by.clone(),
        witness: Some(node.id.clone()),
        reason: (outcome != "served").then(|| reason.clone()),
    };
    put(&crate::disclosure::disclosure_prefix(&rec.patient).num(now).part(&tx), &entry);
    emit("access.disclosed", &[&rec.patient, &a.requester.id], &entry);
    Ok(Decision { outcome, reason, entry, sha256: rec.sha256, version: rec.version })
}

fn kind_word(k: CallerKind) -> &'static str {
    match k {
        CallerKind::Patient => "patient",
        CallerKind::Practitioner => "practitioner",
        CallerKind::OrgAdmin => "admin",
        CallerKind::Auditor => "auditor",
        CallerKind::Node => "node",
        CallerKind::Anonymous => "anonymous",
    }
}

/// The outcome, why, and what authorised it.
fn decide(a: &DiscloseArgs, rec: &RecordInfo) -> Result<(&'static str, String, Option<DisclosureAuth>)> {
    if rec.status == "disposed" {
        return Ok(("gone", format!("record {} was disposed of: its content is destroyed", a.record_id), None));
    }
    if a.requester_kind == CallerKind::Patient && a.requester.id == rec.patient {
        let auth =
            DisclosureAuth { kind: AuthKind::Patient, access_id: String::new(), consent_id: None, break_glass: false };
        return Ok(("served", "the patient reads their own record".to_string(), Some(auth)));
    }
    if a.requester_kind != CallerKind::Practitioner {
        return Ok((
            "refused",
            "only the patient and practitioners authorised by the chain read a record".into(),
            None,
        ));
    }
    if a.requester.id == rec.source.author && a.requester.org.as_deref() == Some(rec.source.org.as_str()) {
        let auth =
            DisclosureAuth { kind: AuthKind::Author, access_id: String::new(), consent_id: None, break_glass: false };
        return Ok(("served", "the practitioner who wrote it reads it back".to_string(), Some(auth)));
    }
    match usable_grant(&a.requester.id, &rec.patient, &a.record_id, &rec.class)? {
        Ok(acc) => {
            let auth = acc.authorization.clone().expect("active accesses are authorised");
            let d = DisclosureAuth {
                kind: auth.kind,
                access_id: acc.id.clone(),
                consent_id: auth.consent_id,
                break_glass: acc.break_glass,
            };
            Ok(("served", acc.decision_reason.clone(), Some(d)))
        }
        Err(grant_refusal) => {
            let e = evaluate_for(&a.requester, &rec.patient, &a.purpose, "access", &rec.class, &rec.security_label)?;
            if e.decision == "permit" {
                let d = DisclosureAuth {
                    kind: AuthKind::Consent,
                    access_id: String::new(),
                    consent_id: e.consent_id.clone(),
                    break_glass: false,
                };
                Ok(("served", e.reason, Some(d)))
            } else {
                Ok(("refused", format!("{grant_refusal}; and {}", e.reason), None))
            }
        }
    }
}
