//! `explain`: run one committed transaction again at its exact pre-state and
//! show everything it did, next to what was committed.

use crate::apply::invalid;
use crate::env::TxEnv;
use crate::{ExecError, Executor};
use phr_ledger::{Caller, Receipt, TxId, TxStatus};
use phr_state::Point;
use serde::Serialize;
use serde_json::Value;

/// A key the re-run read: the version it saw and the digest of the value.
#[derive(Clone, Debug, Serialize)]
pub struct ReadView {
    pub namespace: String,
    /// The key in hex; `key_text` when it is printable.
    pub key: String,
    pub key_text: Option<String>,
    /// (height, tx index) of the write that made the value; `None`: absent.
    pub version: Option<(u64, u32)>,
    pub value_sha256: Option<String>,
}

/// A key the re-run wrote.
#[derive(Clone, Debug, Serialize)]
pub struct WriteView {
    pub namespace: String,
    pub key: String,
    pub key_text: Option<String>,
    /// `None`: deleted.
    pub value_sha256: Option<String>,
}

/// One transaction, run again.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub tx_id: TxId,
    pub height: u64,
    pub tx_index: u32,
    pub block_time_ms: u64,
    pub proposer: String,
    /// The signer as the chain resolved it just before the transaction.
    pub signer: String,
    pub caller: Option<Caller>,
    pub contract: String,
    pub method: String,
    pub args: Value,
    /// The code that ran (the built-in contracts have a fixed digest).
    pub code_hash: phr_ledger::Hash32,
    pub status: TxStatus,
    pub result: Value,
    /// What decided the outcome, when the result says: the consent and provision
    /// of an authorisation, a break-glass and its reason.
    pub decided_by: Option<Value>,
    pub fuel_used: u64,
    pub reads: Vec<ReadView>,
    pub writes: Vec<WriteView>,
    pub events: Vec<Value>,
    /// The receipt committed for it.
    pub committed: Receipt,
    /// Whether the re-run's receipt is the committed one, field for field.
    pub matches: bool,
    /// The fields that differ, if any.
    pub differences: Vec<String>,
}

