//! Fetching a record: the holder decides from the chain, logs, checks, serves.
//!
//! The node that holds a record's content submits `access-grant.disclose`
//! (signed by itself: the gateway is the witness) naming who asked, for which
//! purpose. The contract decides at the chain's current height — the patient
//! themself, an active grant, a permitting consent or a break-glass — and logs
//! the disclosure or the refusal in the same transaction. Only once that
//! committed saying `served` does the node open the content, check it against
//! the anchored SHA-256, and send it. A node asked for a record another node
//! holds forwards the request, signature and all, to that node.

use crate::api::guard::Who;
use crate::api::ApiError;
use crate::auth::Principal;
use crate::runtime::{Node, OwnTxError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use phr_ledger::CallerKind;
use serde_json::{json, Value};
use std::time::Duration;

/// How a caller asks for a record.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    pub record_id: String,
    /// Purpose of use (HL7 v3), default `TREAT`.
    pub purpose: String,
}

/// The content of a record, served.
pub struct Served {
    pub media_type: String,
    pub content: zeroize::Zeroizing<Vec<u8>>,
    pub sha256: String,
    pub version: u32,
    pub disclosure_tx: String,
}

impl IntoResponse for Served {
    fn into_response(self) -> Response {
        let digest = {
            use base64::Engine;
            let raw = hex::decode(&self.sha256).unwrap_or_default();
            format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(raw))
        };
        let mut r = (StatusCode::OK, self.content.to_vec()).into_response();
        let h = r.headers_mut();
        let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set(h, header::CONTENT_TYPE.as_str(), self.media_type);
        set(h, "repr-digest", digest);
        set(h, header::ETAG.as_str(), format!("\"{}\"", self.sha256));
        set(h, "x-phr-record-version", self.version.to_string());
        set(h, "x-phr-disclosure-tx", self.disclosure_tx);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// Where a fetch goes: served here, or forwarded to the holder.
pub enum Route {
    Here(Value),
    Holder(String),
}

/// Find the record's anchor and its holder.
pub fn route(node: &Node, record_id: &str) -> Result<Route, ApiError> {
    let anchor = super::anchor(node, record_id)?
        .ok_or_else(|| ApiError::not_found(format!("no record {record_id} is anchored")))?;
    match anchor["held_by"].as_str() {
        None => Err(ApiError::not_found(format!(
            "record {record_id} was anchored without a gateway: no node holds its content"
        ))),
        Some(h) if h == node.id => Ok(Route::Here(anchor)),
        Some(h) => Ok(Route::Holder(h.to_string())),
    }
}

/// Decide, log and serve a fetch of a record held here.
pub async fn serve(node: &Node, who: &Who, req: &FetchRequest) -> Result<Served, ApiError> {
    let Some(c) = &who.caller else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "an enrolled key is needed"));
    };
    if !matches!(c.kind, CallerKind::Patient | CallerKind::Practitioner | CallerKind::OrgAdmin | CallerKind::Auditor) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "records are read by patients and practitioners",
        ));
    }
    let args = json!({
        "requester": {"id": c.id, "org": c.org, "roles": c.roles},
        "requester_kind": c.kind,
        "record_id": req.record_id,
        "purpose": req.purpose,
        "served_by": node.id,
    });
    let committed =
        node.submit_own("access-grant", "disclose", &args, Duration::from_secs(15)).await.map_err(|e| match e {
            OwnTxError::Rejected { code, message } if code == "not-found" => ApiError::not_found(message),
            OwnTxError::Rejected { code, message } => ApiError::bad_request(&code, message),
            OwnTxError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-logged",
                format!("a record is served only once its disclosure is on chain, and logging it failed: {other}"),
            ),
        })?;
    let d: Value = serde_json::from_str(&committed.receipt.output).map_err(|e| ApiError::internal(e.to_string()))?;
    let tx = committed.receipt.tx_id.to_hex();
    let reason = d["reason"].as_str().unwrap_or_default().to_string();
    match d["outcome"].as_str() {
        Some("served") => {}
        Some("gone") => {
            return Err(ApiError::new(StatusCode::GONE, "gone", reason).with("disclosure_tx", json!(tx)));
        }
        _ => {
            tracing::info!(record = %req.record_id, requester = %c.id, "refused a fetch: {reason}");
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason).with("disclosure_tx", json!(tx)));
        }
    }
    let version = d["version"].as_u64().unwrap_or(0) as u32;
    let anchored = d["sha256"].as_str().unwrap_or_default().to_string();
    let (store, id) = (node.gateway.store.clone(), req.record_id.clone());
    let held = tokio::task::spawn_blocking(move || store.read(&id, version))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let Some((meta, content)) = held else {
        return Err(ApiError::internal(format!(
            "record {} version {version} is anchored as held here, but its content is not in this node's store",
            req.record_id
        )));
    };
    let actual = phr_ledger::sha256(&[&content]).to_hex();
    if actual != anchored {
        tracing::error!(record = %req.record_id, version, "stored content does not match its anchor; not served");
        return Err(ApiError::internal(format!(
            "the stored content of {} does not match its anchor (SHA-256 {actual}, anchored {anchored}); not served",
            req.record_id
        )));
    }
    Ok(Served { media_type: meta.media_type, content, sha256: actual, version, disclosure_tx: tx })
}

/// Whether a request can be forwarded to another node: only a signed one
/// (a session token is this node's own).
pub fn forwardable(who: &Who) -> Result<(), ApiError> {
    match who.principal {
        Principal::Signed(_) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "this record is held by another node: sign the request (session tokens are valid on one node only)",
        )),
    }
}
