//! Saving a record: sealed here, anchored on chain, both or neither.
//!
//! The content is staged in the record store (sealed, pending), then this node
//! signs `record-anchor.anchor` (or `amend`) for the author and waits for the
//! commit. Committed: the version is confirmed and may be served. Refused by
//! the contract: the staged version is erased. Not committed in time: it
//! stays pending, and the reconciler ([`super::shred::reconcile`]) confirms it
//! if its anchor commits, or erases it once its transaction can no longer
//! commit. No record content and no key reaches the chain.

use crate::api::guard::Who;
use crate::api::ApiError;
use crate::clock::now_ms;
use crate::runtime::{Node, OwnTxError};
use axum::http::StatusCode;
use phr_gateway::store::{Meta, SaveState};
use phr_ledger::CallerKind;
use rand_core::RngCore;
use serde_json::{json, Value};
use std::time::Duration;

/// What a caller asks to save.
#[derive(Clone, Debug)]
pub struct SaveRequest {
    pub patient: String,
    pub class: String,
    pub security_label: String,
    /// Chosen by the caller, or made by the node (`<org>-<24 hex>`).
    pub record_id: Option<String>,
    pub device: Option<String>,
    /// The content's media type (from `Content-Type`).
    pub content_type: String,
    pub content: Vec<u8>,
    /// The SHA-256 the caller says the content has (checked).
    pub claimed_sha256: Option<String>,
    /// For an amendment: why.
    pub amend_reason: Option<String>,
}

fn fresh_id(org: &str) -> String {
    let mut b = [0u8; 12];
    rand_core::OsRng.fill_bytes(&mut b);
    format!("{org}-{}", hex::encode(b))
}

/// Who may save here: a practitioner of this node's organisation, or (if this
/// node accepts them) a patient saving their own data. Returns whether the
/// record is self-reported.
fn saver(node: &Node, who: &Who, patient: &str) -> Result<bool, ApiError> {
    let forbidden = |m: String| ApiError::new(StatusCode::FORBIDDEN, "forbidden", m);
    let Some(c) = &who.caller else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "an enrolled key is needed"));
    };
    match c.kind {
        CallerKind::Practitioner if c.org.as_deref() == Some(node.org.as_str()) => Ok(false),
        CallerKind::Practitioner => Err(forbidden(format!(
            "a practitioner saves records at a node of its own organisation ({}); this node belongs to {}",
            c.org.as_deref().unwrap_or("?"),
            node.org
        ))),
        CallerKind::Patient if c.id == patient && node.gateway.accept_patient_uploads => Ok(true),
        CallerKind::Patient if c.id == patient => {
            Err(forbidden(format!("node {} does not accept records from patients", node.id)))
        }
        CallerKind::Patient => Err(forbidden("a patient saves only their own data".into())),
        _ => Err(forbidden("records are saved by practitioners, and by patients for their own data".into())),
    }
}

/// Check the content: its media type is one the gateway stores, FHIR JSON is
/// an R5 resource, and it has the SHA-256 the caller claims.
fn check_content(req: &SaveRequest) -> Result<(&'static str, String), ApiError> {
    let media = super::media_type(&req.content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "media type {:?} is not stored here; use one of {}",
                req.content_type,
                super::MEDIA_TYPES.join(", ")
            ),
        )
    })?;
    if req.content.is_empty() {
        return Err(ApiError::bad_request("bad-request", "the record's content is empty"));
    }
    if media == "application/fhir+json" {
        check_fhir(&req.content)?;
    }
    let sha = phr_ledger::sha256(&[&req.content]).to_hex();
    if let Some(c) = &req.claimed_sha256 {
        if !c.eq_ignore_ascii_case(&sha) {
            return Err(ApiError::bad_request(
                "hash-mismatch",
                format!("the content's SHA-256 is {sha}, the request claims {c}; nothing was saved"),
            ));
        }
    }
    Ok((media, sha))
}

/// Content saved as `application/fhir+json` must be an R5 resource.
fn check_fhir(bytes: &[u8]) -> Result<(), ApiError> {
    phr_gateway::fhir::validate_resource("application/fhir+json", bytes)
        .map_err(|e| ApiError::bad_request("invalid-fhir", format!("the content is not a valid FHIR R5 resource: {e}")))
}

