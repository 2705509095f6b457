//! The record routes of the gateway: save, amend, fetch and shred a record's
//! content through the chain ([`crate::gateway`]), and back up the node.

use super::error::ApiError;
use super::guard::Who;
use crate::gateway::{self, fetch, save};
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use phr_ledger::CallerKind;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    patient: String,
    class: String,
    #[serde(default = "normal")]
    security_label: String,
    #[serde(default)]
    record_id: Option<String>,
    #[serde(default)]
    device: Option<String>,
    /// The SHA-256 (hex) the content must have.
    #[serde(default)]
    sha256: Option<String>,
}

fn normal() -> String {
    "N".to_string()
}

fn content_type(h: &HeaderMap) -> String {
    h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream").to_string()
}

/// `POST /v1/records`: save a record's content here and anchor it.
pub async fn create(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    p: Result<Query<SaveParams>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    let req = save::SaveRequest {
        patient: p.patient,
        class: p.class,
        security_label: p.security_label,
        record_id: p.record_id,
        device: p.device,
        content_type: content_type(&headers),
        content: body.to_vec(),
        claimed_sha256: p.sha256,
        amend_reason: None,
    };
    let out = save::save(&node, &who, req).await?;
    let location = format!("/v1/records/{}", out["record"]["record_id"].as_str().unwrap_or_default());
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(out)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendParams {
    reason: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    security_label: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// `PUT /v1/records/{id}`: store a new version and link it on chain.
pub async fn amend(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    id: Result<Path<String>, PathRejection>,
    p: Result<Query<AmendParams>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (Path(id), Query(p)) = (id?, p?);
    let anchor =
        gateway::anchor(&node, &id)?.ok_or_else(|| ApiError::not_found(format!("no record {id} is anchored")))?;
    let req = save::SaveRequest {
        patient: anchor["patient"].as_str().unwrap_or_default().to_string(),
        class: p.class.unwrap_or_else(|| anchor["class"].as_str().unwrap_or_default().to_string()),
        security_label: p
            .security_label
            .unwrap_or_else(|| anchor["security_label"].as_str().unwrap_or("N").to_string()),
        record_id: Some(id),
        device: None,
        content_type: content_type(&headers),
        content: body.to_vec(),
        claimed_sha256: p.sha256,
        amend_reason: Some(p.reason),
    };
    Ok(Json(save::save(&node, &who, req).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchParams {
    #[serde(default = "treat")]
    pub purpose: String,
}

fn treat() -> String {
    "TREAT".to_string()
}

/// `GET /v1/records/{id}`: the content, if the chain says so (logged either way).
pub async fn get(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    id: Result<Path<String>, PathRejection>,
    p: Result<Query<FetchParams>, QueryRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (Path(id), Query(p)) = (id?, p?);
    content(&node, &who, id, p.purpose, &method, &uri, &headers).await
}

/// A record's content for `who`: served here if this node holds it (the chain
/// decides and logs first), or the holder's answer to the request as the
/// client sent it.
pub async fn content(
    node: &Arc<Node>,
    who: &Who,
    id: String,
    purpose: String,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let n = node.clone();
    let rid = id.clone();
    let route = tokio::task::spawn_blocking(move || fetch::route(&n, &rid))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    match route {
        fetch::Route::Holder(holder) => {
            fetch::forwardable(who)?;
            Ok(gateway::forward::forward(node, &holder, method, uri, headers).await)
        }
        fetch::Route::Here(_) => {
            let served = fetch::serve(node, who, &fetch::FetchRequest { record_id: id, purpose }).await?;
            Ok(served.into_response())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisposeParams {
    reason: String,
}

/// `DELETE /v1/records/{id}`: dispose of a record; its content and keys are
/// destroyed where they are held.
pub async fn dispose(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    id: Result<Path<String>, PathRejection>,
    p: Result<Query<DisposeParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (Path(id), Query(p)) = (id?, p?);
    let Some(c) = &who.caller else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "an enrolled key is needed"));
    };
    if !matches!(c.kind, CallerKind::Practitioner | CallerKind::OrgAdmin) || c.org.as_deref() != Some(node.org.as_str())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "records are disposed of by practitioners and admins of their organisation, through its node ({})",
                node.org
            ),
        ));
    }
    let args = json!({"record_id": id, "reason": p.reason, "author": c.id});
    let committed = node
        .submit_own("record-anchor", "dispose", &args, Duration::from_secs(15))
        .await
        .map_err(crate::gateway::save::refused)?;
    let record: Value = serde_json::from_str(&committed.receipt.output).unwrap_or(Value::Null);
    // The shred loop may get there first on the commit event: what matters is
    // that nothing of it is left here once this answers.
    let destroyed = if record["held_by"].as_str() == Some(node.id.as_str()) {
        let (n, rid) = (node.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            crate::gateway::shred::shred(&n, &rid)?;
            n.gateway.store.versions(&rid).map(|v| v.is_empty()).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::internal)?
    } else {
        false
    };
    Ok(Json(json!({"record": record, "tx_id": committed.receipt.tx_id, "content_destroyed": destroyed})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupBody {
    /// The new directory: a name under the node's `records.backup_dir`, or
    /// an absolute path inside it (default `backup-<unix ms>`).
    #[serde(default)]
    out: Option<String>,
}

/// Where a backup goes: a new directory inside `backup_dir`, never anywhere
/// else on the node's machine.
fn backup_target(backup_dir: &std::path::Path, out: Option<String>) -> Result<std::path::PathBuf, ApiError> {
    let out = out.unwrap_or_else(|| format!("backup-{}", crate::clock::now_ms()));
    let refuse = |why: &str| {
        ApiError::bad_request(
            "malformed",
            format!(
                "out {out:?}: {why}; a backup is written only inside the node's records.backup_dir ({}), \
                 as a name of 1 to 64 of A-Z a-z 0-9 . _ - not starting with a dot, or an absolute path inside it",
                backup_dir.display()
            ),
        )
    };
    let path = std::path::Path::new(&out);
    let name = if path.is_absolute() {
        let rest = path.strip_prefix(backup_dir).map_err(|_| refuse("not inside backup_dir"))?;
        let mut parts = rest.components();
        match (parts.next(), parts.next()) {
            (Some(std::path::Component::Normal(n)), None) => n.to_string_lossy().into_owned(),
            _ => return Err(refuse("not a directory directly inside backup_dir")),
        }
    } else {
        out.clone()
    };
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(refuse("not a plain directory name"));
    }
    Ok(backup_dir.join(name))
}

/// `POST /v1/admin/backup`: a consistent backup of this running node.
pub async fn backup(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let is_admin = who
        .caller
        .as_ref()
        .is_some_and(|c| c.kind == CallerKind::OrgAdmin && c.org.as_deref() == Some(node.org.as_str()));
    if !is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only an admin of {} backs up its node", node.org),
        ));
    }
    let b: BackupBody = if body.is_empty() {
        BackupBody { out: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("malformed", format!("backup JSON: {e}")))?
    };
    let out = backup_target(&node.gateway.backup_dir, b.out)?;
    let n = node.clone();
    let path = out.display().to_string();
    let m = tokio::task::spawn_blocking(move || crate::gateway::backup::create(&n, &out))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            crate::gateway::backup::BackupError::Refused(m) => ApiError::bad_request("refused", m),
            other => ApiError::internal(other.to_string()),
        })?;
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    v["path"] = Value::String(path);
    Ok(Json(v))
}
