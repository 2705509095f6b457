//! Reads: the capability statement, one DocumentReference, and a patient's
//! `$everything`.

use super::{base_url, from_fhir, patient_param, resource, search};
use crate::api::guard::Who;
use crate::api::query;
use crate::api::ApiError;
use crate::runtime::Node;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use phr_gateway::fhir;
use phr_tls::serve::ConnInfo;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Most entries of each kind one `$everything` gathers.
pub const MAX_EVERYTHING: usize = 10_000;

/// `GET /fhir/metadata`: what the facade serves (public: nothing about anyone).
pub async fn metadata(conn: Option<Extension<ConnInfo>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let base = base_url(&headers, conn.as_deref(), "localhost");
    let c = fhir::capability_statement(&base, env!("CARGO_PKG_VERSION")).map_err(from_fhir)?;
    resource(StatusCode::OK, &c)
}

/// `GET /fhir/DocumentReference/{id}`: a record's anchor, if the caller may
/// read it (`record-anchor.get` rules). The content is at `Binary/{id}`.
pub async fn document(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(id), Query(q)) = (id?, q?);
    no_params(&q)?;
    let record_id = fhir::from_fhir_id(&id).map_err(from_fhir)?;
    let out = query::run(&node, &who, "record-anchor", "get", json!({"record_id": record_id}).to_string()).await?;
    let doc =
        fhir::document_reference(&out.result, &base_url(&headers, conn.as_deref(), "localhost")).map_err(from_fhir)?;
    resource(StatusCode::OK, &doc)
}

fn no_params(q: &HashMap<String, String>) -> Result<(), ApiError> {
    match q.keys().next() {
        Some(k) => Err(ApiError::bad_request("malformed", format!("this read takes no parameters; got {k:?}"))),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EverythingParams {}

/// `GET /fhir/Patient/{id}/$everything`: the patient, their records, consents
/// and accounting of disclosures in one Bundle. Each part is read as the
/// caller, so only the patient themself (and auditors, whose read is recorded)
/// get it whole; anyone else is refused at the first part they may not read.
pub async fn everything(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<EverythingParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(id), Query(_)) = (id?, q?);
    let patient = patient_param(&id)?;
    let identity = query::run(&node, &who, "identity", "get", json!({"id": patient}).to_string()).await?.result;
    let records =
        search::gather(&node, &who, &patient, ("record-anchor", "list_by_patient", "records"), MAX_EVERYTHING).await?;
    let consents = search::gather(&node, &who, &patient, ("consent", "list", "consents"), MAX_EVERYTHING).await?;
    let disclosures =
        search::gather(&node, &who, &patient, ("access-grant", "disclosures", "disclosures"), MAX_EVERYTHING).await?;
    let base = base_url(&headers, conn.as_deref(), "localhost");
    let self_url = format!("{base}/Patient/{patient}/$everything");
    let b =
        fhir::bundle_everything(&base, &self_url, &identity, &records, &consents, &disclosures).map_err(from_fhir)?;
    resource(StatusCode::OK, &b)
}
