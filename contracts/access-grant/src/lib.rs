//! access-grant: who may read a patient's records now, and who did.
//!
//! A practitioner requests access to a record or a data class for a purpose.
//! The contract asks the consent contract (a read-only call): when an active
//! consent permits, access is granted at once; when none covers the request the
//! practitioner may ask the patient, who approves or denies; otherwise it is
//! denied. Grants expire and the patient can revoke them. A practitioner with the
//! `emergency` role may break the glass: access is granted at once for a short
//! window, flagged, announced to the patient, and open until a privacy officer of
//! their organisation reviews it. Every actual disclosure is logged with the
//! fields of an IHE ATNA / FHIR AuditEvent / HIPAA accounting entry.
//!
//! Methods and their JSON are documented in `docs/contracts.md`.

mod decide;
mod disclosure;
mod emergency;
mod gateway;
mod model;
mod queries;

use model::{Access, AccessView};
use phr_sdk::prelude::*;

/// The access-grant contract.
pub struct AccessGrant;

impl Contract for AccessGrant {
    fn invoke(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("request", decide::request)
            .on("approve", decide::approve)
            .on("deny", decide::deny)
            .on("revoke", decide::revoke)
            .on("break_glass", emergency::break_glass)
            .on("review", emergency::review)
            .on("record_access", disclosure::record_access)
            .on("record_audit", disclosure::record_audit)
            .on("disclose", gateway::disclose)
            .finish()
    }

    fn query(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("get", queries::get_access)
            .on("list_by_patient", queries::list_by_patient)
            .on("list_by_requester", queries::list_by_requester)
            .on("check", queries::check)
            .on("disclosures", disclosure::disclosures)
            .on("open_reviews", emergency::open_reviews)
            .finish()
    }
}

phr_sdk::export_contract!(AccessGrant);

/// How long a grant lasts when the request names no duration: one day.
pub const DEFAULT_GRANT_MS: u64 = 24 * 3600 * 1000;
/// The longest grant a request or approval may ask for: 30 days.
pub const MAX_GRANT_MS: u64 = 30 * 24 * 3600 * 1000;
/// How long a break-glass access stays open: 4 hours.
pub const BREAK_GLASS_WINDOW_MS: u64 = 4 * 3600 * 1000;

fn access_key(id: &str) -> Key {
    Key::new("access").part(id)
}

fn by_patient_key(patient: &str) -> Key {
    Key::new("by-patient").part(patient)
}

fn by_requester_key(requester: &str) -> Key {
    Key::new("by-requester").part(requester)
}

fn open_review_key(org: &str) -> Key {
    Key::new("open-review").part(org)
}

fn load(id: &str) -> Result<Access> {
    validate::external_id("access_id", id)?;
    get(&access_key(id)).ok_or_else(|| Error::not_found(format!("no access request or grant {id}")))
}

/// Store a new access and index it by patient and requester.
fn insert(access: &Access) {
    put(&access_key(&access.id), access);
    put(&by_patient_key(&access.patient).part(&access.id), &());
    put(&by_requester_key(&access.requester.id).part(&access.id), &());
}

/// Store a changed access and announce it to the patient and the requester.
fn update_and_emit(access: &Access, event: &str) -> AccessView {
    put(&access_key(&access.id), access);
    let view = AccessView::of(access, now_ms());
    emit(event, &[&access.patient, &access.requester.id], &view);
    view
}

fn new_id() -> String {
    format!("access-{}", &tx_id()[..24])
}

/// The record an access refers to, as the record-anchor contract knows it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct RecordInfo {
    pub patient: String,
    pub class: String,
    pub security_label: String,
    pub status: String,
    pub sha256: String,
    pub version: u32,
    pub source: RecordSource,
}

/// Who wrote a record's current version, and where.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct RecordSource {
    pub org: String,
    pub author: String,
}

pub(crate) fn record_info(record_id: &str) -> Result<RecordInfo> {
    #[derive(Serialize)]
    struct Args<'a> {
        record_id: &'a str,
    }
    call("record-anchor", "get", &Args { record_id })
}

/// Resolve what an access is about: the record's patient, class and label when a
/// record is named, else the data class given (label `N`).
fn resolve_target(patient: &str, record_id: Option<&str>, data_class: Option<&str>) -> Result<(String, String)> {
    match (record_id, data_class) {
        (Some(rid), _) => {
            validate::external_id("record_id", rid)?;
            // A record of another patient reads as missing: naming a record
            // reveals nothing about records one may not see.
            let missing = || Error::not_found(format!("no record {rid} of patient {patient} is anchored"));
            let r = record_info(rid).map_err(|e| if e.code == ErrorCode::NotFound { missing() } else { e })?;
            if r.patient != patient {
                return Err(missing());
            }
            if r.status == "disposed" {
                return Err(Error::conflict(format!("record {rid} was disposed; there is nothing to access")));
            }
            if let Some(c) = data_class {
                if c != r.class {
                    return Err(Error::bad_request(format!("record {rid} is of class {}, not {c}", r.class)));
                }
            }
            Ok((r.class, r.security_label))
        }
        (None, Some(c)) => {
            validate::slug("data_class", c)?;
            Ok((c.to_string(), "N".to_string()))
        }
        (None, None) => Err(Error::bad_request("name a `record_id` or a `data_class`")),
    }
}
