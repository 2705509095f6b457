//! A patient's accounting of disclosures: every access request, grant, denial,
//! refusal, break-glass, review and disclosure that concerns them, from the
//! receipts a replay computed.
//!
//! Each line comes from one transaction (its id, height and index are on the
//! line): an `access-grant` event whose first topic is the patient, or an
//! `access-grant` call about the patient that the contract refused.

use phr_ledger::{Block, Receipt, TxId, TxStatus};
use phr_state::{Point, StateDb};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Who took part: identity id, organisation and roles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Party {
    pub id: String,
    pub org: Option<String>,
    pub roles: Vec<String>,
}

/// One line of the accounting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Block time of the transaction, ms since the Unix epoch.
    pub time_ms: u64,
    pub height: u64,
    pub tx_index: u32,
    pub tx_id: TxId,
    /// `requested`, `granted`, `denied`, `approved`, `revoked`, `break-glass`,
    /// `reviewed`, `disclosed`, `audited` (an auditor read the patient's data)
    /// or `refused`.
    pub kind: String,
    /// Who sought or received access to the patient's data.
    pub who: Party,
    /// Who signed the transaction (the patient approving, an officer reviewing).
    pub by: String,
    pub record_id: Option<String>,
    pub data_class: Option<String>,
    pub purpose: Option<String>,
    /// What authorised it: `consent <id> provision <n>`, `patient approval`,
    /// `break-glass`.
    pub authorization: Option<String>,
    /// The outcome: the access status, `success` for a disclosure, or the reason
    /// of a refusal.
    pub outcome: String,
    /// The node that served a disclosure.
    pub served_by: Option<String>,
    pub access_id: Option<String>,
    pub break_glass: bool,
    /// For a break-glass access: its review status at the end of the report.
    pub review: Option<String>,
}

/// Builds the accounting for one patient, block by block.
pub struct Collector {
    patient: String,
    from_ms: u64,
    to_ms: u64,
    lines: Vec<Line>,
    /// Access id → patient, from every access event seen (to place refusals
    /// that name only an access).
    accesses: BTreeMap<String, String>,
    /// Latest review status of break-glass accesses.
    reviews: BTreeMap<String, String>,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn authorization(auth: &Value, break_glass: bool) -> Option<String> {
    if break_glass {
        return Some("break-glass".into());
    }
    match auth["kind"].as_str()? {
        "consent" => Some(match (auth["consent_id"].as_str(), auth["provision"].as_u64()) {
            (Some(c), Some(p)) => format!("consent {c} provision {p}"),
            (Some(c), None) => format!("consent {c}"),
            _ => "consent".into(),
        }),
        "patient-approval" => Some("patient approval".into()),
        other => Some(other.to_string()),
    }
}

/// The identity record of `id` as of `at`, as a party.
fn party(db: &StateDb, id: &str, at: Point) -> Party {
    let rec = db
        .get_at("identity", format!("id/{id}").as_bytes(), at)
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_slice::<Value>(&v.value).ok());
    match rec {
        Some(r) => Party {
            id: id.to_string(),
            org: s(&r["org"]),
            roles: r["roles"].as_array().map(|a| a.iter().filter_map(s).collect()).unwrap_or_default(),
        },
        None => Party { id: id.to_string(), ..Default::default() },
    }
}

impl Collector {
    /// Lines for `patient` with block times in `[from_ms, to_ms]`.
    pub fn new(patient: &str, from_ms: Option<u64>, to_ms: Option<u64>) -> Self {
        Collector {
            patient: patient.to_string(),
            from_ms: from_ms.unwrap_or(0),
            to_ms: to_ms.unwrap_or(u64::MAX),
            lines: Vec::new(),
            accesses: BTreeMap::new(),
            reviews: BTreeMap::new(),
        }
    }

