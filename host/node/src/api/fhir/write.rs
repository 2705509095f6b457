//! Writes and content: a DocumentReference create saves a document through
//! this node; `Binary/{id}` is a record's content, served as `/v1/records`
//! serves it.

use super::{base_url, from_fhir, resource};
use crate::api::guard::Who;
use crate::api::records::{self, FetchParams};
use crate::api::ApiError;
use crate::gateway::save;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use phr_gateway::fhir;
use phr_tls::serve::ConnInfo;
use std::sync::Arc;

/// `POST /fhir/DocumentReference`: save the inline attachment as a record of
/// the subject, sealed here and anchored on chain for the caller (the same
/// rules as `POST /v1/records`). 201 with the new DocumentReference.
pub async fn create(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != fhir::MEDIA_TYPE && essence != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "a DocumentReference is sent as application/fhir+json",
        ));
    }
    let doc = fhir::parse_document_reference_create(&body).map_err(from_fhir)?;
    let req = save::SaveRequest {
        patient: doc.patient,
        class: doc.class,
        security_label: doc.security_label,
        record_id: None,
        device: None,
        content_type: doc.media_type,
        content: doc.bytes,
        claimed_sha256: None,
        amend_reason: None,
    };
    let out = save::save(&node, &who, req).await?;
    let base = base_url(&headers, conn.as_deref(), "localhost");
    let created = fhir::document_reference(&out["record"], &base).map_err(from_fhir)?;
    let mut resp = resource(StatusCode::CREATED, &created)?;
    if let Some(id) = &created.id {
        if let Ok(v) = HeaderValue::from_str(&format!("{base}/DocumentReference/{id}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

/// `GET /fhir/Binary/{id}?purpose=`: the record's content itself, with the
/// headers of `GET /v1/records/{id}` (the chain decides and logs first).
pub async fn binary(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    id: Result<Path<String>, PathRejection>,
    p: Result<Query<FetchParams>, QueryRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (Path(id), Query(p)) = (id?, p?);
    let record_id = fhir::from_fhir_id(&id).map_err(from_fhir)?;
    records::content(&node, &who, record_id, p.purpose, &method, &uri, &headers).await
}
