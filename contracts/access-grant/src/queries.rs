//! Read-only views of accesses.

use crate::decide::still_permitted;
use crate::model::{AccessView, Status};
use crate::{by_patient_key, by_requester_key, load};
use phr_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    access_id: String,
}

pub fn get_access(a: IdArgs) -> Result<AccessView> {
    load(&a.access_id).map(|acc| AccessView::of(&acc, now_ms()))
}

#[derive(Serialize)]
pub struct AccessList {
    accesses: Vec<AccessView>,
}

fn list(prefix: &Key, status: Option<Status>) -> AccessList {
    let now = now_ms();
    let accesses = index_ids(prefix, 1000)
        .iter()
        .filter_map(|id| load(id).ok())
        .map(|acc| AccessView::of(&acc, now))
        .filter(|v| status.is_none_or(|s| v.effective_status == s))
        .collect();
    AccessList { accesses }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByPatientArgs {
    patient: String,
    #[serde(default)]
    status: Option<Status>,
}

pub fn list_by_patient(a: ByPatientArgs) -> Result<AccessList> {
    validate::identity_id("patient", &a.patient)?;
    Ok(list(&by_patient_key(&a.patient), a.status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByRequesterArgs {
    requester: String,
    #[serde(default)]
    status: Option<Status>,
}

pub fn list_by_requester(a: ByRequesterArgs) -> Result<AccessList> {
    validate::identity_id("requester", &a.requester)?;
    Ok(list(&by_requester_key(&a.requester), a.status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    grantee: String,
    patient: String,
    #[serde(default)]
    record_id: Option<String>,
    #[serde(default)]
    data_class: Option<String>,
}

#[derive(Serialize)]
pub struct CheckResult {
    allowed: bool,
    access_id: Option<String>,
    expires_at_ms: Option<u64>,
    break_glass: bool,
    reason: String,
}

/// Whether `grantee` holds a usable grant for the patient's record or data
/// class now: active, unexpired, and still permitted by consent if consent gave it.
pub fn check(a: CheckArgs) -> Result<CheckResult> {
    validate::identity_id("grantee", &a.grantee)?;
    validate::identity_id("patient", &a.patient)?;
    if a.record_id.is_none() && a.data_class.is_none() {
        return Err(Error::bad_request("name a `record_id` or a `data_class`"));
    }
    let now = now_ms();
    let mut last_refusal = None;
    for id in index_ids(&by_requester_key(&a.grantee), 1000) {
        let Ok(acc) = load(&id) else { continue };
        if acc.patient != a.patient || acc.status_at(now) != Status::Active {
            continue;
        }
        let covers = match (&acc.record_id, &a.record_id) {
            (Some(granted), Some(asked)) => granted == asked,
            (None, _) => a.data_class.as_deref().is_none_or(|c| c == acc.data_class),
            (Some(_), None) => false,
        };
        if !covers {
            continue;
        }
        match still_permitted(&acc) {
            Ok(()) => {
                return Ok(CheckResult {
                    allowed: true,
                    access_id: Some(acc.id.clone()),
                    expires_at_ms: acc.expires_at_ms,
                    break_glass: acc.break_glass,
                    reason: acc.decision_reason,
                })
            }
            Err(e) => last_refusal = Some(e.message),
        }
    }
    Ok(CheckResult {
        allowed: false,
        access_id: None,
        expires_at_ms: None,
        break_glass: false,
        reason: last_refusal.unwrap_or_else(|| "no active grant covers this access".to_string()),
    })
}
