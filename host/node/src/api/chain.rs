//! Status, blocks and contracts.

use super::error::ApiError;
use super::views;
use crate::runtime::Node;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn status(State(node): State<Arc<Node>>) -> Json<Value> {
    let tip = node.exec.tip();
    let g = node.exec.genesis();
    let raft = node.sequencer.status();
    Json(json!({
        "node_id": node.id,
        "chain_id": g.chain_id,
        "genesis_hash": g.hash(),
        "height": tip.height,
        "last_block_hash": tip.block_hash,
        "last_block_time_ms": tip.time_ms,
        "state_root": tip.state_root,
        "receipts_root": tip.receipts_root,
        "raft": raft,
        "mempool_txs": node.mempool.len(),
        "halted": raft.halted,
        "commit_obstacle": node.commit_obstacle(),
        "uptime_s": node.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockParams {
    #[serde(default)]
    receipts: bool,
}

pub async fn block(
    State(node): State<Arc<Node>>,
    height: Result<Path<String>, PathRejection>,
    p: Result<Query<BlockParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (Path(height), Query(p)) = (height?, p?);
    let height = if height == "latest" {
        node.exec.tip().height
    } else {
        height.parse::<u64>().map_err(|_| {
            ApiError::bad_request("malformed", format!("block height {height:?} is not a number or `latest`"))
        })?
    };
    let n = node.clone();
    tokio::task::spawn_blocking(move || {
        let db = n.exec.db();
        let b = db.block(height).map_err(|e| ApiError::internal(e.to_string()))?;
        let b = b.ok_or_else(|| {
            ApiError::not_found(format!("no block {height}; the chain is at {}", n.exec.tip().height))
        })?;
        let receipts =
            if p.receipts { Some(db.receipts(height).map_err(|e| ApiError::internal(e.to_string()))?) } else { None };
        Ok(Json(views::block(&b, receipts.as_deref())))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    from: Option<u64>,
    #[serde(default = "twenty")]
    limit: u64,
}

fn twenty() -> u64 {
    20
}

/// Block headers from `from` (default: the newest `limit`), ascending.
pub async fn blocks(
    State(node): State<Arc<Node>>,
    p: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = p?;
    let tip = node.exec.tip().height;
    if !(1..=1000).contains(&p.limit) {
        return Err(ApiError::bad_request("malformed", "limit must be between 1 and 1000"));
    }
    let limit = p.limit;
    let from = p.from.unwrap_or_else(|| (tip + 1).saturating_sub(limit));
    let n = node.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for h in from..=tip.min(from.saturating_add(limit - 1)) {
            if let Some(b) = n.exec.db().block(h).map_err(|e| ApiError::internal(e.to_string()))? {
                out.push(json!({"height": h, "hash": b.hash(), "time_ms": b.header.time_ms, "tx_count": b.header.tx_count, "proposer": b.header.proposer}));
            }
        }
        Ok(Json(json!({"height": tip, "blocks": out})))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

pub async fn contracts(State(node): State<Arc<Node>>) -> Result<Json<Value>, ApiError> {
    let recs = node.exec.contracts().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!({"contracts": recs, "system": ["identity", "lifecycle"]})))
}
