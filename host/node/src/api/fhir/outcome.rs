//! Every error on a `/fhir` path as an R5 `OperationOutcome`.
//!
//! Handlers, the guard and the router's fallbacks answer errors as the API's
//! JSON (`{"error": {"code", "message"}}`); on the way out, this middleware
//! rewrites those on `/fhir` paths into an `OperationOutcome` with the same
//! status and headers, its issue type chosen from the status and its
//! diagnostics the message. Other responses pass unchanged.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use phr_gateway::fhir::{self, IssueSeverity, IssueType};
use serde_json::Value;

/// Largest error body rewritten (API errors are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The issue type for an HTTP status.
pub fn issue_type(status: StatusCode) -> IssueType {
    match status.as_u16() {
        401 => IssueType::Login,
        403 => IssueType::Forbidden,
        404 => IssueType::NotFound,
        405 | 406 | 415 => IssueType::NotSupported,
        409 | 412 => IssueType::Conflict,
        410 => IssueType::Deleted,
        413 => IssueType::TooLong,
        429 => IssueType::Throttled,
        503 | 504 => IssueType::Transient,
        s if s >= 500 => IssueType::Exception,
        _ => IssueType::Invalid,
    }
}

/// Middleware: rewrite the API's JSON errors on `/fhir` paths.
pub async fn outcomes(req: Request, next: Next) -> Response {
    let fhir_path = req.uri().path() == "/fhir" || req.uri().path().starts_with("/fhir/");
    let resp = next.run(req).await;
    let is_api_error = resp.status().as_u16() >= 400
        && resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !fhir_path || !is_api_error {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let message = v["error"]["message"].as_str().unwrap_or("the request failed");
    // A 400 whose code is itself an issue type (a FHIR mapping's precise
    // `required`, `value`, `structure`…) keeps it; otherwise the status decides.
    let precise = (parts.status == StatusCode::BAD_REQUEST)
        .then(|| serde_json::from_value::<IssueType>(v["error"]["code"].clone()).ok())
        .flatten();
    let outcome = fhir::operation_outcome(IssueSeverity::Error, precise.unwrap_or(issue_type(parts.status)), message);
    let json = fhir::to_json(&outcome).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(fhir::MEDIA_TYPE));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}
