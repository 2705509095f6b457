//! Searches: a patient's documents, consents and accounting of disclosures,
//! each a `searchset` Bundle a page at a time.
//!
//! Paging follows the contracts' own: a page is one contract query of at most
//! `_count` entries (default [`DEFAULT_COUNT`], at most [`MAX_COUNT`]), and the
//! `next` link carries the contract's cursor as `_cursor`. Documents sorted by
//! `date` (the record's last change, as `DocumentReference.date`; `_sort=date`
//! or `-date`) are read whole, up to [`MAX_SORTED`], sorted,
//! and paged by `_offset`; the Bundle then has its `total`.

use super::{base_url, from_fhir, patient_param, resource};
use crate::api::guard::Who;
use crate::api::query;
use crate::api::ApiError;
use crate::runtime::Node;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use phr_gateway::fhir::{self, Resource};
use phr_tls::serve::ConnInfo;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Entries per page when `_count` is not given.
pub const DEFAULT_COUNT: u32 = 50;
/// Most entries per page.
pub const MAX_COUNT: u32 = 200;
/// Most documents a date-sorted search reads.
pub const MAX_SORTED: usize = 5000;

/// The parameters every search takes. Anything else is refused, so that a
/// filter the facade does not implement is never silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    patient: String,
    #[serde(default, rename = "_count")]
    count: Option<u32>,
    #[serde(default, rename = "_cursor")]
    cursor: Option<String>,
    #[serde(default, rename = "_sort")]
    sort: Option<String>,
    #[serde(default, rename = "_offset")]
    offset: Option<usize>,
}

/// One search, as a handler sees it.
struct Search<'a> {
    node: &'a Arc<Node>,
    who: &'a Who,
    base: String,
    patient: String,
    count: u32,
}

impl Search<'_> {
    /// One page of `contract.method` for the patient: the entries under
    /// `field` and the cursor of the next page.
    async fn page(
        &self,
        contract: &str,
        method: &str,
        field: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        let args = json!({"patient": self.patient, "limit": limit, "after": after}).to_string();
        let out = query::run(self.node, self.who, contract, method, args).await?;
        let items = out.result[field].as_array().cloned().unwrap_or_default();
        Ok((items, out.result["next"].as_str().map(str::to_string)))
    }

    fn link(&self, kind: &str, extra: &[(&str, String)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("patient", &format!("Patient/{}", self.patient));
        q.append_pair("_count", &self.count.to_string());
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("{}/{kind}?{}", self.base, q.finish())
    }

    /// A page of `kind` resources, mapped by `map`, as a searchset Bundle.
    async fn bundle(
        &self,
        kind: &str,
        (contract, method, field): (&str, &str, &str),
        cursor: Option<&str>,
        map: impl Fn(&Value) -> Result<Resource, fhir::FhirError>,
    ) -> Result<Response, ApiError> {
        let (items, next) = self.page(contract, method, field, self.count, cursor).await?;
        let entries = items.iter().map(&map).collect::<Result<Vec<_>, _>>().map_err(from_fhir)?;
        let self_url = self.link(kind, &cursor.map(|c| vec![("_cursor", c.to_string())]).unwrap_or_default());
        let next_url = next.map(|n| self.link(kind, &[("_cursor", n)]));
        let b = fhir::bundle_searchset(&self.base, entries, &self_url, next_url.as_deref(), None).map_err(from_fhir)?;
        resource(StatusCode::OK, &b)
    }
}

fn start<'a>(
    node: &'a Arc<Node>,
    who: &'a Who,
    headers: &HeaderMap,
    conn: Option<&ConnInfo>,
    p: &SearchParams,
) -> Result<Search<'a>, ApiError> {
    let count = p.count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(ApiError::bad_request("malformed", format!("_count must be 1 to {MAX_COUNT}")));
    }
    Ok(Search { node, who, base: base_url(headers, conn, "localhost"), patient: patient_param(&p.patient)?, count })
}

