//! The disclosure log: every actual access to a patient's data.

use crate::decide::still_permitted;
use crate::model::{Agent, Disclosure, DisclosureAuth, Status};
use crate::{load, resolve_target};
use phr_sdk::prelude::*;

fn disclosure_prefix(patient: &str) -> Key {
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
        s => return Err(Error::denied(format!("{} is {s:?}, not an active grant", access.id).to_lowercase())),
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
        (Some(granted), _) => granted.clone(),
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
    };
    put(&disclosure_prefix(&access.patient).num(now).part(&tx), &entry);
    emit("access.disclosed", &[&access.patient, &me.id], &entry);
    Ok(entry)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosuresArgs {
    patient: String,
    #[serde(default)]
    from_ms: Option<u64>,
    #[serde(default)]
    to_ms: Option<u64>,
}

#[derive(Serialize)]
pub struct Disclosures {
    patient: String,
    disclosures: Vec<Disclosure>,
}

/// The patient's disclosures in time order, within `[from_ms, to_ms)` when given.
pub fn disclosures(a: DisclosuresArgs) -> Result<Disclosures> {
    validate::identity_id("patient", &a.patient)?;
    let from = a.from_ms.unwrap_or(0);
    let to = a.to_ms.unwrap_or(u64::MAX);
    let disclosures = scan_prefix::<Disclosure>(&disclosure_prefix(&a.patient), None, 1000)
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.recorded_at_ms >= from && d.recorded_at_ms < to)
        .collect();
    Ok(Disclosures { patient: a.patient, disclosures })
}
