//! `evaluate`: permit or deny one access, and say what decided it.
//!
//! Rules, in order (deny overrides):
//! 1. Only `active` consents whose period contains the time count.
//! 2. If any matching provision denies, the answer is deny by that provision.
//! 3. Else if any matching provision permits, permit by that provision.
//! 4. Else the base decisions of the counted consents: any deny denies; else any
//!    permit permits.
//!
//! Very restricted (`V`) data opens only to a permit provision that names `V`
//! in its security labels: neither a base permit nor a provision with no labels
//! opens it. Deny provisions without labels apply to it as to anything.
//! Rules version 2 (the `v2` build, installed through the lifecycle) treats
//! restricted (`R`) data the same way.
//! 5. With no consent counted, deny: nothing permits the access.
//!
//! Consents are taken in id order and provisions in their listed order, so the
//! decider named is the same on every node.

use crate::model::{Actor, Consent, Decision, Provision, Status, ACTIONS, LABELS, PURPOSES};
use phr_sdk::prelude::*;

/// The version of the evaluation rules this build implements.
#[cfg(not(feature = "v2"))]
pub const RULES: u32 = 1;
#[cfg(feature = "v2")]
pub const RULES: u32 = 2;

/// Security labels that only a permit provision naming them opens.
#[cfg(not(feature = "v2"))]
pub const NAMED_ONLY: &[&str] = &["V"];
#[cfg(feature = "v2")]
pub const NAMED_ONLY: &[&str] = &["R", "V"];

fn label_name(l: &str) -> &'static str {
    match l {
        "V" => "very restricted (V)",
        "R" => "restricted (R)",
        _ => "labelled",
    }
}

/// Who wants access, as the access-grant contract (or anyone asking) states it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub id: String,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Arguments of `evaluate`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateArgs {
    pub patient: String,
    pub actor: Requester,
    pub purpose: String,
    pub data_class: String,
    #[serde(default = "default_action")]
    pub action: String,
    #[serde(default = "default_label")]
    pub security_label: String,
    /// Defaults to the current block time.
    #[serde(default)]
    pub time_ms: Option<u64>,
}

fn default_action() -> String {
    "access".to_string()
}

fn default_label() -> String {
    "N".to_string()
}

/// What decided an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    Provision,
    Base,
    NoConsent,
}

/// The answer of `evaluate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub decision: String,
    pub basis: Basis,
    pub consent_id: Option<String>,
    pub provision: Option<u32>,
    pub reason: String,
}

/// Read rule: the patient (to see what their consents decide), an auditor
/// (recorded), and access-grant deciding a practitioner's request. A
/// practitioner cannot probe a patient's consents outside a request.
pub(crate) fn evaluate(a: EvaluateArgs) -> Result<Evaluation> {
    validate::identity_id("patient", &a.patient)?;
    let r = reader();
    if !(r.is(&a.patient) || r.via("access-grant") || r.audited(&a.patient, "consent.evaluate")) {
        return Err(r.refuse(
            "an evaluation of a patient's consents",
            "only the patient, auditors and access-grant (deciding a request)",
        ));
    }
    validate::one_of("purpose", &a.purpose, PURPOSES)?;
    validate::one_of("action", &a.action, ACTIONS)?;
    validate::slug("data_class", &a.data_class)?;
    validate::one_of("security_label", &a.security_label, LABELS)?;
    let t = a.time_ms.unwrap_or_else(now_ms);
    let consents: Vec<Consent> = crate::active_consents(&a.patient)
        .into_iter()
        .filter(|c| c.status == Status::Active && c.period.as_ref().is_none_or(|p| p.contains(t)))
        .collect();
    Ok(decide(&consents, &a, t))
}

fn decide(consents: &[Consent], a: &EvaluateArgs, t: u64) -> Evaluation {
    let matching: Vec<(&Consent, usize, &Provision)> = consents
        .iter()
        .flat_map(|c| c.provisions.iter().enumerate().map(move |(i, p)| (c, i, p)))
        .filter(|(_, _, p)| matches(p, a, t))
        .collect();
    for wanted in [Decision::Deny, Decision::Permit] {
        if let Some((c, i, p)) = matching.iter().find(|(_, _, p)| p.kind == wanted) {
            return Evaluation {
                decision: word(wanted).to_string(),
                basis: Basis::Provision,
                consent_id: Some(c.id.clone()),
                provision: Some(*i as u32),
                reason: format!("provision {i} of {} {}s {}", c.id, word(wanted), describe(p)),
            };
        }
    }
    let base_deny = consents.iter().find(|c| c.decision == Decision::Deny);
    let base_permit = consents.iter().find(|c| c.decision == Decision::Permit);
    if let Some(c) = base_deny {
        return base(c, Decision::Deny, format!("the base decision of {} denies what no provision permits", c.id));
    }
    if let Some(c) = base_permit {
        if NAMED_ONLY.contains(&a.security_label.as_str()) {
            return base(
                c,
                Decision::Deny,
                format!(
                    "{} data needs a provision naming {}; the base permit of {} does not open it",
                    label_name(&a.security_label),
                    a.security_label,
                    c.id
                ),
            );
        }
        return base(c, Decision::Permit, format!("the base decision of {} permits", c.id));
    }
    Evaluation {
        decision: "deny".to_string(),
        basis: Basis::NoConsent,
        consent_id: None,
        provision: None,
        reason: "no active consent of the patient permits this access".to_string(),
    }
}

fn base(c: &Consent, d: Decision, reason: String) -> Evaluation {
    Evaluation {
        decision: word(d).to_string(),
        basis: Basis::Base,
        consent_id: Some(c.id.clone()),
        provision: None,
        reason,
    }
}

fn matches(p: &Provision, a: &EvaluateArgs, t: u64) -> bool {
    let actor_ok = p.actors.is_empty()
        || p.actors.iter().any(|actor| match actor {
            Actor::Practitioner(id) => *id == a.actor.id,
            Actor::Organization(o) => a.actor.org.as_deref() == Some(o.as_str()),
            Actor::Role(r) => a.actor.roles.iter().any(|x| x == r),
        });
    let listed = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
    let label_ok = if NAMED_ONLY.contains(&a.security_label.as_str()) && p.kind == Decision::Permit {
        p.security_labels.contains(&a.security_label)
    } else {
        listed(&p.security_labels, &a.security_label)
    };
    actor_ok
        && listed(&p.purposes, &a.purpose)
        && listed(&p.actions, &a.action)
        && listed(&p.data_classes, &a.data_class)
        && label_ok
        && p.period.as_ref().is_none_or(|per| per.contains(t))
}

fn word(d: Decision) -> &'static str {
    match d {
        Decision::Permit => "permit",
        Decision::Deny => "deny",
    }
}

fn describe(p: &Provision) -> String {
    let who = if p.actors.is_empty() {
        "anyone".to_string()
    } else {
        p.actors
            .iter()
            .map(|a| match a {
                Actor::Practitioner(id) => format!("practitioner {id}"),
                Actor::Organization(o) => format!("organization {o}"),
                Actor::Role(r) => format!("role {r}"),
            })
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let any = |l: &[String], what: &str| if l.is_empty() { format!("any {what}") } else { l.join("/") };
    format!(
        "{who} for {} ({}, {})",
        any(&p.purposes, "purpose"),
        any(&p.actions, "action"),
        any(&p.data_classes, "data class")
    )
}
