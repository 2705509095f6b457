//! Who signed the transaction, and the checks contracts make on it.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The kind of identity behind a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallerKind {
    Anonymous,
    Patient,
    Practitioner,
    OrgAdmin,
    Auditor,
    /// A node of the consortium acting as its organisation's gateway.
    Node,
}

/// The signer of the transaction as the node resolved it from the chain's
/// enrolments: the contract can trust every field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub id: String,
    pub kind: CallerKind,
    pub org: Option<String>,
    pub roles: Vec<String>,
}

/// The signer of the current transaction.
pub fn caller() -> Caller {
    crate::env::sys::caller()
}

impl Caller {
    /// The caller, if it is a patient.
    pub fn require_patient(self) -> Result<Caller> {
        match self.kind {
            CallerKind::Patient => Ok(self),
            k => Err(Error::unauthorized(format!("only a patient may do this (caller is {})", kind_name(k)))),
        }
    }

    /// The caller and its organisation, if it is a node (a gateway) of the consortium.
    pub fn require_node(self) -> Result<(Caller, String)> {
        match (self.kind, self.org.clone()) {
            (CallerKind::Node, Some(org)) => Ok((self, org)),
            (k, _) => Err(Error::unauthorized(format!(
                "only a node of the consortium may do this (caller is {})",
                kind_name(k)
            ))),
        }
    }

    /// The caller and its organisation, if it is a practitioner.
    pub fn require_practitioner(self) -> Result<(Caller, String)> {
        match (self.kind, self.org.clone()) {
            (CallerKind::Practitioner, Some(org)) => Ok((self, org)),
            (k, _) => Err(Error::unauthorized(format!(
                "only an enrolled practitioner may do this (caller is {})",
                kind_name(k)
            ))),
        }
    }

    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The caller, if it holds `role`.
    pub fn require_role(self, role: &str) -> Result<Caller> {
        if self.has_role(role) {
            Ok(self)
        } else {
            Err(Error::unauthorized(format!(
                "the `{role}` role is required (caller has {})",
                if self.roles.is_empty() { "no roles".to_string() } else { self.roles.join(", ") }
            )))
        }
    }

    /// Whether the caller belongs to `org` (as practitioner or admin).
    pub fn in_org(&self, org: &str) -> bool {
        self.org.as_deref() == Some(org)
    }

    /// The first role, for audit entries that record one role.
    pub fn primary_role(&self) -> String {
        self.roles.first().cloned().unwrap_or_else(|| kind_name(self.kind).to_string())
    }
}

pub(crate) fn kind_name(k: CallerKind) -> &'static str {
    match k {
        CallerKind::Anonymous => "anonymous",
        CallerKind::Patient => "a patient",
        CallerKind::Practitioner => "a practitioner",
        CallerKind::OrgAdmin => "an organisation admin",
        CallerKind::Auditor => "an auditor",
        CallerKind::Node => "a node",
    }
}
