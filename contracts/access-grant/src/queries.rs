//! Read-only views of accesses.

use crate::decide::still_permitted;
use crate::model::{AccessView, Status};
use crate::{by_patient_key, by_requester_key, load, resolve_target};
use phr_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    access_id: String,
}

pub fn get_access(a: IdArgs) -> Result<AccessView> {
    load(&a.access_id).map(|acc| AccessView::of(&acc, now_ms()))
}

/// A page of accesses.
#[derive(Serialize)]
pub struct AccessList {
    accesses: Vec<AccessView>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// One page of the accesses listed under `index`, optionally only those whose
/// status (at the current block time) is `status`. A filtered page may hold
/// fewer than `limit` accesses while `next` is still set.
pub(crate) fn page(index: &Key, after: Option<&str>, limit: u32, status: Option<Status>) -> AccessList {
    let now = now_ms();
    let (ids, next) = index_page(index, after, limit);
    let accesses = ids
        .iter()
        .filter_map(|id| load(id).ok())
        .map(|acc| AccessView::of(&acc, now))
        .filter(|v| status.is_none_or(|s| v.effective_status == s))
        .collect();
    AccessList { accesses, next }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByPatientArgs {
    patient: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub fn list_by_patient(a: ByPatientArgs) -> Result<AccessList> {
    validate::identity_id("patient", &a.patient)?;
    let limit = page_limit(a.limit, 100, 500)?;
    Ok(page(&by_patient_key(&a.patient), a.after.as_deref(), limit, a.status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByRequesterArgs {
    requester: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub fn list_by_requester(a: ByRequesterArgs) -> Result<AccessList> {
    validate::identity_id("requester", &a.requester)?;
    let limit = page_limit(a.limit, 100, 500)?;
    Ok(page(&by_requester_key(&a.requester), a.after.as_deref(), limit, a.status))
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
/// class now: active, unexpired, for that record or its class, the record not
/// disposed, and still permitted by consent if consent gave it.
pub fn check(a: CheckArgs) -> Result<CheckResult> {
    validate::identity_id("grantee", &a.grantee)?;
    validate::identity_id("patient", &a.patient)?;
    // What is asked for: a record (its class and label looked up) or a class.
    let (class, _) = resolve_target(&a.patient, a.record_id.as_deref(), a.data_class.as_deref())?;
    let now = now_ms();
    let mut last_refusal = None;
    let mut after: Option<String> = None;
    loop {
        let (ids, next) = index_page(&by_requester_key(&a.grantee), after.as_deref(), 200);
        for id in ids {
            let Ok(acc) = load(&id) else { continue };
            if acc.patient != a.patient || acc.status_at(now) != Status::Active {
                continue;
            }
            let covers = match (&acc.record_id, &a.record_id) {
                (Some(granted), Some(asked)) => granted == asked,
                (Some(_), None) => false,
                (None, _) => acc.data_class == class,
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
        match next {
            Some(n) => after = Some(n),
            None => break,
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
