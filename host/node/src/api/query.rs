//! Read-only contract queries, run as the signed caller.
//!
//! The contract's read rules decide what the caller sees. When an auditor
//! reads a patient's data, the contract announces it (`audit.read`), and this
//! node records the read on chain, signed with its own key
//! (`access-grant.record_audit`), before it answers: if the record cannot be
//! committed, the auditor gets nothing.

use super::error::{status_for_contract_code, ApiError};
use super::guard::Who;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use phr_executor::{QueryError, QueryOutput};
use phr_ledger::CallerKind;
use phr_vm::CallResult;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    contract: String,
    method: String,
    /// A JSON value, or a string holding JSON text.
    #[serde(default)]
    args: Value,
}

/// Most patients one audit record names (the contract's limit).
const AUDIT_CHUNK: usize = 64;

pub async fn query(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body?;
    let q: QueryBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("malformed", format!("query JSON: {e}")))?;
    let args = match q.args {
        Value::Null => "{}".to_string(),
        Value::String(s) => s,
        other => other.to_string(),
    };
    let out = run(&node, &who, &q.contract, &q.method, args).await?;
    Ok(Json(json!({"result": out.result, "height": out.height, "fuel_used": out.fuel_used})))
}

/// A query's answer, once any auditor's read is recorded.
pub struct Answered {
    pub result: Value,
    pub height: u64,
    pub fuel_used: u64,
}

/// Run `contract.method(args)` as the caller: the contract's read rules
/// decide; an auditor's read of patient data is recorded on chain before the
/// answer is returned. A contract error becomes the matching API error.
pub async fn run(
    node: &Arc<Node>,
    who: &Who,
    contract: &str,
    method: &str,
    args: String,
) -> Result<Answered, ApiError> {
    node.metrics.queries.inc();
    let exec = node.exec.clone();
    let key = who.principal.key();
    let (c, m) = (contract.to_string(), method.to_string());
    // Heavy work runs on the read pool, never on the threads that drive Raft.
    let out = tokio::task::spawn_blocking(move || exec.query(key.as_ref(), &c, &m, &args))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            QueryError::UnknownContract(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown-contract", e.to_string()),
            QueryError::Fault(m) => ApiError::internal(m),
            QueryError::Busy(_) => ApiError::busy(e.to_string()),
        })?;
    match &out.result {
        CallResult::Ok(_) => record_audit(node, &out, contract, method).await?,
        CallResult::Err { code, message } if code == "unauthorized" => {
            tracing::info!(caller = %who.describe(), "refused a read of {contract}.{method}: {message}");
        }
        _ => {}
    }
    match out.result {
        CallResult::Ok(s) => {
            let result: Value = serde_json::from_str(&s).unwrap_or(Value::String(s));
            Ok(Answered { result, height: out.height, fuel_used: out.fuel_used })
        }
        CallResult::Err { code, message } => Err(ApiError::new(status_for_contract_code(&code), &code, message)),
        CallResult::OutOfFuel => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out-of-fuel", "the query used all its fuel"))
        }
        CallResult::Trapped { reason } => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "trapped", reason)),
    }
}

/// If an auditor read patients' data, record it on chain before answering.
async fn record_audit(node: &Node, out: &QueryOutput, contract: &str, method: &str) -> Result<(), ApiError> {
    if out.caller.kind != CallerKind::Auditor {
        return Ok(());
    }
    let patients: BTreeSet<String> =
        out.events.iter().filter(|e| e.name == "audit.read").filter_map(|e| e.topics.first().cloned()).collect();
    if patients.is_empty() {
        return Ok(());
    }
    let patients: Vec<String> = patients.into_iter().collect();
    for chunk in patients.chunks(AUDIT_CHUNK) {
        let args = json!({
            "auditor": out.caller.id,
            "patients": chunk,
            "what": format!("{contract}.{method}"),
            "served_by": node.id,
        });
        node.submit_own("access-grant", "record_audit", &args, Duration::from_secs(15)).await.map_err(|e| {
            tracing::warn!(auditor = %out.caller.id, "an auditor's read was not answered: recording it failed: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit-not-recorded",
                format!("an auditor's read of patient data is answered only once it is recorded on chain, and recording it failed: {e}"),
            )
        })?;
    }
    Ok(())
}
