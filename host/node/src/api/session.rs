//! Session tokens: `POST /v1/session` (signed) issues one, `DELETE
//! /v1/session` (with the token) ends it. See [`crate::auth::sessions`].

use super::error::ApiError;
use super::guard::Who;
use crate::auth::{bearer, sessions, Principal};
use crate::clock::now_ms;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    /// Seconds the token should live (at most an hour; default 15 minutes).
    #[serde(default)]
    ttl_s: Option<u64>,
}

pub async fn open(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Principal::Signed(key) = who.principal else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a session is opened with a signed request, not with another session",
        ));
    };
    let b: SessionBody = if body.is_empty() {
        SessionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("malformed", format!("session JSON: {e}")))?
    };
    let ttl = b.ttl_s.unwrap_or(900);
    if ttl == 0 || ttl > sessions::MAX_TTL_S {
        return Err(ApiError::bad_request("malformed", format!("ttl_s must be between 1 and {}", sessions::MAX_TTL_S)));
    }
    let issued = node.edge.auth.sessions.lock().issue(key, ttl, now_ms()).map_err(ApiError::busy)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": issued.token,
            "expires_at_ms": issued.expires_ms,
            "id": key.id(),
            "caller": who.caller,
        })),
    ))
}

pub async fn close(State(node): State<Arc<Node>>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::bad_request("malformed", "send the token to end as `Authorization: Bearer <token>`"));
    };
    node.edge.auth.sessions.lock().revoke(token);
    Ok(StatusCode::NO_CONTENT)
}
