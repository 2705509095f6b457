//! record-anchor: the chain's evidence of a health record, never the record.
//!
//! An institution anchors a record it created: its id, patient, SHA-256, data
//! class, security label and source (organisation, author, device). An amendment
//! links a new version to the previous one; disposal marks the record shredded
//! off chain while its hashes stay. Whoever may read a record's anchor can
//! verify a document against the anchored hash and follow its versions.
//!
//! Practitioners anchor records for their organisation; only a practitioner or
//! the admin of the source organisation may amend or dispose of a record;
//! patients cannot anchor records themselves. A node (its organisation's
//! gateway) anchors, amends and disposes for the author who asked it, names
//! itself as the holder of the content, and may anchor a patient's own data
//! (self-reported) with the patient as author. Every change emits an event with the
//! patient as topic. Methods and their JSON are in `docs/contracts.md`.

mod model;

use model::{RecordStatus, Source, VersionEntry, LABELS};
use phr_sdk::prelude::*;

pub use model::Record;

/// The record-anchor contract.
pub struct RecordAnchor;

impl Contract for RecordAnchor {
    fn invoke(method: &str, args: &str) -> Result<String> {
        Router::new(method, args).on("anchor", anchor).on("amend", amend).on("dispose", dispose).finish()
    }

    fn query(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("get", get_record)
            .on("verify", verify)
            .on("history", history_of)
            .on("list_by_patient", list_by_patient)
            .finish()
    }
}

phr_sdk::export_contract!(RecordAnchor);

fn record_key(id: &str) -> Key {
    Key::new("record").part(id)
}

fn version_key(id: &str, v: u32) -> Key {
    Key::new("version").part(id).num(v as u64)
}

