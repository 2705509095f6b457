//! consent: a patient's decisions about who may do what with their records.
//!
//! Shaped on FHIR R5 `Consent`: a base `decision` (permit or deny) and
//! `provisions` that are exceptions to it, each naming grantees (a practitioner,
//! an organisation or a role), purposes of use, actions, data classes, security
//! labels and a period. Only the patient creates and revokes their consents.
//! `evaluate` answers permit or deny for one access and names what decided it.
//!
//! Methods and their JSON are documented in `docs/contracts.md`.

mod evaluate;
mod model;

use model::{Consent, Decision, Period, Provision, Status};
use phr_sdk::prelude::*;

pub use evaluate::{EvaluateArgs, Evaluation};

/// The consent contract.
pub struct ConsentContract;

impl Contract for ConsentContract {
    fn invoke(method: &str, args: &str) -> Result<String> {
        Router::new(method, args).on("create", create).on("revoke", revoke).finish()
    }

    fn query(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("get", get_consent)
            .on("list", list)
            .on("evaluate", evaluate::evaluate)
            .on("rules", rules)
            .finish()
    }

    /// Record which rules the state has been served by since this upgrade.
    fn migrate(from_code_hash: &str) -> Result<()> {
        let m =
            Migration { rules: evaluate::RULES, from_code_hash: from_code_hash.to_string(), at_height: block_height() };
        put(&Key::new("meta").part("migration"), &m);
        Ok(())
    }
}

/// What the last `migrate` recorded.
#[derive(Serialize, Deserialize)]
struct Migration {
    rules: u32,
    from_code_hash: String,
    at_height: u64,
}

#[derive(Serialize)]
struct RulesInfo {
    /// The version of the evaluation rules this code implements.
    rules: u32,
    /// Security labels only a permit provision naming them opens.
    named_only_labels: &'static [&'static str],
    /// The last upgrade's migration, if the contract was ever upgraded.
    migration: Option<Migration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// Read rule: open to every caller (the rules hold nothing about a patient).
fn rules(_: NoArgs) -> Result<RulesInfo> {
    Ok(RulesInfo {
        rules: evaluate::RULES,
        named_only_labels: evaluate::NAMED_ONLY,
        migration: get(&Key::new("meta").part("migration")),
    })
}

phr_sdk::export_contract!(ConsentContract);

/// Most consents a patient may hold active at once.
const MAX_ACTIVE_PER_PATIENT: usize = 64;

fn consent_key(id: &str) -> Key {
    Key::new("consent").part(id)
}

fn by_patient_key(patient: &str) -> Key {
    Key::new("by-patient").part(patient)
}

/// The patient's active consents only: what evaluation reads.
fn active_key(patient: &str) -> Key {
    Key::new("active").part(patient)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    decision: Decision,
    #[serde(default)]
    period: Option<Period>,
    #[serde(default)]
    provisions: Vec<Provision>,
}

fn create(a: CreateArgs) -> Result<Consent> {
    let patient = caller().require_patient()?;
    if let Some(p) = &a.period {
        p.validate("period")?;
    }
    validate::at_most("provisions", &a.provisions, 32)?;
    for (i, p) in a.provisions.iter().enumerate() {
        p.validate(i)?;
    }
    let active = index_ids(&active_key(&patient.id), MAX_ACTIVE_PER_PATIENT as u32);
    if active.len() >= MAX_ACTIVE_PER_PATIENT {
        return Err(Error::conflict(format!(
            "patient already has {MAX_ACTIVE_PER_PATIENT} active consents; revoke one first"
        )));
    }
    let tx = tx_id();
    let id = format!("consent-{}", &tx[..24]);
    if exists(&consent_key(&id)) {
        return Err(Error::conflict(format!("consent {id} exists already")));
    }
    let consent = Consent {
        id: id.clone(),
        patient: patient.id.clone(),
        status: Status::Active,
        decision: a.decision,
        period: a.period,
        provisions: a.provisions,
        created_at_ms: now_ms(),
        created_tx: tx,
        revoked_at_ms: None,
        revoked_tx: None,
    };
    put(&consent_key(&id), &consent);
    put(&by_patient_key(&patient.id).part(&id), &());
    put(&active_key(&patient.id).part(&id), &());
    emit("consent.created", &[&patient.id], &consent);
    Ok(consent)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: String,
}

fn revoke(a: IdArgs) -> Result<Consent> {
    let me = caller();
    let mut consent = load(&a.id)?;
    if me.id != consent.patient {
        return Err(Error::unauthorized(format!("only the patient who gave consent {} may revoke it", a.id)));
    }
    if consent.status != Status::Active {
        return Err(Error::conflict(format!("consent {} is already revoked", a.id)));
    }
    consent.status = Status::Inactive;
    consent.revoked_at_ms = Some(now_ms());
    consent.revoked_tx = Some(tx_id());
    put(&consent_key(&a.id), &consent);
    delete(&active_key(&consent.patient).part(&a.id));
    emit("consent.revoked", &[&consent.patient], &consent);
    Ok(consent)
}

/// Read rule: the consent's patient, or an auditor (recorded). Anyone else
/// learns nothing, not even whether the consent exists.
fn get_consent(a: IdArgs) -> Result<Consent> {
    let r = reader();
    let refuse = || r.refuse("a consent", "only its patient and auditors");
    validate::external_id("id", &a.id).map_err(|_| refuse())?;
    match get::<Consent>(&consent_key(&a.id)) {
        Some(c) if r.is(&c.patient) || r.audited(&c.patient, "consent.get") => Ok(c),
        Some(_) => Err(refuse()),
        // Only an auditor learns that a consent does not exist.
        None if r.is_auditor() => Err(Error::not_found(format!("no consent {}", a.id))),
        None => Err(refuse()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    patient: String,
    #[serde(default)]
    status: Option<Status>,
    /// Continue after this consent id (the `next` of the previous page).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
struct ListResult {
    consents: Vec<Consent>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// A patient's consents in id order, a page at a time. `status: active` reads
/// the active index; `inactive` filters the whole list.
///
/// Read rule: the patient, or an auditor (recorded).
fn list(a: ListArgs) -> Result<ListResult> {
    validate::identity_id("patient", &a.patient)?;
    reader().patient_or_auditor(&a.patient, "consent.list")?;
    let limit = page_limit(a.limit, 100, 500)?;
    let index = match a.status {
        Some(Status::Active) => active_key(&a.patient),
        _ => by_patient_key(&a.patient),
    };
    let (consents, next) = index_page_filtered(&index, a.after.as_deref(), limit, |id| {
        get::<Consent>(&consent_key(id)).filter(|c| a.status.is_none_or(|s| c.status == s))
    });
    Ok(ListResult { consents, next })
}

fn load(id: &str) -> Result<Consent> {
    get(&consent_key(id)).ok_or_else(|| Error::not_found(format!("no consent {id}")))
}

/// The active consents of a patient, in id order.
pub(crate) fn active_consents(patient: &str) -> Vec<Consent> {
    index_ids(&active_key(patient), MAX_ACTIVE_PER_PATIENT as u32)
        .iter()
        .filter_map(|id| get::<Consent>(&consent_key(id)))
        .collect()
}