fn only_cursor(p: &SearchParams) -> Result<(), ApiError> {
    if p.sort.is_some() || p.offset.is_some() {
        return Err(ApiError::bad_request("malformed", "this search takes patient, _count and _cursor only"));
    }
    Ok(())
}

/// `GET /fhir/DocumentReference?patient=`: the patient's records the caller
/// may read, as DocumentReferences.
pub async fn documents(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    p: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    let s = start(&node, &who, &headers, conn.as_deref(), &p)?;
    let base = s.base.clone();
    let map = |r: &Value| fhir::document_reference(r, &base).map(Resource::from);
    let descending = match p.sort.as_deref() {
        None => {
            if p.offset.is_some() {
                return Err(ApiError::bad_request("malformed", "_offset pages a sorted search: give _sort too"));
            }
            return s
                .bundle("DocumentReference", ("record-anchor", "list_by_patient", "records"), p.cursor.as_deref(), map)
                .await;
        }
        Some("date") => false,
        Some("-date") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "malformed",
                format!("_sort {other:?}: documents sort by `date` or `-date`"),
            ))
        }
    };
    if p.cursor.is_some() {
        return Err(ApiError::bad_request("malformed", "a sorted search pages by _offset, not _cursor"));
    }
    let mut all = gather(&node, &who, &s.patient, ("record-anchor", "list_by_patient", "records"), MAX_SORTED).await?;
    all.sort_by(|a, b| {
        let key =
            |v: &Value| (v["updated_at_ms"].as_u64().unwrap_or(0), v["record_id"].as_str().unwrap_or("").to_string());
        if descending {
            key(b).cmp(&key(a))
        } else {
            key(a).cmp(&key(b))
        }
    });
    let total = all.len();
    let offset = p.offset.unwrap_or(0).min(total);
    let end = (offset + s.count as usize).min(total);
    let entries = all[offset..end].iter().map(map).collect::<Result<Vec<_>, _>>().map_err(from_fhir)?;
    let sort = p.sort.clone().unwrap_or_default();
    let self_url = s.link("DocumentReference", &[("_sort", sort.clone()), ("_offset", offset.to_string())]);
    let next_url = (end < total).then(|| s.link("DocumentReference", &[("_sort", sort), ("_offset", end.to_string())]));
    let b = fhir::bundle_searchset(&s.base, entries, &self_url, next_url.as_deref(), Some(total as u32))
        .map_err(from_fhir)?;
    resource(StatusCode::OK, &b)
}

/// `GET /fhir/Consent?patient=`: the patient's consents (the patient and
/// auditors only, as `consent.list` rules).
pub async fn consents(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    p: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    only_cursor(&p)?;
    let s = start(&node, &who, &headers, conn.as_deref(), &p)?;
    s.bundle("Consent", ("consent", "list", "consents"), p.cursor.as_deref(), |c| fhir::consent(c).map(Resource::from))
        .await
}

/// `GET /fhir/AuditEvent?patient=`: the accounting of disclosures (the
/// patient and auditors only, as `access-grant.disclosures` rules).
pub async fn audit_events(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    p: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    only_cursor(&p)?;
    let s = start(&node, &who, &headers, conn.as_deref(), &p)?;
    s.bundle("AuditEvent", ("access-grant", "disclosures", "disclosures"), p.cursor.as_deref(), |e| {
        fhir::audit_event(e).map(Resource::from)
    })
    .await
}

/// Read every page of `contract.method` for the patient, up to `max` entries.
pub async fn gather(
    node: &Arc<Node>,
    who: &Who,
    patient: &str,
    (contract, method, field): (&str, &str, &str),
    max: usize,
) -> Result<Vec<Value>, ApiError> {
    let s = Search { node, who, base: String::new(), patient: patient.to_string(), count: 500 };
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (items, next) = s.page(contract, method, field, 500, after.as_deref()).await?;
        all.extend(items);
        if all.len() > max {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too-many",
                format!("more than {max} entries of {contract}.{method}: use the searches, which page"),
            ));
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(all),
        }
    }
}