/// Map a failed chain write to the answer the caller gets.
pub fn refused(e: OwnTxError) -> ApiError {
    match e {
        OwnTxError::Rejected { code, message } => {
            ApiError::new(crate::api::status_for_contract_code(&code), &code, message)
        }
        OwnTxError::Failed(m) => ApiError::internal(m),
        OwnTxError::Refused(m) => ApiError::bad_request("bad-request", m),
        OwnTxError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
        OwnTxError::Timeout(s) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pending",
            format!(
                "not committed within {s} s; it may still commit (a saved record's content is kept if its anchor \
                 commits, and erased if it cannot)"
            ),
        ),
    }
}

/// Save (or amend) a record. The answer is the committed anchor.
pub async fn save(node: &Node, who: &Who, req: SaveRequest) -> Result<Value, ApiError> {
    let self_reported = saver(node, who, &req.patient)?;
    let author = who.caller.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let (media, sha) = check_content(&req)?;
    let amending = req.amend_reason.is_some();
    let (record_id, version) = match (&req.record_id, amending) {
        (Some(id), true) => {
            let a = super::anchor(node, id)?;
            let a = a.ok_or_else(|| ApiError::not_found(format!("no record {id} is anchored")))?;
            // A patient amends only what they saved themself.
            if self_reported && !(a["source"]["self_reported"] == true && a["source"]["author"] == author.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "a patient amends only the records they saved themself; ask the record's organisation",
                ));
            }
            (id.clone(), a["version"].as_u64().unwrap_or(0) as u32 + 1)
        }
        (None, true) => return Err(ApiError::bad_request("bad-request", "an amendment names its record")),
        (Some(id), false) => {
            if super::anchor(node, id)?.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!(
                        "record {id} is anchored already: amend it (PUT /v1/records/{{id}}) or save under a new id"
                    ),
                ));
            }
            (id.clone(), 1)
        }
        (None, false) => (fresh_id(&node.org), 1),
    };
    let expiry = node.exec.tip().height + 100;
    let meta = Meta {
        record_id: record_id.clone(),
        version,
        patient: req.patient.clone(),
        media_type: media.to_string(),
        size: req.content.len() as u64,
        sha256: sha.clone(),
        state: SaveState::Pending,
        saved_at_ms: now_ms(),
        anchor_expiry_height: Some(expiry),
    };
    let store = node.gateway.store.clone();
    let (m, content) = (meta.clone(), req.content.clone());
    tokio::task::spawn_blocking(move || store.stage(&m, &content))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            // Another save of the same version is under way (or done): it keeps its content.
            e @ phr_gateway::store::StoreError::Exists(..) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", format!("{e}; nothing was changed"))
            }
            e => ApiError::internal(e.to_string()),
        })?;
    let common = json!({
        "record_id": record_id,
        "sha256": sha,
        "author": author,
        "held_by": node.id,
        "media_type": media,
        "size": req.content.len(),
    });
    let (method, mut args) = if amending {
        ("amend", json!({"reason": req.amend_reason, "class": req.class, "security_label": req.security_label}))
    } else {
        (
            "anchor",
            json!({"patient": req.patient, "class": req.class, "security_label": req.security_label,
                   "device": req.device, "self_reported": self_reported}),
        )
    };
    for (k, v) in common.as_object().expect("an object") {
        args[k] = v.clone();
    }
    let committed = node.submit_own_until("record-anchor", method, &args, expiry, Duration::from_secs(15)).await;
    let store = node.gateway.store.clone();
    match committed {
        Ok(c) => {
            let id = record_id.clone();
            tokio::task::spawn_blocking(move || store.confirm(&id, version))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let record: Value = serde_json::from_str(&c.receipt.output).unwrap_or(Value::Null);
            tracing::info!(record = %record_id, version, author = %author, "saved a record");
            Ok(json!({"record": record, "tx_id": c.receipt.tx_id, "height": c.height}))
        }
        Err(e @ OwnTxError::Timeout(_)) => Err(refused(e)),
        Err(e) => {
            let id = record_id.clone();
            let _ = tokio::task::spawn_blocking(move || store.abandon(&id, version)).await;
            Err(refused(e))
        }
    }
}
