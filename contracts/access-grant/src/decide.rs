//! Requests and the patient's decisions: request, approve, deny, revoke.

use crate::model::{Access, AccessView, AuthKind, Authorization, Requester, Status};
use crate::{insert, load, new_id, resolve_target, update_and_emit, DEFAULT_GRANT_MS, MAX_GRANT_MS};
use phr_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestArgs {
    patient: String,
    #[serde(default)]
    record_id: Option<String>,
    #[serde(default)]
    data_class: Option<String>,
    purpose: String,
    #[serde(default = "access_action")]
    action: String,
    #[serde(default)]
    duration_ms: Option<u64>,
    /// When no consent covers the request, ask the patient instead of denying.
    #[serde(default)]
    ask_patient: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// The purposes of use a request or a fetch may name (HL7 v3 PurposeOfUse),
/// as consent knows them.
pub(crate) const PURPOSES: &[&str] =
    &["TREAT", "ETREAT", "CAREMGT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH", "PATRQT", "FAMRQT", "HMARKT"];

/// What a grant may be for: reading data held elsewhere.
pub(crate) const READ_ACTIONS: &[&str] = &["access", "use", "disclose"];

fn access_action() -> String {
    "access".to_string()
}

/// The answer of consent.evaluate, as far as this contract needs it.
#[derive(Deserialize)]
pub(crate) struct Evaluation {
    pub decision: String,
    pub basis: String,
    pub consent_id: Option<String>,
    pub provision: Option<u32>,
    pub reason: String,
}

#[derive(Serialize)]
struct Actor<'a> {
    id: &'a str,
    org: &'a Option<String>,
    roles: &'a [String],
}

#[derive(Serialize)]
struct EvaluateArgs<'a> {
    patient: &'a str,
    actor: Actor<'a>,
    purpose: &'a str,
    data_class: &'a str,
    action: &'a str,
    security_label: &'a str,
}

/// Ask the consent contract whether `requester` may do `action` now.
fn evaluate(requester: &Requester, a: &Access) -> Result<Evaluation> {
    evaluate_for(requester, &a.patient, &a.purpose, &a.action, &a.data_class, &a.security_label)
}

/// Ask the consent contract whether `requester` may do `action` on the
/// patient's data of `data_class` and `security_label` now, for `purpose`.
pub(crate) fn evaluate_for(
    requester: &Requester,
    patient: &str,
    purpose: &str,
    action: &str,
    data_class: &str,
    security_label: &str,
) -> Result<Evaluation> {
    call(
        "consent",
        "evaluate",
        &EvaluateArgs {
            patient,
            actor: Actor { id: &requester.id, org: &requester.org, roles: &requester.roles },
            purpose,
            data_class,
            action,
            security_label,
        },
    )
}

/// Whether the consent that authorised `a` still permits it now. Grants given by
/// the patient or by break-glass do not depend on consent.
pub(crate) fn still_permitted(a: &Access) -> Result<()> {
    match &a.authorization {
        Some(auth) if auth.kind == AuthKind::Consent => {
            let e = evaluate(&a.requester, a)?;
            if e.decision == "permit" {
                Ok(())
            } else {
                Err(Error::denied(format!("consent no longer permits access {}: {}", a.id, e.reason)))
            }
        }
        _ => Ok(()),
    }
}

fn grant_duration(asked: Option<u64>) -> Result<u64> {
    match asked {
        None => Ok(DEFAULT_GRANT_MS),
        Some(0) => Err(Error::bad_request("`duration_ms` must be positive")),
        Some(d) if d > MAX_GRANT_MS => Err(Error::bad_request(format!("`duration_ms` may be at most {MAX_GRANT_MS}"))),
        Some(d) => Ok(d),
    }
}

