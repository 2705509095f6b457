//! Read rules: who may see what a query returns.
//!
//! Queries run as their signed caller, exactly as transactions do, so every
//! contract states beside its write rules who may read each of its query
//! methods. A [`Reader`] answers the questions those rules ask; a refusal is an
//! `unauthorized` error naming the rule, and returns nothing of the data.
//!
//! An auditor may read every patient's data, but never silently: [`Reader::audited`]
//! announces the read with an [`AUDIT_READ_EVENT`] naming the patient. In a
//! client's query that event is handed to the node with the result, and the node
//! records the audit on chain (in the patient's accounting of disclosures)
//! before it answers.

use crate::caller::kind_name;
use crate::{caller, emit, invoker, tx_id, Caller, CallerKind, Error};
use serde::Serialize;

/// The event a query emits when an auditor reads a patient's data.
pub const AUDIT_READ_EVENT: &str = "audit.read";

/// The role of a practitioner who reviews its organisation's break-glass accesses.
pub const PRIVACY_OFFICER_ROLE: &str = "privacy-officer";

/// What an [`AUDIT_READ_EVENT`] carries.
#[derive(Serialize)]
struct AuditRead<'a> {
    patient: &'a str,
    /// What was read, for example `consent.list`.
    what: &'a str,
}

/// Who is reading, and through which contract.
#[derive(Clone, Debug)]
pub struct Reader {
    pub caller: Caller,
    /// The contract whose read-only `call` this is, if any.
    pub invoker: Option<String>,
}

/// The reader of the current call.
pub fn reader() -> Reader {
    Reader { caller: caller(), invoker: invoker() }
}

impl Reader {
    /// The caller is the enrolled identity `id` itself.
    pub fn is(&self, id: &str) -> bool {
        !id.is_empty() && self.caller.kind != CallerKind::Anonymous && self.caller.id == id
    }

    /// The read is made by contract `name` through a read-only `call`, on behalf
    /// of a transaction or query that contract is running.
    pub fn via(&self, name: &str) -> bool {
        self.invoker.as_deref() == Some(name)
    }

    /// The caller is an auditor enrolled by the consortium.
    pub fn is_auditor(&self) -> bool {
        self.caller.kind == CallerKind::Auditor
    }

    /// The caller is an admin of `org`.
    pub fn admin_of(&self, org: &str) -> bool {
        self.caller.kind == CallerKind::OrgAdmin && self.caller.in_org(org)
    }

    /// The caller is an admin of `org` or one of its privacy officers.
    pub fn officer_of(&self, org: &str) -> bool {
        self.admin_of(org)
            || (self.caller.kind == CallerKind::Practitioner
                && self.caller.in_org(org)
                && self.caller.has_role(PRIVACY_OFFICER_ROLE))
    }

    /// The caller is a node (gateway) of `org`.
    pub fn node_of(&self, org: &str) -> bool {
        self.caller.kind == CallerKind::Node && self.caller.in_org(org)
    }

    /// True when the caller is an auditor, whose read of `patient`'s data
    /// (`what`, for example `consent.list`) is then announced so that the node
    /// records it on chain. A transaction's own reads are on chain already and
    /// are not announced again.
    pub fn audited(&self, patient: &str, what: &str) -> bool {
        if !self.is_auditor() {
            return false;
        }
        if tx_id().is_empty() {
            emit(AUDIT_READ_EVENT, &[patient], &AuditRead { patient, what });
        }
        true
    }

    /// `patient`'s own data: the patient themself, or an auditor (recorded).
    pub fn patient_or_auditor(&self, patient: &str, what: &str) -> Result<(), Error> {
        if self.is(patient) || self.audited(patient, what) {
            Ok(())
        } else {
            Err(self.refuse(what, "only the patient and auditors"))
        }
    }

    /// The refusal of reading `what`, naming the rule (`who` may read it).
    pub fn refuse(&self, what: &str, who: &str) -> Error {
        Error::unauthorized(format!("{who} may read {what}; the caller is {}", self.describe()))
    }

    fn describe(&self) -> String {
        match self.caller.kind {
            CallerKind::Anonymous => "anonymous".to_string(),
            k => format!("{} ({})", kind_name(k), self.caller.id),
        }
    }
}
