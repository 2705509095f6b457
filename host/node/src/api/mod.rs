//! The node's HTTP JSON API. See `docs/api.md` and `docs/openapi.yaml`.

pub mod admin;
mod audit;
mod chain;
mod error;
mod events;
mod query;
mod txs;
pub mod views;

pub use error::ApiError;

use crate::runtime::Node;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The OpenAPI description served at `/v1/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

/// Every route of the API.
pub fn router(node: Arc<Node>) -> Router {
    let params = &node.exec.genesis().params;
    let body_limit = txs::json_limit(params).max(params.max_any_tx_bytes()) + 64 * 1024;
    Router::new()
        .route("/v1/txs", post(txs::submit))
        .route("/v1/txs/{id}", get(txs::get))
        .route("/v1/query", post(query::query))
        .route("/v1/status", get(chain::status))
        .route("/v1/blocks", get(chain::blocks))
        .route("/v1/blocks/{height}", get(chain::block))
        .route("/v1/contracts", get(chain::contracts))
        .route("/v1/admin/nodes", post(admin::nodes))
        .route("/v1/genesis", get(audit::genesis))
        .route("/v1/code/{hash}", get(audit::code))
        .route("/v1/raw/blocks", get(audit::raw_blocks))
        .route("/v1/audit/explain/{id}", get(audit::explain))
        .route("/v1/events", get(events::events))
        .route("/v1/openapi.yaml", get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI) }))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such route; see /v1/openapi.yaml") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(node)
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    node.metrics.mempool.set(node.mempool.len() as i64);
    node.metrics.raft(&node.sequencer.status());
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], node.metrics.render())
}
