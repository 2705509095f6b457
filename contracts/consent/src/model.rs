//! The consent resource and its parts, as stored and as returned.

use phr_sdk::prelude::*;

/// Permit or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Permit,
    Deny,
}

/// `active` until the patient revokes it, then `inactive` (FHIR status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

/// A time range in block time; an open end is unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    #[serde(default)]
    pub start_ms: Option<u64>,
    #[serde(default)]
    pub end_ms: Option<u64>,
}

impl Period {
    pub fn validate(&self, field: &str) -> Result<()> {
        match (self.start_ms, self.end_ms) {
            (Some(s), Some(e)) if e <= s => {
                Err(Error::bad_request(format!("`{field}`: end_ms must be after start_ms")))
            }
            _ => Ok(()),
        }
    }

    pub fn contains(&self, t: u64) -> bool {
        self.start_ms.is_none_or(|s| t >= s) && self.end_ms.is_none_or(|e| t < e)
    }
}

/// Who a provision is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Actor {
    /// One practitioner, by identity id.
    Practitioner(String),
    /// Every practitioner of an organisation, by name.
    Organization(String),
    /// Every practitioner holding a role, for example `emergency`.
    Role(String),
}

/// The purposes of use a consent may name (HL7 v3 PurposeOfUse).
pub const PURPOSES: &[&str] =
    &["TREAT", "ETREAT", "CAREMGT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH", "PATRQT", "FAMRQT", "HMARKT"];

/// The actions a consent may govern (FHIR consent-action).
pub const ACTIONS: &[&str] = &["collect", "access", "use", "disclose", "correct"];

/// Confidentiality codes (HL7 v3): unrestricted, low, moderate, normal, restricted, very restricted.
pub const LABELS: &[&str] = &["U", "L", "M", "N", "R", "V"];

/// An exception to the base decision. Every list that is empty matches
/// anything; a list that is not must contain the request's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    #[serde(rename = "type")]
    pub kind: Decision,
    #[serde(default)]
    pub actors: Vec<Actor>,
    #[serde(default)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub data_classes: Vec<String>,
    #[serde(default)]
    pub security_labels: Vec<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

impl Provision {
    pub fn validate(&self, i: usize) -> Result<()> {
        let f = |name: &str| format!("provisions[{i}].{name}");
        validate::at_most(&f("actors"), &self.actors, 32)?;
        for a in &self.actors {
            match a {
                Actor::Practitioner(id) => validate::identity_id(&f("actors.id"), id)?,
                Actor::Organization(o) => validate::slug(&f("actors.id"), o)?,
                Actor::Role(r) => validate::slug(&f("actors.id"), r)?,
            }
        }
        validate::at_most(&f("purposes"), &self.purposes, 16)?;
        for p in &self.purposes {
            validate::one_of(&f("purposes"), p, PURPOSES)?;
        }
        validate::at_most(&f("actions"), &self.actions, 8)?;
        for a in &self.actions {
            validate::one_of(&f("actions"), a, ACTIONS)?;
        }
        validate::at_most(&f("data_classes"), &self.data_classes, 32)?;
        for c in &self.data_classes {
            validate::slug(&f("data_classes"), c)?;
        }
        validate::at_most(&f("security_labels"), &self.security_labels, 6)?;
        for l in &self.security_labels {
            validate::one_of(&f("security_labels"), l, LABELS)?;
        }
        if let Some(p) = &self.period {
            p.validate(&f("period"))?;
        }
        Ok(())
    }
}

/// A consent as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: String,
    pub patient: String,
    pub status: Status,
    pub decision: Decision,
    pub period: Option<Period>,
    pub provisions: Vec<Provision>,
    pub created_at_ms: u64,
    pub created_tx: String,
    pub revoked_at_ms: Option<u64>,
    pub revoked_tx: Option<String>,
}
