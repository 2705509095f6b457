//! `identity`: the built-in contract of enrolments. Patients enrol themselves,
//! organisation admins enrol their practitioners with roles, and auditors are
//! enrolled once a majority of organisations approves them. The host resolves
//! every signer through these records before any contract runs.

use crate::env::TxEnv;
use crate::native::{self, err, ok, parse, NativeOutcome};
use phr_ledger::{Caller, CallerKind, Event, Genesis, PublicKey};
use phr_vm::{HostEnv, HostFault};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeSet;

/// The namespace and contract name.
pub const IDENTITY: &str = "identity";

/// Roles only the genesis or the consortium can give.
const RESERVED_ROLES: [&str; 3] = ["admin", "auditor", "node"];

/// An enrolled identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub id: String,
    pub public_key: PublicKey,
    pub kind: CallerKind,
    pub org: Option<String>,
    pub roles: Vec<String>,
    pub enrolled_at_height: u64,
    /// Who enrolled it: its own id for a patient, the admin for a practitioner,
    /// `genesis` or `consortium`.
    pub enrolled_by: String,
    pub revoked: bool,
}

impl IdentityRecord {
    pub fn caller(&self) -> Caller {
        Caller { id: self.id.clone(), kind: self.kind, org: self.org.clone(), roles: self.roles.clone() }
    }
}

pub fn record_key(id: &str) -> Vec<u8> {
    format!("id/{id}").into_bytes()
}

fn approval_key(id: &str) -> Vec<u8> {
    format!("auditor-approvals/{id}").into_bytes()
}

/// How the signer of a transaction resolves.
pub enum Signer {
    Known(Caller),
    Revoked,
    Unknown,
}

/// Resolve a signer (the read is recorded like any other).
pub fn resolve(env: &mut TxEnv, key: &PublicKey) -> Result<Signer, HostFault> {
    match read::<IdentityRecord>(env, &record_key(&key.id().to_hex()))? {
        None => Ok(Signer::Unknown),
        Some(r) if r.revoked => Ok(Signer::Revoked),
        Some(r) => Ok(Signer::Known(r.caller())),
    }
}

/// Whether an unknown signer may send this call (a patient enrolling).
pub fn open_to_unknown(contract: &str, method: &str) -> bool {
    contract == IDENTITY && method == "enrol_patient"
}

fn read<T: DeserializeOwned>(env: &mut TxEnv, key: &[u8]) -> Result<Option<T>, HostFault> {
    native::read(env, IDENTITY, key)
}

fn write<T: Serialize>(env: &mut TxEnv, key: &[u8], v: &T) -> Result<(), HostFault> {
    native::write(env, IDENTITY, key, v)
}

/// The directory index: every identity that is not a patient, so that the
/// consortium's directory can be listed without touching patients.
pub fn directory_key(id: &str) -> Vec<u8> {
    format!("dir/{id}").into_bytes()
}

/// Store an identity record, and list it in the directory unless it is a patient.
fn store(env: &mut TxEnv, rec: &IdentityRecord) -> Result<(), HostFault> {
    write(env, &record_key(&rec.id), rec)?;
    if rec.kind != CallerKind::Patient {
        env.put(IDENTITY, &directory_key(&rec.id), b"")?;
    }
    Ok(())
}

/// The record a genesis admin key starts with.
pub fn genesis_admin(key: &PublicKey, org: &str) -> IdentityRecord {
    IdentityRecord {
        id: key.id().to_hex(),
        public_key: *key,
        kind: CallerKind::OrgAdmin,
        org: Some(org.to_string()),
        roles: vec!["admin".to_string()],
        enrolled_at_height: 0,
        enrolled_by: "genesis".to_string(),
        revoked: false,
    }
}

/// The record a genesis node key starts with: a node (gateway) of its organisation.
pub fn genesis_node(key: &PublicKey, org: &str) -> IdentityRecord {
    IdentityRecord {
        id: key.id().to_hex(),
        public_key: *key,
        kind: CallerKind::Node,
        org: Some(org.to_string()),
        roles: vec!["node".to_string()],
        enrolled_at_height: 0,
        enrolled_by: "genesis".to_string(),
        revoked: false,
    }
}

