//! Read-only contract queries.

use super::error::{status_for_contract_code, ApiError};
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use phr_executor::QueryError;
use phr_vm::CallResult;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    contract: String,
    method: String,
    /// A JSON value, or a string holding JSON text.
    #[serde(default)]
    args: Value,
}

pub async fn query(
    State(node): State<Arc<Node>>,
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
    node.metrics.queries.inc();
    // A query is one contract call against the store (tens of microseconds, fuel-bounded).
    let out = node.exec.query(&q.contract, &q.method, &args).map_err(|e| match e {
        QueryError::UnknownContract(_) => ApiError::new(StatusCode::NOT_FOUND, "unknown-contract", e.to_string()),
        QueryError::Fault(m) => ApiError::internal(m),
    })?;
    match out.result {
        CallResult::Ok(s) => {
            let result: Value = serde_json::from_str(&s).unwrap_or(Value::String(s));
            Ok(Json(json!({"result": result, "height": out.height, "fuel_used": out.fuel_used})))
        }
        CallResult::Err { code, message } => Err(ApiError::new(status_for_contract_code(&code), &code, message)),
        CallResult::OutOfFuel => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out-of-fuel", "the query used all its fuel"))
        }
        CallResult::Trapped { reason } => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "trapped", reason)),
    }
}
