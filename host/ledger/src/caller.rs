//! The caller of a contract, as resolved from the chain's enrolments.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What kind of identity signed a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[borsh(use_discriminant = false)]
pub enum CallerKind {
    Anonymous,
    Patient,
    Practitioner,
    OrgAdmin,
    Auditor,
    /// A node of the consortium, acting as its organisation's gateway (it
    /// witnesses disclosures and records audits; it has no admin powers).
    Node,
}

/// The signer of a transaction as contracts see it. Contracts may trust every
/// field: the host resolved it from enrolments on chain.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Caller {
    /// Hex identity id; empty for an anonymous query.
    pub id: String,
    pub kind: CallerKind,
    pub org: Option<String>,
    pub roles: Vec<String>,
}

impl Caller {
    /// The caller of an unsigned read-only query.
    pub fn anonymous() -> Self {
        Caller { id: String::new(), kind: CallerKind::Anonymous, org: None, roles: Vec::new() }
    }
}