fn event(name: &str, topics: Vec<String>, payload: &impl Serialize) -> Event {
    native::event(IDENTITY, name, topics, payload)
}

fn check_roles(roles: &[String]) -> Result<(), String> {
    if roles.is_empty() || roles.len() > 8 {
        return Err("`roles` must name 1 to 8 roles".into());
    }
    let mut seen = BTreeSet::new();
    for r in roles {
        let ok = !r.is_empty()
            && r.len() <= 40
            && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(format!("role {r:?} must be 1-40 characters of a-z, 0-9 and -"));
        }
        if RESERVED_ROLES.contains(&r.as_str()) {
            return Err(format!("role {r:?} is reserved"));
        }
        if !seen.insert(r) {
            return Err(format!("role {r:?} is listed twice"));
        }
    }
    Ok(())
}

/// What the transaction calling identity is about.
pub struct IdentityCall<'a> {
    pub caller: Option<&'a Caller>,
    pub signer: &'a PublicKey,
    pub height: u64,
    pub genesis: &'a Genesis,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolPractitioner {
    public_key: PublicKey,
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRoles {
    id: String,
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArg {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyArg {
    public_key: PublicKey,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AuditorApprovals {
    public_key: Option<PublicKey>,
    orgs: BTreeSet<String>,
}

/// Execute a state-changing identity method.
pub fn invoke(env: &mut TxEnv, call: IdentityCall<'_>, method: &str, args: &str) -> Result<NativeOutcome, HostFault> {
    macro_rules! args {
        ($t:ty) => {
            match parse::<$t>(method, args) {
                Ok(a) => a,
                Err(m) => return err("bad-request", m),
            }
        };
    }
    let admin_org = |c: Option<&Caller>| match c {
        Some(c) if c.kind == CallerKind::OrgAdmin => c.org.clone(),
        _ => None,
    };
    match method {
        "enrol_patient" => {
            let _: Empty = args!(Empty);
            let id = call.signer.id().to_hex();
            if read::<IdentityRecord>(env, &record_key(&id))?.is_some() {
                return err("conflict", format!("identity {id} is enrolled already"));
            }
            let rec = IdentityRecord {
                id: id.clone(),
                public_key: *call.signer,
                kind: CallerKind::Patient,
                org: None,
                roles: vec!["patient".to_string()],
                enrolled_at_height: call.height,
                enrolled_by: id.clone(),
                revoked: false,
            };
            write(env, &record_key(&id), &rec)?;
            let e = event("identity.enrolled", vec![id], &rec);
            ok(&rec, vec![e])
        }
        "enrol_practitioner" => {
            let a = args!(EnrolPractitioner);
            let Some(org) = admin_org(call.caller) else {
                return err("unauthorized", "only an organisation admin may enrol practitioners");
            };
            if let Err(m) = check_roles(&a.roles) {
                return err("bad-request", m);
            }
            let id = a.public_key.id().to_hex();
            if read::<IdentityRecord>(env, &record_key(&id))?.is_some() {
                return err("conflict", format!("identity {id} is enrolled already"));
            }
            let rec = IdentityRecord {
                id: id.clone(),
                public_key: a.public_key,
                kind: CallerKind::Practitioner,
                org: Some(org.clone()),
                roles: a.roles,
                enrolled_at_height: call.height,
                enrolled_by: call.caller.map(|c| c.id.clone()).unwrap_or_default(),
                revoked: false,
            };
            store(env, &rec)?;
            let e = event("identity.enrolled", vec![id, format!("org:{org}")], &rec);
            ok(&rec, vec![e])
        }
        "enrol_node" => {
            let a = args!(KeyArg);
            let Some(org) = admin_org(call.caller) else {
                return err("unauthorized", "only an organisation admin may enrol a node of its organisation");
            };
            let id = a.public_key.id().to_hex();
            if read::<IdentityRecord>(env, &record_key(&id))?.is_some() {
                return err("conflict", format!("identity {id} is enrolled already"));
            }
            let mut rec = genesis_node(&a.public_key, &org);
            rec.enrolled_at_height = call.height;
            rec.enrolled_by = call.caller.map(|c| c.id.clone()).unwrap_or_default();
            store(env, &rec)?;
            let e = event("identity.enrolled", vec![id, format!("org:{org}")], &rec);
            ok(&rec, vec![e])
        }
        "set_roles" | "revoke" => {
            let Some(org) = admin_org(call.caller) else {
                return err("unauthorized", "only an organisation admin may change a practitioner's enrolment");
            };
            let (id, roles) = if method == "set_roles" {
                let a = args!(SetRoles);
                if let Err(m) = check_roles(&a.roles) {
                    return err("bad-request", m);
                }
                (a.id, Some(a.roles))
            } else {
                (args!(IdArg).id, None)
            };
            let Some(mut rec) = read::<IdentityRecord>(env, &record_key(&id))? else {
                return err("not-found", format!("no identity {id} is enrolled"));
            };
            let node_revoke = rec.kind == CallerKind::Node && method == "revoke";
            if !(rec.kind == CallerKind::Practitioner || node_revoke) || rec.org.as_deref() != Some(org.as_str()) {
                return err("unauthorized", format!("{id} is not a practitioner of {org}"));
            }
            if rec.revoked {
                return err("conflict", format!("{id} is revoked already"));
            }
            let name = match roles {
                Some(r) => {
                    rec.roles = r;
                    "identity.roles-changed"
                }
                None => {
                    rec.revoked = true;
                    "identity.revoked"
                }
            };
            write(env, &record_key(&id), &rec)?;
            let e = event(name, vec![id, format!("org:{org}")], &rec);
            ok(&rec, vec![e])
        }
        "approve_auditor" => {
            let a = args!(KeyArg);
            let Some(org) = admin_org(call.caller) else {
                return err("unauthorized", "only organisation admins approve auditors");
            };
            let id = a.public_key.id().to_hex();
            if read::<IdentityRecord>(env, &record_key(&id))?.is_some() {
                return err("conflict", format!("identity {id} is enrolled already"));
            }
            let mut ap: AuditorApprovals = read(env, &approval_key(&id))?.unwrap_or_default();
            ap.public_key = Some(a.public_key);
            if !ap.orgs.insert(org.clone()) {
                return err("conflict", format!("{org} has approved auditor {id} already"));
            }
            let total = call.genesis.orgs.len();
            let mut events = vec![event("identity.auditor-approved", vec![id.clone()], &ap)];
            if ap.orgs.len() * 2 > total {
                let rec = IdentityRecord {
                    id: id.clone(),
                    public_key: a.public_key,
                    kind: CallerKind::Auditor,
                    org: None,
                    roles: vec!["auditor".to_string()],
                    enrolled_at_height: call.height,
                    enrolled_by: "consortium".to_string(),
                    revoked: false,
                };
                store(env, &rec)?;
                env.delete(IDENTITY, &approval_key(&id))?;
                events.push(event("identity.enrolled", vec![id], &rec));
                return ok(&rec, events);
            }
            write(env, &approval_key(&id), &ap)?;
            ok(&serde_json::json!({ "id": id, "approved_by": ap.orgs, "needed": total / 2 + 1 }), events)
        }
        "approve_voter" => crate::voters::approve(env, call.caller, call.genesis, args),
        other => err(
            "unknown-method",
            format!(
                "no method `{other}`; methods here: enrol_patient, enrol_practitioner, enrol_node, set_roles, revoke, approve_auditor, approve_voter"
            ),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    kind: Option<CallerKind>,
    /// Continue after this identity id (the `next` of the previous page).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The event announcing that an auditor read a patient's enrolment (see the
/// SDK's read rules): the node records it on chain before it answers.
fn audit_read(patient: &str, what: &str) -> Event {
    event("audit.read", vec![patient.to_string()], &serde_json::json!({ "patient": patient, "what": what }))
}

/// Whether `caller` may see `r`: patients are visible to themselves and to
/// auditors (an auditor's read is announced); the other identities
/// (practitioners, admins, nodes, auditors) form the consortium's directory,
/// open to every enrolled caller.
fn visible(caller: &Caller, r: &IdentityRecord) -> bool {
    match r.kind {
        CallerKind::Patient => caller.id == r.id || caller.kind == CallerKind::Auditor,
        _ => caller.kind != CallerKind::Anonymous,
    }
}

/// Execute a read-only identity method as `caller`.
///
/// Read rules: `get` and `list` need an enrolled caller. A patient's record is
/// visible only to the patient and to auditors (recorded); to anyone else it
/// reads as not enrolled, so nobody learns who is a patient. The other
/// identities are the consortium's directory, visible to every enrolled caller.
pub fn query(
    env: &mut TxEnv,
    caller: &Caller,
    genesis: &Genesis,
    method: &str,
    args: &str,
) -> Result<NativeOutcome, HostFault> {
    if caller.kind == CallerKind::Anonymous && matches!(method, "get" | "list") {
        return err("unauthorized", "only enrolled callers may read identities; sign the request with an enrolled key");
    }
    match method {
        "get" => {
            let a: IdArg = match parse(method, args) {
                Ok(a) => a,
                Err(m) => return err("bad-request", m),
            };
            match read::<IdentityRecord>(env, &record_key(&a.id))? {
                Some(r) if visible(caller, &r) => {
                    let events = match (r.kind, caller.kind) {
                        (CallerKind::Patient, CallerKind::Auditor) => vec![audit_read(&r.id, "identity.get")],
                        _ => Vec::new(),
                    };
                    ok(&r, events)
                }
                _ => err("not-found", format!("no identity {} is enrolled that this caller may see", a.id)),
            }
        }
        "list" => {
            let a: ListArgs = match parse(method, args) {
                Ok(a) => a,
                Err(m) => return err("bad-request", m),
            };
            let limit = match a.limit {
                None => 100,
                Some(l) if (1..=1000).contains(&l) => l,
                Some(_) => return err("bad-request", "`limit` must be between 1 and 1000"),
            };
            // Auditors page through every identity; everyone else through the
            // directory index, which holds no patient: a page and its cursor
            // only ever name identities the caller may see.
            let auditor = caller.kind == CallerKind::Auditor;
            let (prefix, end): (&[u8], &[u8]) = if auditor { (b"id/", b"id0") } else { (b"dir/", b"dir0") };
            let mut start = prefix.to_vec();
            if let Some(after) = &a.after {
                start.extend_from_slice(after.as_bytes());
                start.push(0);
            }
            let mut rows = env.scan(IDENTITY, &start, end, limit + 1)?;
            let more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            let mut out = Vec::new();
            let mut events = Vec::new();
            let mut last = None;
            for (k, _) in rows {
                let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let Some(r) = read::<IdentityRecord>(env, &record_key(&id))? else {
                    return Err(HostFault(format!("identity directory names {id}, which has no record")));
                };
                last = Some(r.id.clone());
                let wanted =
                    a.org.as_ref().is_none_or(|o| r.org.as_ref() == Some(o)) && a.kind.is_none_or(|k| r.kind == k);
                if wanted && visible(caller, &r) {
                    if r.kind == CallerKind::Patient && auditor {
                        events.push(audit_read(&r.id, "identity.list"));
                    }
                    out.push(r);
                }
            }
            let next = if more { last } else { None };
            ok(&serde_json::json!({ "identities": out, "next": next }), events)
        }
        "voter_approvals" => crate::voters::query(env, caller, genesis, args),
        other => err("unknown-method", format!("no query `{other}`; queries here: get, list, voter_approvals")),
    }
}