fn by_patient_key(patient: &str) -> Key {
    Key::new("by-patient").part(patient)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorArgs {
    record_id: String,
    patient: String,
    sha256: String,
    class: String,
    #[serde(default = "normal")]
    security_label: String,
    #[serde(default)]
    device: Option<String>,
    /// For a node saving through its gateway: who asked it.
    #[serde(default)]
    author: Option<String>,
    /// For a node: the patient saved this themself (`author` is the patient).
    #[serde(default)]
    self_reported: bool,
    /// For a node: the node holding the content (itself), its media type and size.
    #[serde(default)]
    held_by: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

/// Who writes a version, and where its content is held.
struct Writer {
    author: String,
    org: String,
    held_by: Option<String>,
}

/// The writer of a version: a practitioner itself, or a node (gateway) for the
/// `author` it names, holding the content itself.
fn writer(author: Option<&str>, held_by: Option<&str>) -> Result<Writer> {
    let me = caller();
    match me.kind {
        CallerKind::Node => {
            let (node, org) = me.require_node()?;
            let author = author.ok_or_else(|| Error::bad_request("a node writes a record for an `author`"))?;
            validate::identity_id("author", author)?;
            let held = held_by.ok_or_else(|| Error::bad_request("a node names itself as `held_by`"))?;
            validate::external_id("held_by", held)?;
            let _ = node;
            Ok(Writer { author: author.to_string(), org, held_by: Some(held.to_string()) })
        }
        _ => {
            if author.is_some() || held_by.is_some() {
                return Err(Error::bad_request("`author` and `held_by` are for a node writing through its gateway"));
            }
            let (me, org) = me.require_practitioner()?;
            Ok(Writer { author: me.id, org, held_by: None })
        }
    }
}

fn check_content(media_type: &Option<String>) -> Result<()> {
    if let Some(m) = media_type {
        validate::note("media_type", m, 100)?;
        if !m.contains('/') {
            return Err(Error::bad_request("`media_type` must be type/subtype"));
        }
    }
    Ok(())
}

fn normal() -> String {
    "N".to_string()
}

fn anchor(a: AnchorArgs) -> Result<Record> {
    let w = writer(a.author.as_deref(), a.held_by.as_deref())?;
    if a.self_reported && (w.held_by.is_none() || w.author != a.patient) {
        return Err(Error::bad_request("a self-reported record is saved by its patient, through a node"));
    }
    check_content(&a.media_type)?;
    validate::external_id("record_id", &a.record_id)?;
    validate::identity_id("patient", &a.patient)?;
    validate::sha256_hex("sha256", &a.sha256)?;
    validate::slug("class", &a.class)?;
    validate::one_of("security_label", &a.security_label, LABELS)?;
    if let Some(d) = &a.device {
        validate::external_id("device", d)?;
    }
    if exists(&record_key(&a.record_id)) {
        return Err(Error::conflict(format!("record {} is anchored already; amend it instead", a.record_id)));
    }
    let now = now_ms();
    let record = Record {
        record_id: a.record_id.clone(),
        patient: a.patient.clone(),
        sha256: a.sha256,
        class: a.class,
        security_label: a.security_label,
        source: Source { org: w.org, author: w.author, device: a.device, self_reported: a.self_reported },
        version: 1,
        status: RecordStatus::Active,
        created_at_ms: now,
        updated_at_ms: now,
        disposed_at_ms: None,
        held_by: w.held_by,
        media_type: a.media_type,
        size: a.size,
    };
    save(&record, "anchor", None);
    put(&by_patient_key(&a.patient).part(&a.record_id), &());
    emit("record.anchored", &[&record.patient], &record);
    Ok(record)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendArgs {
    record_id: String,
    sha256: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    security_label: Option<String>,
    reason: String,
    /// For a node amending through its gateway (see `anchor`).
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    held_by: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

fn amend(a: AmendArgs) -> Result<Record> {
    let mut record = load(&a.record_id)?;
    let author = require_source_org(&record, "amend", a.author.as_deref())?;
    check_content(&a.media_type)?;
    if caller().kind == CallerKind::Node {
        let held = a.held_by.as_deref().ok_or_else(|| Error::bad_request("a node names itself as `held_by`"))?;
        validate::external_id("held_by", held)?;
        record.held_by = Some(held.to_string());
        record.media_type = a.media_type.clone();
        record.size = a.size;
    } else if a.held_by.is_some() {
        return Err(Error::bad_request("`held_by` is for a node writing through its gateway"));
    } else {
        // Content saved elsewhere than a gateway: no node holds this version.
        record.held_by = None;
        record.media_type = None;
        record.size = None;
    }
    validate::sha256_hex("sha256", &a.sha256)?;
    validate::note("reason", &a.reason, 200)?;
    if record.status == RecordStatus::Disposed {
        return Err(Error::conflict(format!("record {} was disposed and cannot be amended", a.record_id)));
    }
    if a.sha256 == record.sha256 {
        return Err(Error::conflict("the amendment has the same SHA-256 as the current version"));
    }
    if let Some(c) = &a.class {
        validate::slug("class", c)?;
        record.class = c.clone();
    }
    if let Some(l) = &a.security_label {
        validate::one_of("security_label", l, LABELS)?;
        record.security_label = l.clone();
    }
    record.sha256 = a.sha256;
    record.version += 1;
    record.source.author = author;
    record.updated_at_ms = now_ms();
    save(&record, "amend", Some(a.reason));
    emit("record.amended", &[&record.patient], &record);
    Ok(record)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisposeArgs {
    record_id: String,
    reason: String,
    /// For a node disposing through its gateway: who asked it.
    #[serde(default)]
    author: Option<String>,
}

fn dispose(a: DisposeArgs) -> Result<Record> {
    let mut record = load(&a.record_id)?;
    let author = require_source_org(&record, "dispose of", a.author.as_deref())?;
    validate::note("reason", &a.reason, 200)?;
    if record.status == RecordStatus::Disposed {
        return Err(Error::conflict(format!("record {} is already disposed", a.record_id)));
    }
    let now = now_ms();
    record.status = RecordStatus::Disposed;
    record.disposed_at_ms = Some(now);
    record.updated_at_ms = now;
    record.version += 1;
    record.source.author = author;
    save(&record, "dispose", Some(a.reason));
    emit("record.disposed", &[&record.patient], &record);
    Ok(record)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    record_id: String,
}

/// Who may read a record's anchor: its patient; the organisation that holds it
/// (its admins, the practitioner who wrote the current version); the
/// consortium's nodes (which hold the chain, and route fetches to the node
/// holding the content); a
/// practitioner currently granted access to it (or holding it by break-glass);
/// an auditor (recorded); and access-grant resolving what a request is about.
fn may_read(r: &Reader, record: &Record, what: &str) -> bool {
    r.is(&record.patient)
        || r.via("access-grant")
        || r.admin_of(&record.source.org)
        || r.caller.kind == CallerKind::Node
        || r.is(&record.source.author)
        || granted(r, record)
        || r.audited(&record.patient, what)
}

const WHO_READS_A_RECORD: &str =
    "only its patient, its organisation, practitioners it is granted to, auditors and the consortium's nodes";

/// Whether the reader is a practitioner with a usable grant for the record now.
fn granted(r: &Reader, record: &Record) -> bool {
    #[derive(Serialize)]
    struct CheckArgs<'a> {
        grantee: &'a str,
        patient: &'a str,
        record_id: &'a str,
    }
    #[derive(Deserialize)]
    struct Check {
        allowed: bool,
    }
    if r.caller.kind != CallerKind::Practitioner || record.status == RecordStatus::Disposed {
        return false;
    }
    let args = CheckArgs { grantee: &r.caller.id, patient: &record.patient, record_id: &record.record_id };
    call::<_, Check>("access-grant", "check", &args).is_ok_and(|c| c.allowed)
}

/// Load a record the reader may read; anyone else learns nothing, not even
/// whether it exists.
fn load_readable(id: &str, what: &str) -> Result<Record> {
    let r = reader();
    match load(id) {
        Ok(rec) if may_read(&r, &rec, what) => Ok(rec),
        // Those who may read any anchor learn that one does not exist.
        Err(e) if r.is_auditor() || r.via("access-grant") || r.caller.kind == CallerKind::Node => Err(e),
        _ => Err(r.refuse("a record's anchor", WHO_READS_A_RECORD)),
    }
}

/// Read rule: see [`may_read`].
fn get_record(a: IdArgs) -> Result<Record> {
    load_readable(&a.record_id, "record-anchor.get")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyArgs {
    record_id: String,
    sha256: String,
}

#[derive(Serialize)]
struct VerifyResult {
    record_id: String,
    /// The digest is the record's current version.
    current: bool,
    /// The version the digest matches, current or earlier, if any.
    matched_version: Option<u32>,
    current_version: u32,
    status: RecordStatus,
}

/// Read rule: as for `get`.
fn verify(a: VerifyArgs) -> Result<VerifyResult> {
    validate::sha256_hex("sha256", &a.sha256)?;
    let record = load_readable(&a.record_id, "record-anchor.verify")?;
    let versions = all_versions(&a.record_id);
    let matched = versions.iter().rev().find(|v| v.sha256 == a.sha256).map(|v| v.version);
    Ok(VerifyResult {
        record_id: a.record_id,
        current: record.sha256 == a.sha256,
        matched_version: matched,
        current_version: record.version,
        status: record.status,
    })
}

#[derive(Serialize)]
struct HistoryResult {
    record_id: String,
    versions: Vec<VersionEntry>,
}

/// Read rule: as for `get`.
fn history_of(a: IdArgs) -> Result<HistoryResult> {
    load_readable(&a.record_id, "record-anchor.history")?;
    Ok(HistoryResult { versions: all_versions(&a.record_id), record_id: a.record_id })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    patient: String,
    /// Continue after this record id (the `next` of the previous page).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
struct ListResult {
    records: Vec<Record>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// A patient's records in id order, a page at a time.
///
/// Read rule: the patient and auditors (recorded) see every record; a
/// practitioner, an organisation admin or a node sees only the records it may
/// read (see `get`), and the page cursor never names one it may not; anyone
/// else is refused.
fn list_by_patient(a: ListArgs) -> Result<ListResult> {
    validate::identity_id("patient", &a.patient)?;
    let r = reader();
    let all = r.is(&a.patient) || r.audited(&a.patient, "record-anchor.list_by_patient");
    let filtered = matches!(r.caller.kind, CallerKind::Practitioner | CallerKind::OrgAdmin | CallerKind::Node);
    if !all && !filtered {
        return Err(r.refuse(
            "a patient's records",
            "only the patient, auditors, and practitioners and organisations for the records they may read",
        ));
    }
    let limit = page_limit(a.limit, 100, 500)?;
    let (records, next) = index_page_filtered(&by_patient_key(&a.patient), a.after.as_deref(), limit, |id| {
        get::<Record>(&record_key(id)).filter(|rec| all || may_read(&r, rec, "record-anchor.list_by_patient"))
    });
    Ok(ListResult { records, next })
}

fn load(id: &str) -> Result<Record> {
    validate::external_id("record_id", id)?;
    get(&record_key(id)).ok_or_else(|| Error::not_found(format!("no record {id} is anchored")))
}

/// The author of a change by the caller: a practitioner or admin of the
/// record's organisation itself, or a node of that organisation for the
/// `author` it names.
fn require_source_org(record: &Record, what: &str, author: Option<&str>) -> Result<String> {
    let me = caller();
    let allowed = match me.kind {
        CallerKind::Practitioner | CallerKind::OrgAdmin => me.in_org(&record.source.org) && author.is_none(),
        CallerKind::Node => me.in_org(&record.source.org),
        _ => false,
    };
    if allowed && me.kind == CallerKind::Node {
        let author = author.ok_or_else(|| Error::bad_request("a node writes a record for an `author`"))?;
        validate::identity_id("author", author)?;
        Ok(author.to_string())
    } else if allowed {
        Ok(me.id)
    } else {
        Err(Error::unauthorized(format!(
            "only a practitioner or admin of {} may {what} record {}",
            record.source.org, record.record_id
        )))
    }
}

fn save(record: &Record, change: &str, reason: Option<String>) {
    put(&record_key(&record.record_id), record);
    let entry = VersionEntry {
        version: record.version,
        change: change.to_string(),
        sha256: record.sha256.clone(),
        class: record.class.clone(),
        security_label: record.security_label.clone(),
        author: record.source.author.clone(),
        at_ms: record.updated_at_ms,
        tx_id: tx_id(),
        reason,
    };
    put(&version_key(&record.record_id, record.version), &entry);
}

fn all_versions(id: &str) -> Vec<VersionEntry> {
    scan_prefix::<VersionEntry>(&Key::new("version").part(id), None, 1000).into_iter().map(|(_, v)| v).collect()
}
