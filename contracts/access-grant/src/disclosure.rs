//! The disclosure log: every actual access to a patient's data.

use crate::decide::still_permitted;
use crate::model::{Agent, AuthKind, Disclosure, DisclosureAuth, Status};
use crate::{load, record_info, resolve_target};
use phr_sdk::prelude::*;

pub(crate) fn disclosure_prefix(patient: &str) -> Key {
    Key::new("disclosure").part(patient)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordAccessArgs {
    access_id: String,
    /// Required when the grant is for a data class rather than one record.
    #[serde(default)]
    record_id: Option<String>,
    /// The node id that served the data.
    served_by: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default = "success")]
    outcome: String,
}

fn success() -> String {
    "success".to_string()
}

/// Log that the grantee of `access_id` read a record. The grant must be active,
/// unexpired and (for a consent-based grant) still permitted by consent.
pub fn record_access(a: RecordAccessArgs) -> Result<Disclosure> {
    let me = caller();
    let access = load(&a.access_id)?;
    if me.id != access.requester.id {
        return Err(Error::unauthorized(format!("only the grantee of {} may use it", access.id)));
    }
    let now = now_ms();
    match access.status_at(now) {
        Status::Active => {}
        s => return Err(Error::denied(format!("{} is {}, not an active grant", access.id, s.name()))),
    }
    still_permitted(&access)?;
    validate::external_id("served_by", &a.served_by)?;
    validate::one_of("outcome", &a.outcome, &["success", "failure"])?;
    let action = a.action.unwrap_or_else(|| access.action.clone());
    validate::one_of("action", &action, &["access", "use", "disclose"])?;
    let record_id = match (&access.record_id, a.record_id) {
        (Some(granted), Some(asked)) if *granted != asked => {
            return Err(Error::denied(format!("{} covers record {granted}, not {asked}", access.id)))
        }
        (Some(granted), _) => {
            if record_info(granted)?.status == "disposed" {
                return Err(Error::denied(format!("record {granted} was disposed; there is nothing to disclose")));
            }
            granted.clone()
        }
        (None, Some(asked)) => {
            let (class, _) = resolve_target(&access.patient, Some(&asked), None)?;
            if class != access.data_class {
                return Err(Error::denied(format!(
                    "{} covers {} data, record {asked} is {class}",
                    access.id, access.data_class
                )));
            }
            asked
        }
        (None, None) => {
            return Err(Error::bad_request(format!("{} covers a data class: name the `record_id` read", access.id)))
        }
    };
    let auth = access.authorization.clone().expect("active accesses are authorised");
    let tx = tx_id();
    let entry = Disclosure {
        recorded_at_ms: now,
        tx_id: tx.clone(),
        patient: access.patient.clone(),
        // The role that authorised the access: `emergency` for break-glass.
        agent: Agent {
            id: me.id.clone(),
            org: me.org.clone(),
            role: if access.break_glass { crate::emergency::EMERGENCY_ROLE.to_string() } else { me.primary_role() },
        },
        record_id,
        data_class: access.data_class.clone(),
        security_label: access.security_label.clone(),
        action,
        purpose: access.purpose.clone(),
        authorization: DisclosureAuth {
            kind: auth.kind,
            access_id: access.id.clone(),
            consent_id: auth.consent_id,
            break_glass: access.break_glass,
        },
        outcome: a.outcome,
        served_by: a.served_by,
        witness: None,
        reason: None,
    };
    put(&disclosure_prefix(&access.patient).num(now).part(&tx), &entry);
    emit("access.disclosed", &[&access.patient, &me.id], &entry);
    Ok(entry)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordAuditArgs {
    /// The auditor who read.
    auditor: String,
    /// Whose data was read (1 to [`MAX_AUDITED_PATIENTS`]).
    patients: Vec<String>,
    /// What was read: the contract and query, for example `consent.list`.
    what: String,
    /// The node id that answered the auditor.
    served_by: String,
}

/// The purpose of use recorded for an auditor's read (HL7 v3 ActReason:
/// health compliance).
pub const AUDIT_PURPOSE: &str = "HCOMPL";

/// Most patients one `record_audit` names (one event each, within the
/// node's limit of events per transaction).
pub const MAX_AUDITED_PATIENTS: usize = 64;

/// Log that an auditor read the data of `patients` through a node: one entry
/// in each patient's accounting of disclosures. Only a node may call it: the
/// node that answers an auditor's query records the read on chain first, so
/// that the patient sees that an audit happened.
pub fn record_audit(a: RecordAuditArgs) -> Result<Vec<Disclosure>> {
    let (node, _org) = caller().require_node()?;
    validate::identity_id("auditor", &a.auditor)?;
    if a.patients.is_empty() || a.patients.len() > MAX_AUDITED_PATIENTS {
        return Err(Error::bad_request(format!("`patients` must name 1 to {MAX_AUDITED_PATIENTS} patients")));
    }
    for p in &a.patients {
        validate::identity_id("patients", p)?;
    }
    validate::external_id("served_by", &a.served_by)?;
    validate::note("what", &a.what, 100)?;
    let now = now_ms();
    let tx = tx_id();
    let mut out = Vec::with_capacity(a.patients.len());
    for patient in &a.patients {
        let entry = Disclosure {
            recorded_at_ms: now,
            tx_id: tx.clone(),
            patient: patient.clone(),
            agent: Agent { id: a.auditor.clone(), org: None, role: "auditor".to_string() },
            record_id: String::new(),
            data_class: a.what.clone(),
            security_label: String::new(),
            action: "read".to_string(),
            purpose: AUDIT_PURPOSE.to_string(),
            authorization: DisclosureAuth {
                kind: AuthKind::Audit,
                access_id: String::new(),
                consent_id: None,
                break_glass: false,
            },
            outcome: "success".to_string(),
            served_by: a.served_by.clone(),
            witness: Some(node.id.clone()),
            reason: None,
        };
        put(&disclosure_prefix(patient).num(now).part(&tx), &entry);
        emit("access.audited", &[patient, &a.auditor], &entry);
        out.push(entry);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosuresArgs {
    patient: String,
    /// Only disclosures recorded at or after this time.
    #[serde(default)]
    from_ms: Option<u64>,
    /// Only disclosures recorded before this time.
    #[serde(default)]
    to_ms: Option<u64>,
    /// Continue after this entry (the `next` of the previous page).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct Disclosures {
    patient: String,
    disclosures: Vec<Disclosure>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// A page cursor: the time and transaction of the last entry returned.
fn cursor(d: &Disclosure) -> String {
    format!("{}/{}", d.recorded_at_ms, d.tx_id)
}

/// The patient's disclosures in time order, within `[from_ms, to_ms)`, a page
/// at a time.
///
/// Read rule: the patient, or an auditor (recorded).
pub fn disclosures(a: DisclosuresArgs) -> Result<Disclosures> {
    validate::identity_id("patient", &a.patient)?;
    reader().patient_or_auditor(&a.patient, "access-grant.disclosures")?;
    let limit = page_limit(a.limit, 200, 500)?;
    let prefix = disclosure_prefix(&a.patient);
    let start = match &a.after {
        Some(c) => {
            let (ms, tx) = c
                .split_once('/')
                .and_then(|(ms, tx)| Some((ms.parse::<u64>().ok()?, tx)))
                .ok_or_else(|| Error::bad_request("`after` must be a cursor returned as `next`"))?;
            let mut k = prefix.clone().num(ms).part(tx).as_bytes().to_vec();
            k.push(0);
            k
        }
        None => prefix.clone().num(a.from_ms.unwrap_or(0)).as_bytes().to_vec(),
    };
    let end = match a.to_ms {
        Some(t) => prefix.clone().num(t),
        None => Key::from_bytes(prefix.prefix_end()),
    };
    let mut disclosures: Vec<Disclosure> =
        scan_range::<Disclosure>(&Key::from_bytes(start), &end, limit + 1).into_iter().map(|(_, d)| d).collect();
    let next = if disclosures.len() > limit as usize {
        disclosures.truncate(limit as usize);
        disclosures.last().map(cursor)
    } else {
        None
    };
    Ok(Disclosures { patient: a.patient, disclosures, next })
}
