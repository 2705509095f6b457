//! Break-glass: emergency access now, review later.

use crate::model::{Access, AccessView, AuthKind, Authorization, Requester, Review, ReviewStatus, Status};
use crate::queries::AccessList;
use crate::{insert, load, new_id, open_review_key, resolve_target, update_and_emit, BREAK_GLASS_WINDOW_MS};
use phr_sdk::prelude::*;

/// The role a practitioner needs to break the glass.
pub const EMERGENCY_ROLE: &str = "emergency";
/// The role that reviews break-glass accesses of its organisation.
pub const REVIEWER_ROLE: &str = phr_sdk::reads::PRIVACY_OFFICER_ROLE;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassArgs {
    patient: String,
    #[serde(default)]
    record_id: Option<String>,
    #[serde(default)]
    data_class: Option<String>,
    reason: String,
}

pub fn break_glass(a: BreakGlassArgs) -> Result<AccessView> {
    let (me, org) = caller().require_practitioner()?;
    let me = me.require_role(EMERGENCY_ROLE)?;
    validate::identity_id("patient", &a.patient)?;
    if a.reason.trim().is_empty() {
        return Err(Error::bad_request("break-glass needs a `reason`"));
    }
    validate::note("reason", &a.reason, 200)?;
    let (data_class, security_label) = resolve_target(&a.patient, a.record_id.as_deref(), a.data_class.as_deref())?;
    let now = now_ms();
    let access = Access {
        id: new_id(),
        patient: a.patient,
        requester: Requester::from(&me),
        record_id: a.record_id,
        data_class,
        security_label,
        purpose: "ETREAT".to_string(),
        action: "access".to_string(),
        status: Status::Active,
        break_glass: true,
        authorization: Some(Authorization { kind: AuthKind::BreakGlass, consent_id: None, provision: None }),
        decision_reason: format!("break-glass by a practitioner with the {EMERGENCY_ROLE} role"),
        reason: Some(a.reason),
        requested_at_ms: now,
        decided_at_ms: Some(now),
        expires_at_ms: Some(now + BREAK_GLASS_WINDOW_MS),
        duration_ms: BREAK_GLASS_WINDOW_MS,
        review: Some(Review { status: ReviewStatus::Open, reviewer: None, note: None, reviewed_at_ms: None }),
        request_tx: tx_id(),
        revoked_at_ms: None,
        revoked_tx: None,
    };
    insert(&access);
    put(&open_review_key(&org).part(&access.id), &());
    let view = AccessView::of(&access, now);
    let org_topic = format!("org:{org}");
    emit("access.break-glass", &[&access.patient, &access.requester.id, &org_topic], &view);
    Ok(view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewArgs {
    access_id: String,
    outcome: ReviewStatus,
    #[serde(default)]
    note: Option<String>,
}

pub fn review(a: ReviewArgs) -> Result<AccessView> {
    let me = caller();
    let mut access = load(&a.access_id)?;
    let org = access.requester.org.clone().unwrap_or_default();
    let may_review = match me.kind {
        CallerKind::Practitioner => me.in_org(&org) && me.has_role(REVIEWER_ROLE),
        CallerKind::OrgAdmin => me.in_org(&org),
        _ => false,
    };
    if !may_review {
        return Err(Error::unauthorized(format!(
            "only a {REVIEWER_ROLE} or the admin of {org} may review its break-glass accesses"
        )));
    }
    if me.id == access.requester.id {
        return Err(Error::unauthorized("nobody may review their own break-glass access"));
    }
    if a.outcome == ReviewStatus::Open {
        return Err(Error::bad_request("`outcome` must be justified or unjustified"));
    }
    if let Some(n) = &a.note {
        validate::note("note", n, 200)?;
    }
    match &access.review {
        Some(r) if r.status == ReviewStatus::Open => {}
        Some(_) => return Err(Error::conflict(format!("{} was reviewed already", access.id))),
        None => return Err(Error::bad_request(format!("{} is not a break-glass access", access.id))),
    }
    access.review =
        Some(Review { status: a.outcome, reviewer: Some(me.id), note: a.note, reviewed_at_ms: Some(now_ms()) });
    delete(&open_review_key(&org).part(&access.id));
    Ok(update_and_emit(&access, "access.reviewed"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenReviewsArgs {
    org: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// Break-glass accesses of an organisation still awaiting review, a page at a time.
///
/// Read rule: the admins and privacy officers of the organisation, and auditors
/// (each patient's access recorded).
pub fn open_reviews(a: OpenReviewsArgs) -> Result<AccessList> {
    validate::slug("org", &a.org)?;
    let r = reader();
    if !r.officer_of(&a.org) && !r.is_auditor() {
        return Err(r.refuse(
            "an organisation's break-glass accesses",
            "only the admins and privacy officers of that organisation, and auditors",
        ));
    }
    let limit = page_limit(a.limit, 100, 500)?;
    Ok(crate::queries::page(&open_review_key(&a.org), a.after.as_deref(), limit, None, |acc| {
        r.officer_of(&a.org) || r.audited(&acc.patient, "access-grant.open_reviews")
    }))
}
