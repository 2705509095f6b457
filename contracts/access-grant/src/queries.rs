//! Read-only views of accesses.

use crate::decide::still_permitted;
use crate::model::{Access, AccessView, Status};
use crate::{by_patient_key, by_requester_key, load, resolve_target};
use phr_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    access_id: String,
}

/// Whether the reader may see access `acc`: its patient, its requester, an
/// admin or privacy officer of the requester's organisation, or an auditor
/// (recorded).
fn may_read(r: &Reader, acc: &Access, what: &str) -> bool {
    r.is(&acc.patient)
        || r.is(&acc.requester.id)
        || acc.requester.org.as_deref().is_some_and(|o| r.officer_of(o))
        || r.audited(&acc.patient, what)
}

const WHO_READS_AN_ACCESS: &str =
    "only its patient, its requester, the admins and privacy officers of the requester's organisation, and auditors";

/// Read rule: see [`may_read`]; anyone else learns nothing, not even whether it exists.
pub fn get_access(a: IdArgs) -> Result<AccessView> {
    let r = reader();
    match load(&a.access_id) {
        Ok(acc) if may_read(&r, &acc, "access-grant.get") => Ok(AccessView::of(&acc, now_ms())),
        Err(e) if r.is_auditor() => Err(e),
        _ => Err(r.refuse("an access request or grant", WHO_READS_AN_ACCESS)),
    }
}

/// A page of accesses.
#[derive(Serialize)]
pub struct AccessList {
    accesses: Vec<AccessView>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// One page of the accesses listed under `index`: only those `keep` accepts
/// and (if given) whose status at the current block time is `status`. The
/// cursor never names an access the caller was not shown.
pub(crate) fn page(
    index: &Key,
    after: Option<&str>,
    limit: u32,
    status: Option<Status>,
    keep: impl Fn(&Access) -> bool,
) -> AccessList {
    let now = now_ms();
    let (accesses, next) = index_page_filtered(index, after, limit, |id| {
        let acc = load(id).ok().filter(|acc| keep(acc))?;
        let v = AccessView::of(&acc, now);
        status.is_none_or(|s| v.effective_status == s).then_some(v)
    });
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

/// Read rule: the patient, or an auditor (recorded).
pub fn list_by_patient(a: ByPatientArgs) -> Result<AccessList> {
    validate::identity_id("patient", &a.patient)?;
    reader().patient_or_auditor(&a.patient, "access-grant.list_by_patient")?;
    let limit = page_limit(a.limit, 100, 500)?;
    Ok(page(&by_patient_key(&a.patient), a.after.as_deref(), limit, a.status, |_| true))
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

/// Read rule: the requester; an admin or privacy officer of an organisation
/// (only the accesses its practitioners made); an auditor (each patient's
/// access recorded).
pub fn list_by_requester(a: ByRequesterArgs) -> Result<AccessList> {
    validate::identity_id("requester", &a.requester)?;
    let r = reader();
    let own = r.is(&a.requester);
    let officer_org = r.caller.org.clone().filter(|o| r.officer_of(o));
    if !own && officer_org.is_none() && !r.is_auditor() {
        return Err(r.refuse(
            "a practitioner's access requests",
            "only the practitioner, the admins and privacy officers of its organisation, and auditors",
        ));
    }
    let limit = page_limit(a.limit, 100, 500)?;
    Ok(page(&by_requester_key(&a.requester), a.after.as_deref(), limit, a.status, |acc| {
        own || (acc.requester.org.is_some() && acc.requester.org == officer_org)
            || r.audited(&acc.patient, "access-grant.list_by_requester")
    }))
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
///
/// Read rule: the grantee, the patient, an auditor (recorded), and
/// record-anchor deciding whether its caller may read a record.
pub fn check(a: CheckArgs) -> Result<CheckResult> {
    validate::identity_id("grantee", &a.grantee)?;
    validate::identity_id("patient", &a.patient)?;
    let r = reader();
    let privileged = r.is(&a.patient) || r.via("record-anchor") || r.audited(&a.patient, "access-grant.check");
    if !(privileged || r.is(&a.grantee)) {
        return Err(r.refuse("whether a grant covers an access", "only the grantee, the patient and auditors"));
    }
    // What is asked for: a record (its class and label looked up) or a class.
    // A grantee asking about a record it holds no grant for learns nothing of
    // it (whether it exists, whose it is, whether it was disposed).
    let (class, _) = match resolve_target(&a.patient, a.record_id.as_deref(), a.data_class.as_deref()) {
        Ok(t) => t,
        Err(e) if privileged || e.code == ErrorCode::BadRequest && a.record_id.is_none() => return Err(e),
        Err(_) => return Ok(not_allowed("no active grant covers this access".to_string())),
    };
    match usable_grant(&a.grantee, &a.patient, a.record_id.as_deref().unwrap_or(""), &class)? {
        Ok(acc) => Ok(CheckResult {
            allowed: true,
            access_id: Some(acc.id.clone()),
            expires_at_ms: acc.expires_at_ms,
            break_glass: acc.break_glass,
            reason: acc.decision_reason,
        }),
        Err(why) => Ok(not_allowed(why)),
    }
}

/// The first of `grantee`'s accesses (in access id order) that covers the
/// patient's record `record_id` (empty: none named) of `class` now: active,
/// unexpired, for that record or its class, and still permitted by consent if
/// consent gave it. Otherwise why not (the last consent refusal met, or that
/// no active grant covers it).
pub(crate) fn usable_grant(
    grantee: &str,
    patient: &str,
    record_id: &str,
    class: &str,
) -> Result<std::result::Result<Access, String>> {
    let now = now_ms();
    let mut last_refusal = None;
    let mut after: Option<String> = None;
    loop {
        let (ids, next) = index_page(&by_requester_key(grantee), after.as_deref(), 200);
        for id in ids {
            let Ok(acc) = load(&id) else { continue };
            if acc.patient != patient || acc.status_at(now) != Status::Active {
                continue;
            }
            let covers = match &acc.record_id {
                Some(granted) => !record_id.is_empty() && granted == record_id,
                None => acc.data_class == class,
            };
            if !covers {
                continue;
            }
            match still_permitted(&acc) {
                Ok(()) => return Ok(Ok(acc)),
                Err(e) => last_refusal = Some(e.message),
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(Err(last_refusal.unwrap_or_else(|| "no active grant covers this access".to_string())))
}

fn not_allowed(reason: String) -> CheckResult {
    CheckResult { allowed: false, access_id: None, expires_at_ms: None, break_glass: false, reason }
}