    /// Take in one block and its receipts; `db` answers identity lookups.
    pub fn visit(&mut self, block: &Block, receipts: &[Receipt], db: &StateDb) {
        let h = block.header.height;
        let time_ms = block.header.time_ms;
        for (i, (tx, r)) in block.txs.iter().zip(receipts).enumerate() {
            if r.contract != "access-grant" {
                continue;
            }
            let by = tx.body.signer.id().to_hex();
            let base = |kind: &str| Line {
                time_ms,
                height: h,
                tx_index: i as u32,
                tx_id: r.tx_id,
                kind: kind.to_string(),
                who: Party::default(),
                by: by.clone(),
                record_id: None,
                data_class: None,
                purpose: None,
                authorization: None,
                outcome: String::new(),
                served_by: None,
                access_id: None,
                break_glass: false,
                review: None,
            };
            let mut lines = Vec::new();
            for e in &r.events {
                let Ok(p) = serde_json::from_str::<Value>(&e.payload) else { continue };
                let Some(kind) = e.name.strip_prefix("access.") else { continue };
                let patient = e.topics.first().cloned().unwrap_or_default();
                if kind == "disclosed" || kind == "audited" {
                    let auth = &p["authorization"];
                    let mut l = base(kind);
                    l.who = Party {
                        id: s(&p["agent"]["id"]).unwrap_or_default(),
                        org: s(&p["agent"]["org"]),
                        roles: s(&p["agent"]["role"]).into_iter().collect(),
                    };
                    l.record_id = s(&p["record_id"]);
                    l.data_class = s(&p["data_class"]);
                    l.purpose = s(&p["purpose"]);
                    l.break_glass = auth["break_glass"].as_bool().unwrap_or(false);
                    l.authorization = authorization(auth, l.break_glass);
                    l.outcome = s(&p["outcome"]).unwrap_or_default();
                    l.served_by = s(&p["served_by"]);
                    l.access_id = s(&auth["access_id"]).filter(|a| !a.is_empty());
                    l.record_id = l.record_id.filter(|r| !r.is_empty());
                    lines.push((patient, l));
                    continue;
                }
                let id = s(&p["id"]);
                if let Some(id) = &id {
                    self.accesses.insert(id.clone(), patient.clone());
                }
                let break_glass = p["break_glass"].as_bool().unwrap_or(false);
                if break_glass {
                    if let (Some(id), Some(status)) = (&id, p["review"]["status"].as_str()) {
                        self.reviews.insert(id.clone(), status.to_string());
                    }
                }
                let mut l = base(kind);
                l.who = Party {
                    id: s(&p["requester"]["id"]).unwrap_or_default(),
                    org: s(&p["requester"]["org"]),
                    roles: p["requester"]["roles"]
                        .as_array()
                        .map(|a| a.iter().filter_map(s).collect())
                        .unwrap_or_default(),
                };
                l.record_id = s(&p["record_id"]);
                l.data_class = s(&p["data_class"]);
                l.purpose = s(&p["purpose"]);
                l.break_glass = break_glass;
                l.authorization = authorization(&p["authorization"], break_glass);
                l.outcome = match kind {
                    "reviewed" => format!("review: {}", p["review"]["status"].as_str().unwrap_or("?")),
                    _ => {
                        let status = p["status"].as_str().unwrap_or("?");
                        match p["decision_reason"].as_str() {
                            Some(reason) if !reason.is_empty() => format!("{status}: {reason}"),
                            _ => status.to_string(),
                        }
                    }
                };
                l.access_id = id;
                lines.push((patient, l));
            }
            // A refused call about the patient: an attempt, with the reason.
            if let TxStatus::Rejected { code, message } = &r.status {
                let args: Value = serde_json::from_str(&tx.body.args).unwrap_or(Value::Null);
                let patient = s(&args["patient"])
                    .or_else(|| args["access_id"].as_str().and_then(|a| self.accesses.get(a).cloned()));
                if let Some(patient) = patient {
                    let mut l = base("refused");
                    l.who = party(db, &by, Point::before(h, i as u32));
                    l.record_id = s(&args["record_id"]);
                    l.data_class = s(&args["data_class"]);
                    l.purpose =
                        s(&args["purpose"]).or_else(|| (r.method == "break_glass").then(|| "ETREAT".to_string()));
                    l.access_id = s(&args["access_id"]);
                    l.break_glass = r.method == "break_glass";
                    l.outcome = format!("refused ({}.{}: {code}): {message}", r.contract, r.method);
                    lines.push((patient, l));
                }
            }
            for (patient, l) in lines {
                if patient == self.patient && (self.from_ms..=self.to_ms).contains(&l.time_ms) {
                    self.lines.push(l);
                }
            }
        }
    }

    /// The lines, in chain order, each break-glass access with its latest review status.
    pub fn finish(mut self) -> Vec<Line> {
        for l in &mut self.lines {
            if l.break_glass {
                if let Some(a) = &l.access_id {
                    l.review = self.reviews.get(a).cloned();
                }
            }
        }
        self.lines
    }
}
