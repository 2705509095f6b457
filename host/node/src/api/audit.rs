//! What auditors read from a node: the genesis, code, blocks as their stored
//! bytes, and the explanation of one transaction.

use super::error::ApiError;
use crate::runtime::Node;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use phr_ledger::Hash32;
use serde::Deserialize;
use std::sync::Arc;

/// Most blocks one raw request returns, and about the most bytes.
const MAX_RAW_BLOCKS: u64 = 256;
const MAX_RAW_BYTES: usize = 16 << 20;

pub async fn genesis(State(node): State<Arc<Node>>) -> Json<phr_ledger::Genesis> {
    Json(node.exec.genesis().clone())
}

fn hash(s: &str, what: &str) -> Result<Hash32, ApiError> {
    s.parse().map_err(|e: String| ApiError::bad_request("malformed", format!("{what}: {e}")))
}

pub async fn code(State(node): State<Arc<Node>>, h: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(h) = h?;
    let h = hash(&h, "code hash")?;
    match node.exec.db().code(&h).map_err(|e| ApiError::internal(e.to_string()))? {
        Some(bytes) => Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response()),
        None => Err(ApiError::not_found(format!("no code {h} is stored here"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    from: u64,
    #[serde(default = "one")]
    count: u64,
}

fn one() -> u64 {
    1
}

/// Blocks `from..from+count` with their receipts, in the format of
/// `phr_audit::wire` (stops early at the tip or about 16 MiB).
pub async fn raw_blocks(
    State(node): State<Arc<Node>>,
    p: Result<Query<RawParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    if p.count == 0 || p.count > MAX_RAW_BLOCKS {
        return Err(ApiError::bad_request("malformed", format!("count must be between 1 and {MAX_RAW_BLOCKS}")));
    }
    let tip = node.exec.tip().height;
    if p.from > tip {
        return Err(ApiError::not_found(format!("no block {}; the chain is at {tip}", p.from)));
    }
    let exec = node.exec.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let db = exec.db();
        let mut out = Vec::new();
        for h in p.from..(p.from + p.count).min(tip + 1) {
            let b = db.block(h).map_err(|e| e.to_string())?.ok_or_else(|| format!("block {h} is missing"))?;
            phr_audit::wire::encode_block(&mut out, &b, &db.receipts(h).map_err(|e| e.to_string())?);
            if out.len() > MAX_RAW_BYTES {
                break;
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// Run committed transaction `id` again at its pre-state (`phr audit explain`).
pub async fn explain(
    State(node): State<Arc<Node>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let id = hash(&id, "transaction id")?;
    let exec = node.exec.clone();
    let e = tokio::task::spawn_blocking(move || exec.explain(&id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            phr_executor::ExecError::Busy(_) => ApiError::busy(e.to_string()),
            e => ApiError::internal(e.to_string()),
        })?;
    match e {
        Some(e) => Ok(Json(e).into_response()),
        None => Err(ApiError::not_found(format!("no transaction {id} is committed"))),
    }
}
