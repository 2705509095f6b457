//! Access requests and grants, and the disclosure log entry.

use phr_sdk::prelude::*;

/// The requester as recorded: identity, organisation and roles at request time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub id: String,
    pub org: Option<String>,
    pub roles: Vec<String>,
}

impl Requester {
    pub fn validate(&self) -> Result<()> {
        validate::identity_id("requester.id", &self.id)?;
        if let Some(o) = &self.org {
            validate::slug("requester.org", o)?;
        }
        validate::at_most("requester.roles", &self.roles, 8)
    }
}

impl From<&Caller> for Requester {
    fn from(c: &Caller) -> Self {
        Requester { id: c.id.clone(), org: c.org.clone(), roles: c.roles.clone() }
    }
}

/// Life cycle of an access. `expired` is not stored: an active access past its
/// expiry is shown as expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Active,
    Denied,
    Revoked,
    Expired,
}

/// What authorised an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    Consent,
    PatientApproval,
    BreakGlass,
    /// An auditor enrolled by the consortium read the patient's data.
    Audit,
    /// The patient read their own record.
    Patient,
    /// The practitioner who wrote the record's current version read it back.
    Author,
    /// Nothing authorised it (a refused fetch).
    None,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub kind: AuthKind,
    pub consent_id: Option<String>,
    pub provision: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Open,
    Justified,
    Unjustified,
}

/// The review of a break-glass access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub status: ReviewStatus,
    pub reviewer: Option<String>,
    pub note: Option<String>,
    pub reviewed_at_ms: Option<u64>,
}

/// An access request and, once decided, the grant or denial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub id: String,
    pub patient: String,
    pub requester: Requester,
    pub record_id: Option<String>,
    pub data_class: String,
    pub security_label: String,
    pub purpose: String,
    pub action: String,
    pub status: Status,
    pub break_glass: bool,
    pub authorization: Option<Authorization>,
    /// Why it was decided so (the consent evaluation, the patient, the emergency).
    pub decision_reason: String,
    /// The requester's justification; never health data.
    pub reason: Option<String>,
    pub requested_at_ms: u64,
    pub decided_at_ms: Option<u64>,
    pub expires_at_ms: Option<u64>,
    /// How long a grant should last once approved.
    pub duration_ms: u64,
    pub review: Option<Review>,
    pub request_tx: String,
    /// When and by which transaction the patient revoked the grant.
    #[serde(default)]
    pub revoked_at_ms: Option<u64>,
    #[serde(default)]
    pub revoked_tx: Option<String>,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Denied => "denied",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }
}

impl Access {
    /// Status at time `now`: an active grant past its expiry is expired.
    pub fn status_at(&self, now: u64) -> Status {
        match (self.status, self.expires_at_ms) {
            (Status::Active, Some(e)) if now >= e => Status::Expired,
            (s, _) => s,
        }
    }
}

/// An access as returned: the stored fields with the status at the current block time.
#[derive(Clone, Debug, Serialize)]
pub struct AccessView {
    #[serde(flatten)]
    pub access: Access,
    /// Same as `status` except that an active grant past expiry reads `expired`.
    pub effective_status: Status,
}

impl AccessView {
    pub fn of(a: &Access, now: u64) -> Self {
        AccessView { effective_status: a.status_at(now), access: a.clone() }
    }
}

/// Who performed a disclosure (AuditEvent.agent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub org: Option<String>,
    pub role: String,
}

/// What authorised a disclosure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureAuth {
    pub kind: AuthKind,
    pub access_id: String,
    pub consent_id: Option<String>,
    pub break_glass: bool,
}

/// One disclosure of a patient's data: the fields of an IHE ATNA record, a FHIR
/// AuditEvent and a HIPAA accounting-of-disclosures entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// When (block time of the logging transaction).
    pub recorded_at_ms: u64,
    pub tx_id: String,
    pub patient: String,
    /// Who.
    pub agent: Agent,
    /// What.
    pub record_id: String,
    pub data_class: String,
    pub security_label: String,
    pub action: String,
    /// Why.
    pub purpose: String,
    pub authorization: DisclosureAuth,
    /// `success` or `failure`.
    pub outcome: String,
    /// The node id that served the data.
    pub served_by: String,
    /// The identity id of the node that witnessed the disclosure and signed its
    /// entry, when a node (not the reader) logged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    /// Why a fetch was refused (when `outcome` is `failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
