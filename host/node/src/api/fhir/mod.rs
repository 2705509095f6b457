//! The FHIR R5 REST facade at `/fhir`: the same chain and gateway as `/v1`,
//! spoken as FHIR.
//!
//! | interaction | chain | answer |
//! |---|---|---|
//! | `GET /fhir/metadata` | — | `CapabilityStatement` (public) |
//! | `POST /fhir/DocumentReference` | record-anchor, by this node for the author | `DocumentReference`, 201 |
//! | `GET /fhir/DocumentReference/{id}` | `record-anchor.get` as the caller | `DocumentReference` |
//! | `GET /fhir/DocumentReference?patient=` | `record-anchor.list_by_patient` as the caller | `Bundle` |
//! | `GET /fhir/Binary/{id}` | `access-grant.disclose` by the holder | the content itself |
//! | `GET /fhir/Consent?patient=` | `consent.list` as the caller | `Bundle` |
//! | `GET /fhir/AuditEvent?patient=` | `access-grant.disclosures` as the caller | `Bundle` |
//! | `GET /fhir/Patient/{id}/$everything` | all of the above | `Bundle` |
//!
//! Every query runs as the caller, so the contracts' read rules decide what
//! each sees, exactly as on `/v1`; the mapping itself is `phr_gateway::fhir`.
//! Every error on a `/fhir` path, the guard's included, is an
//! `OperationOutcome` ([`outcome::outcomes`]).

pub mod outcome;
pub mod read;
pub mod search;
pub mod write;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phr_gateway::fhir::{self, FhirError};
use phr_tls::serve::ConnInfo;

use super::ApiError;

/// The base URL of the facade as the client reached it: `https://<Host>/fhir`
/// (`http` on a plain listener). A `Host` that is not a plain host name or
/// address with a port is not echoed: `fallback_addr` stands in.
pub fn base_url(headers: &HeaderMap, conn: Option<&ConnInfo>, fallback_addr: &str) -> String {
    let scheme = if conn.is_some_and(|c| !c.tls) { "http" } else { "https" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or(fallback_addr);
    format!("{scheme}://{host}/fhir")
}

/// A resource served as `application/fhir+json` with `status`.
pub fn resource<T: serde::Serialize>(status: StatusCode, r: &T) -> Result<Response, ApiError> {
    let bytes = fhir::to_json(r).map_err(from_fhir)?;
    Ok((status, [(header::CONTENT_TYPE, fhir::MEDIA_TYPE), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// A FHIR mapping error as an API error (turned into an `OperationOutcome` on
/// the way out).
pub fn from_fhir(e: FhirError) -> ApiError {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A client's mistake keeps its issue type (`required`, `value`, …) as its code.
    let issue = serde_json::to_value(e.issue_type()).ok().and_then(|v| v.as_str().map(str::to_string));
    let code = match &e {
        FhirError::Invalid { .. } => issue.as_deref().unwrap_or("invalid"),
        FhirError::NotFound(_) => "not-found",
        _ => "node-fault",
    };
    if status.is_server_error() {
        tracing::error!("FHIR mapping: {e}");
    }
    ApiError::new(status, code, e.to_string())
}

/// The identity id named by a `patient` search parameter: `Patient/<id>` or
/// the id itself.
pub fn patient_param(p: &str) -> Result<String, ApiError> {
    let id = p.strip_prefix("Patient/").unwrap_or(p);
    if id.len() == 40 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(id.to_string())
    } else {
        Err(ApiError::bad_request(
            "malformed",
            "patient must be Patient/<identity id> or the id: 40 lowercase hex digits",
        ))
    }
}
