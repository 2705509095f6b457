//! Submitting transactions and reading their receipts.

use super::error::ApiError;
use super::guard::{too_many, Who};
use super::views;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use phr_ledger::{Hash32, SignedTx};
use phr_orderer::MempoolError;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// Wait for the transaction to commit and return its receipt.
    #[serde(default)]
    wait: bool,
    /// How long to wait (default 10 s, at most 120 s).
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// The largest JSON body accepted: a transaction of the ordinary limit, whose
/// JSON text may be up to about three times its canonical size.
pub(super) fn json_limit(params: &phr_ledger::ChainParams) -> usize {
    3 * params.max_tx_bytes as usize + 1024
}

/// Parse a submitted transaction: canonical bytes (`application/octet-stream`)
/// or JSON.
fn parse(node: &Node, headers: &HeaderMap, body: &[u8]) -> Result<SignedTx, ApiError> {
    // Canonical bytes may be as large as the largest kind (an install);
    // admission then applies the limit of the transaction's own kind.
    let params = &node.exec.genesis().params;
    let max = params.max_any_tx_bytes();
    let binary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/octet-stream"));
    if binary {
        return SignedTx::decode_limited(body, max).map_err(|e| match e {
            phr_ledger::TxError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", e.to_string())
            }
            other => ApiError::bad_request("malformed", other.to_string()),
        });
    }
    let max_json = json_limit(params);
    if body.len() > max_json {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "body is {} bytes; a JSON transaction is at most {max_json} bytes (transactions are at most {} bytes; \
                 send a contract install as canonical bytes with Content-Type: application/octet-stream)",
                body.len(),
                params.max_tx_bytes
            ),
        ));
    }
    serde_json::from_slice::<SignedTx>(body)
        .map_err(|e| ApiError::bad_request("malformed", format!("transaction JSON: {e}")))
}

pub async fn submit(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    p: Result<Query<SubmitParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    let body = body?;
    let tx =
        parse(&node, &headers, &body).inspect_err(|e| node.metrics.txs_rejected.with_label_values(&[&e.code]).inc())?;
    // Submissions count against the transaction's signer, whoever sends it;
    // self-enrolments (each with a new key) against the sender's address.
    let enrolment = tx.body.contract == "identity" && tx.body.method == "enrol_patient";
    let limited = node.edge.limits.submission(&tx.body.signer).and_then(|()| {
        if enrolment {
            node.edge.limits.enrolment(who.remote)
        } else {
            Ok(())
        }
    });
    if let Err(over) = limited {
        node.metrics.txs_rejected.with_label_values(&["rate-limited"]).inc();
        tracing::info!(signer = %tx.body.signer.id(), "refused a transaction: {}", over.what);
        return Ok(too_many(over));
    }
    // Admission is one signature check and a few point reads (~0.1 ms): cheaper
    // done here than handed to another thread.
    let id = node.exec.admit(&tx).map_err(|r| {
        node.metrics.txs_rejected.with_label_values(&[r.code()]).inc();
        ApiError::from(r)
    })?;
    if let Some(why) = node.commit_obstacle() {
        node.metrics.txs_rejected.with_label_values(&["no-quorum"]).inc();
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-quorum",
            format!("not accepted: {why}; retry later"),
        ));
    }
    // Dropping the ticket (on any return, or if the client goes away) releases the wait.
    let (_ticket, waiter) = match p.wait.then(|| node.waiters.register(id)) {
        Some((t, w)) => (Some(t), Some(w)),
        None => (None, None),
    };
    let size = phr_ledger::Canonical::to_canonical(&tx).len();
    match node.mempool.push(id, tx, size) {
        Ok(()) | Err(MempoolError::Pending(_)) => {}
        Err(e @ (MempoolError::Full(_) | MempoolError::FullBytes(_))) => {
            node.metrics.txs_rejected.with_label_values(&["busy"]).inc();
            return Err(ApiError::busy(e.to_string()));
        }
    }
    node.metrics.mempool.set(node.mempool.len() as i64);
    let Some(waiter) = waiter else {
        return Ok((StatusCode::ACCEPTED, Json(json!({"tx_id": id, "status": "pending"}))).into_response());
    };
    let timeout = Duration::from_millis(p.timeout_ms.unwrap_or(10_000).min(120_000));
    match tokio::time::timeout(timeout, waiter).await {
        Ok(Ok(c)) => {
            let status = views::receipt_status(&c.receipt);
            let view = views::receipt(c.height, c.index, &c.receipt);
            match views::failure(&c.receipt) {
                None => Ok((status, Json(view)).into_response()),
                Some((code, message)) => Err(ApiError::new(status, &code, message).with("receipt", view)),
            }
        }
        Ok(Err(_)) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the node is shutting down")),
        Err(_) => match node.commit_obstacle() {
            Some(why) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no-quorum",
                format!("not committed within {} ms: {why}; it stays queued here and may commit later (GET /v1/txs/{id})", timeout.as_millis()),
            )
            .with("tx_id", json!(id))),
            None => Ok((
                StatusCode::ACCEPTED,
                Json(json!({"tx_id": id, "status": "pending", "message": format!("not committed within {} ms; poll GET /v1/txs/{id}", timeout.as_millis())})),
            )
                .into_response()),
        },
    }
}

/// A receipt, for the transaction's signer or a chain reader. Anyone else
/// learns nothing, not even whether the transaction exists.
pub async fn get(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let id: Hash32 =
        id.parse().map_err(|e: String| ApiError::bad_request("malformed", format!("transaction id: {e}")))?;
    let db = node.exec.db();
    let committed = db.receipt(&id).map_err(|e| ApiError::internal(e.to_string()))?;
    let signer = match &committed {
        Some(((h, i), _)) => db
            .block(*h)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .and_then(|b| b.txs.get(*i as usize).map(|t| t.body.signer)),
        None => node.mempool.get(&id).map(|t| t.body.signer),
    };
    let allowed = signer.is_some() && (who.chain_reader || signer == who.principal.key());
    if !allowed {
        tracing::info!(caller = %who.describe(), "refused a receipt it did not sign");
        return Err(ApiError::not_found(format!(
            "no transaction {id} signed by this caller is committed or waiting here (receipts are for their signer and chain readers)"
        )));
    }
    match committed {
        Some(((h, i), r)) => Ok(Json(views::receipt(h, i, &r)).into_response()),
        None => Ok((StatusCode::ACCEPTED, Json(json!({"tx_id": id, "status": "pending"}))).into_response()),
    }
}
