//! Errors of the HTTP API: a status and a JSON body naming what was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use phr_executor::Rejection;
use serde_json::{json, Value};

/// An API error: `{"error": {"code": ..., "message": ...}}` plus optional fields.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub extra: Option<(String, Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.to_string(), message: message.into(), extra: None }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// 503 `busy`: the node has no capacity for this now; the client may retry.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "node-fault", message)
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra = Some((key.to_string(), value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if let Some((k, v)) = self.extra {
            body[k] = v;
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too-large" } else { "malformed" };
        ApiError::new(status, code, format!("request body: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request("malformed", format!("query parameters: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request("malformed", format!("path: {}", r.body_text()))
    }
}

/// The HTTP status for a contract error code (WIT kebab-case).
pub fn status_for_contract_code(code: &str) -> StatusCode {
    match code {
        "unauthorized" | "denied" => StatusCode::FORBIDDEN,
        "not-found" => StatusCode::NOT_FOUND,
        // Lifecycle: the state of approvals or sequences does not allow it yet.
        "conflict" | "wrong-sequence" | "not-approved" | "migrate-failed" => StatusCode::CONFLICT,
        // Lifecycle: the component itself is refused.
        "invalid-code" | "code-rejected" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let status = match &r {
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::UnknownSigner(_) | Rejection::RevokedSigner(_) => StatusCode::FORBIDDEN,
            Rejection::Duplicate(_) => StatusCode::CONFLICT,
            Rejection::UnknownContract(_) => StatusCode::NOT_FOUND,
            Rejection::Fault(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, r.code(), r.to_string())
    }
}