fn json_or_string(s: &str) -> Value {
    if s.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// The fields of a result that record a decision, found at its top level or
/// under `access`.
fn decision_of(result: &Value) -> Option<Value> {
    let scope = result.get("access").unwrap_or(result);
    let mut out = serde_json::Map::new();
    for field in
        ["decision", "basis", "consent_id", "provision", "reason", "authorization", "decision_reason", "break_glass"]
    {
        if let Some(v) = scope.get(field).filter(|v| !v.is_null()) {
            out.insert(field.to_string(), v.clone());
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Two texts around their first difference, for people: `…context…`.
fn around_difference(a: &str, b: &str) -> (String, String) {
    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let cut = |s: &str| {
        let mut start = at.saturating_sub(40);
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + 40).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        let pre = if start > 0 { "…" } else { "" };
        let post = if end < s.len() { "…" } else { "" };
        format!("{pre}{}{post}", &s[start..end])
    };
    (cut(a), cut(b))
}

/// The fields in which two receipts differ, named for people.
pub fn receipt_differences(stored: &Receipt, computed: &Receipt) -> Vec<String> {
    let mut d = Vec::new();
    let mut field = |name: &str, same: bool, s: String, c: String| {
        if !same {
            d.push(format!("{name}: committed {s}, recomputed {c}"));
        }
    };
    field("tx_id", stored.tx_id == computed.tx_id, stored.tx_id.to_hex(), computed.tx_id.to_hex());
    field("status", stored.status == computed.status, format!("{:?}", stored.status), format!("{:?}", computed.status));
    field("contract", stored.contract == computed.contract, stored.contract.clone(), computed.contract.clone());
    field("method", stored.method == computed.method, stored.method.clone(), computed.method.clone());
    field("code_hash", stored.code_hash == computed.code_hash, stored.code_hash.to_hex(), computed.code_hash.to_hex());
    field(
        "fuel_used",
        stored.fuel_used == computed.fuel_used,
        stored.fuel_used.to_string(),
        computed.fuel_used.to_string(),
    );
    let (out_s, out_c) = around_difference(&stored.output, &computed.output);
    field("output", stored.output == computed.output, format!("{out_s:?}"), format!("{out_c:?}"));
    field(
        "events",
        stored.events == computed.events,
        format!("{} events", stored.events.len()),
        format!("{} events", computed.events.len()),
    );
    let key = phr_ledger::display_slot;
    if stored.reads != computed.reads {
        let first = stored.reads.iter().zip(&computed.reads).find(|(a, b)| a != b);
        let detail = match first {
            Some((a, b)) => format!(
                "{} at version {:?} committed, {} at version {:?} recomputed",
                key(&a.namespace, &a.key),
                a.version,
                key(&b.namespace, &b.key),
                b.version
            ),
            None => format!("{} reads committed, {} recomputed", stored.reads.len(), computed.reads.len()),
        };
        d.push(format!("reads: {detail}"));
    }
    if stored.writes != computed.writes {
        let first = stored.writes.iter().zip(&computed.writes).find(|(a, b)| a != b);
        let digest =
            |v: &Option<Vec<u8>>| v.as_ref().map_or("deleted".to_string(), |v| phr_ledger::sha256(&[v]).to_hex());
        let detail = match first {
            Some((a, b)) if a.namespace == b.namespace && a.key == b.key => format!(
                "{}: committed value {}, recomputed {}",
                key(&a.namespace, &a.key),
                digest(&a.value),
                digest(&b.value)
            ),
            Some((a, b)) => {
                format!("committed {} where recomputed {}", key(&a.namespace, &a.key), key(&b.namespace, &b.key))
            }
            None => format!("{} writes committed, {} recomputed", stored.writes.len(), computed.writes.len()),
        };
        d.push(format!("writes: {detail}"));
    }
    d
}

impl Executor {
    /// Run committed transaction `id` again against the state it saw and explain
    /// it. `None` if no such transaction is committed.
    pub fn explain(&self, id: &TxId) -> Result<Option<Explanation>, ExecError> {
        let Some((height, tx_index)) = self.db.tx_location(id)? else { return Ok(None) };
        let _slot = self.code.vm().client_slot(crate::query::CLIENT_WAIT)?;
        let block = self.db.block(height)?.ok_or_else(|| ExecError::Corrupt(format!("block {height} is missing")))?;
        let tx = block
            .txs
            .get(tx_index as usize)
            .ok_or_else(|| ExecError::Corrupt(format!("block {height} has no transaction {tx_index}")))?;
        let committed = self
            .db
            .receipt_at(height, tx_index)?
            .ok_or_else(|| ExecError::Corrupt(format!("receipt {height}:{tx_index} is missing")))?;
        let time_ms = block.header.time_ms;
        let mut env = TxEnv::before_tx(self.db.clone(), self.code.clone(), height, tx_index);
        env.begin(tx_index);
        let fault = |e: phr_vm::HostFault| ExecError::Corrupt(e.to_string());
        let caller = match crate::identity::resolve(&mut env, &tx.body.signer).map_err(fault)? {
            crate::identity::Signer::Known(c) => Some(c),
            _ => None,
        };
        env.begin(tx_index);
        // The checks `apply` makes before running a transaction, in its order.
        let max = self.genesis.params.max_tx_bytes_for(&tx.body.contract, &tx.body.method);
        let computed = if let Err(e) = tx.verify_signature() {
            invalid(*id, tx, format!("signature: {e}"))
        } else if let Err(e) = tx.check_shape(&self.genesis.chain_id, max) {
            invalid(*id, tx, e.to_string())
        } else if height > tx.body.expiry_height {
            invalid(*id, tx, format!("expired: valid up to height {}", tx.body.expiry_height))
        } else {
            self.execute(env, tx, *id, height, time_ms)?.0
        };
        let reads = computed
            .reads
            .iter()
            .map(|r| {
                let value = match r.version {
                    None => None,
                    Some((h, i)) if (h, i) == (height, tx_index) => computed
                        .writes
                        .iter()
                        .find(|w| w.namespace == r.namespace && w.key == r.key)
                        .and_then(|w| w.value.clone()),
                    Some((h, i)) => self
                        .db
                        .get_at(&r.namespace, &r.key, Point { height: h, tx_index: i })?
                        .filter(|v| v.version == (h, i))
                        .map(|v| v.value),
                };
                Ok(ReadView {
                    namespace: r.namespace.clone(),
                    key: hex::encode(&r.key),
                    key_text: phr_ledger::key_text(&r.key),
                    version: r.version,
                    value_sha256: value.map(|v| phr_ledger::sha256(&[&v]).to_hex()),
                })
            })
            .collect::<Result<Vec<_>, ExecError>>()?;
        let writes = computed
            .writes
            .iter()
            .map(|w| WriteView {
                namespace: w.namespace.clone(),
                key: hex::encode(&w.key),
                key_text: phr_ledger::key_text(&w.key),
                value_sha256: w.value.as_ref().map(|v| phr_ledger::sha256(&[v]).to_hex()),
            })
            .collect();
        let events = computed
            .events
            .iter()
            .map(|e| serde_json::json!({"contract": e.contract, "name": e.name, "topics": e.topics, "payload": json_or_string(&e.payload)}))
            .collect();
        let differences = receipt_differences(&committed, &computed);
        let result = json_or_string(&computed.output);
        Ok(Some(Explanation {
            tx_id: *id,
            height,
            tx_index,
            block_time_ms: time_ms,
            proposer: block.header.proposer.clone(),
            signer: tx.body.signer.id().to_hex(),
            caller,
            contract: tx.body.contract.clone(),
            method: tx.body.method.clone(),
            args: json_or_string(&tx.body.args),
            code_hash: computed.code_hash,
            status: computed.status.clone(),
            decided_by: decision_of(&result),
            result,
            fuel_used: computed.fuel_used,
            reads,
            writes,
            events,
            matches: differences.is_empty(),
            differences,
            committed,
        }))
    }
}
