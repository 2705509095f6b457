//! JSON views of receipts and blocks for clients: contract output and event
//! payloads parsed, keys in hex.

use axum::http::StatusCode;
use phr_ledger::{Block, Receipt, TxStatus};
use serde_json::{json, Value};

/// Contract output or event payload as JSON (text that is not JSON stays a string).
pub fn parse_or_string(s: &str) -> Value {
    if s.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// A receipt as clients see it: `result` is the contract's JSON output.
pub fn receipt(height: u64, index: u32, r: &Receipt) -> Value {
    let mut v = serde_json::to_value(r).expect("receipts serialize");
    let obj = v.as_object_mut().expect("receipt is an object");
    obj.remove("output");
    obj.insert("result".into(), parse_or_string(&r.output));
    obj.insert("height".into(), json!(height));
    obj.insert("index".into(), json!(index));
    let events: Vec<Value> = r
        .events
        .iter()
        .map(|e| json!({"contract": e.contract, "name": e.name, "topics": e.topics, "payload": parse_or_string(&e.payload)}))
        .collect();
    obj.insert("events".into(), Value::Array(events));
    v
}

/// The HTTP status that tells a client how its committed transaction ended.
pub fn receipt_status(r: &Receipt) -> StatusCode {
    match &r.status {
        TxStatus::Ok => StatusCode::OK,
        TxStatus::Rejected { code, .. } => super::error::status_for_contract_code(code),
        TxStatus::OutOfFuel | TxStatus::Trapped { .. } | TxStatus::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A one-line reason for a failed receipt.
pub fn failure(r: &Receipt) -> Option<(String, String)> {
    match &r.status {
        TxStatus::Ok => None,
        TxStatus::Rejected { code, message } => Some((code.clone(), message.clone())),
        TxStatus::OutOfFuel => Some(("out-of-fuel".into(), "the call used all the fuel of a transaction".into())),
        TxStatus::Trapped { reason } => Some(("trapped".into(), reason.clone())),
        TxStatus::Invalid { reason } => Some(("invalid".into(), reason.clone())),
    }
}

/// A block: hash, header, transactions (with ids) and optionally receipts.
pub fn block(b: &Block, receipts: Option<&[Receipt]>) -> Value {
    let txs: Vec<Value> =
        b.txs.iter().map(|t| json!({"id": t.id(), "body": t.body, "signature": t.signature})).collect();
    let mut v = json!({"height": b.header.height, "hash": b.hash(), "header": b.header, "txs": txs});
    if let Some(rs) = receipts {
        v["receipts"] =
            Value::Array(rs.iter().enumerate().map(|(i, r)| receipt(b.header.height, i as u32, r)).collect());
    }
    v
}