pub fn request(a: RequestArgs) -> Result<AccessView> {
    let (me, _org) = caller().require_practitioner()?;
    validate::identity_id("patient", &a.patient)?;
    if a.purpose == "ETREAT" {
        return Err(Error::bad_request("emergency treatment goes through `break_glass`, not `request`"));
    }
    validate::one_of("action", &a.action, READ_ACTIONS)?;
    if let Some(r) = &a.reason {
        validate::note("reason", r, 200)?;
    }
    let duration_ms = grant_duration(a.duration_ms)?;
    let (data_class, security_label) = resolve_target(&a.patient, a.record_id.as_deref(), a.data_class.as_deref())?;
    let now = now_ms();
    let requester = Requester::from(&me);
    let mut access = Access {
        id: new_id(),
        patient: a.patient,
        requester: requester.clone(),
        record_id: a.record_id,
        data_class,
        security_label,
        purpose: a.purpose,
        action: a.action,
        status: Status::Pending,
        break_glass: false,
        authorization: None,
        decision_reason: String::new(),
        reason: a.reason,
        requested_at_ms: now,
        decided_at_ms: None,
        expires_at_ms: None,
        duration_ms,
        review: None,
        request_tx: tx_id(),
        revoked_at_ms: None,
        revoked_tx: None,
    };
    let e = evaluate(&requester, &access)?;
    access.decision_reason = e.reason;
    let event = if e.decision == "permit" {
        access.status = Status::Active;
        access.decided_at_ms = Some(now);
        access.expires_at_ms = Some(now + duration_ms);
        access.authorization =
            Some(Authorization { kind: AuthKind::Consent, consent_id: e.consent_id, provision: e.provision });
        "access.granted"
    } else if e.basis == "no-consent" && a.ask_patient {
        access.decision_reason = format!("{}; awaiting the patient's decision", access.decision_reason);
        "access.requested"
    } else {
        access.status = Status::Denied;
        access.decided_at_ms = Some(now);
        "access.denied"
    };
    insert(&access);
    Ok(update_and_emit(&access, event))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveArgs {
    access_id: String,
    #[serde(default)]
    duration_ms: Option<u64>,
}

/// Load an access and check that the caller is its patient.
fn load_as_patient(id: &str, what: &str) -> Result<Access> {
    let me = caller();
    let a = load(id)?;
    if me.kind != CallerKind::Patient || me.id != a.patient {
        return Err(Error::unauthorized(format!("only the patient of {id} may {what} it")));
    }
    Ok(a)
}

pub fn approve(a: ApproveArgs) -> Result<AccessView> {
    let mut access = load_as_patient(&a.access_id, "approve")?;
    if access.status != Status::Pending {
        return Err(Error::conflict(format!("{} is {}, not pending", access.id, access.status.name())));
    }
    let duration = match a.duration_ms {
        Some(_) => grant_duration(a.duration_ms)?,
        None => access.duration_ms,
    };
    let now = now_ms();
    access.status = Status::Active;
    access.decided_at_ms = Some(now);
    access.expires_at_ms = Some(now + duration);
    access.authorization = Some(Authorization { kind: AuthKind::PatientApproval, consent_id: None, provision: None });
    access.decision_reason = "approved by the patient".to_string();
    Ok(update_and_emit(&access, "access.approved"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyArgs {
    access_id: String,
    #[serde(default)]
    reason: Option<String>,
}

pub fn deny(a: DenyArgs) -> Result<AccessView> {
    let mut access = load_as_patient(&a.access_id, "deny")?;
    if access.status != Status::Pending {
        return Err(Error::conflict(format!("{} is not pending", access.id)));
    }
    if let Some(r) = &a.reason {
        validate::note("reason", r, 200)?;
    }
    access.status = Status::Denied;
    access.decided_at_ms = Some(now_ms());
    access.decision_reason = match a.reason {
        Some(r) => format!("denied by the patient: {r}"),
        None => "denied by the patient".to_string(),
    };
    Ok(update_and_emit(&access, "access.denied"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeArgs {
    access_id: String,
}

pub fn revoke(a: RevokeArgs) -> Result<AccessView> {
    let mut access = load_as_patient(&a.access_id, "revoke")?;
    if access.status_at(now_ms()) != Status::Active {
        return Err(Error::conflict(format!("{} is not an active grant", access.id)));
    }
    access.status = Status::Revoked;
    access.decision_reason = "revoked by the patient".to_string();
    access.revoked_at_ms = Some(now_ms());
    access.revoked_tx = Some(tx_id());
    Ok(update_and_emit(&access, "access.revoked"))
}
