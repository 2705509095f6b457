//! The guard in front of every route: limits, body size, authentication and
//! the route's access class (`api::rules`), in that order, before any handler
//! runs. A refusal is a JSON error, logged with the caller; nothing the
//! request asked for happens.

use super::error::ApiError;
use super::limits::{CallerKey, Limits, OverLimit};
use super::rules::{self, Access, Body, Rule};
use crate::auth::Authenticator;
use crate::auth::Principal;
use crate::runtime::Node;
use axum::body::Body as AxBody;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phr_ledger::{Caller, CallerKind};
use phr_tls::serve::ConnInfo;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// Who is calling, as the guard established it; handlers read it from the
/// request's extensions.
#[derive(Clone, Debug)]
pub struct Who {
    pub principal: Principal,
    /// The enrolled identity behind the key, if any.
    pub caller: Option<Caller>,
    /// An auditor, or an admin of this node's organisation.
    pub chain_reader: bool,
    pub remote: IpAddr,
}

impl Who {
    /// The key limits count against: the identity, or the address.
    pub fn limit_key(&self) -> CallerKey {
        match self.principal.key() {
            Some(k) => CallerKey::Identity(k),
            None => CallerKey::Address(self.remote),
        }
    }

    /// The caller, for log lines.
    pub fn describe(&self) -> String {
        match (&self.caller, self.principal.key()) {
            (Some(c), _) => format!("{} {}", kind(c.kind), c.id),
            (None, Some(k)) => format!("unenrolled key {}", k.id()),
            (None, None) => format!("anonymous caller at {}", self.remote),
        }
    }
}

fn kind(k: CallerKind) -> &'static str {
    match k {
        CallerKind::Anonymous => "anonymous",
        CallerKind::Patient => "patient",
        CallerKind::Practitioner => "practitioner",
        CallerKind::OrgAdmin => "admin",
        CallerKind::Auditor => "auditor",
        CallerKind::Node => "node",
    }
}

/// The largest bodies, by [`Body`] class.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub small: usize,
    pub query: usize,
    pub tx: usize,
    pub record: usize,
    /// A record's content inline in a FHIR resource (base64, with room for the resource).
    pub document: usize,
}

/// What the guard keeps for one node: credentials, limits and body sizes.
pub struct Edge {
    pub auth: Authenticator,
    pub limits: Limits,
    pub bodies: BodyLimits,
}

impl Edge {
    fn body_limit(&self, b: Body) -> usize {
        match b {
            Body::Empty => 0,
            Body::Small => self.bodies.small,
            Body::Query => self.bodies.query,
            Body::Tx => self.bodies.tx,
            Body::Record => self.bodies.record,
            Body::Document => self.bodies.document,
        }
    }
}

/// 429 with `Retry-After` (whole seconds, at least 1).
pub fn too_many(over: OverLimit) -> Response {
    let secs = over.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut r =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", format!("{}; retry in {secs} s", over.what))
            .with("retry_after_s", secs.into())
            .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Read and discard what remains of a refused body (up to 64 MiB, for at most
/// 10 s), so that the client reads the 413 instead of a reset connection.
async fn drain(body: AxBody) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > 64 << 20 {
                break;
            }
        }
    })
    .await;
}

/// How long a request of `rule` may run.
fn timeout(rule: &Rule) -> Option<Duration> {
    match rule.path {
        "/v1/events" => None,
        "/v1/txs" => Some(Duration::from_secs(130)),
        "/v1/admin/nodes" => Some(Duration::from_secs(610)),
        "/v1/admin/backup" => Some(Duration::from_secs(3600)),
        "/v1/records" | "/v1/records/{*id}" => Some(Duration::from_secs(60)),
        _ => Some(Duration::from_secs(30)),
    }
}

/// The middleware: see the module documentation.
pub async fn guard(State(node): State<Arc<Node>>, matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let g = &node.edge;
    // HEAD is answered by the GET handler without its body: it takes the GET rule.
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    let Some(rule) = matched.as_ref().and_then(|m| rules::find(&method, m.as_str())) else {
        // Not a route of the table (the fallbacks): nothing to protect.
        return next.run(req).await;
    };
    let remote = req.extensions().get::<ConnInfo>().map(|c| c.remote.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let route = format!("{} {}", rule.method, rule.path);
    if let Err(over) = g.limits.address(remote) {
        tracing::info!(%remote, %route, "refused: {}", over.what);
        return too_many(over);
    }
    let (parts, body) = req.into_parts();
    let limit = g.body_limit(rule.body);
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        tracing::info!(%remote, %route, "refused: body over {limit} bytes");
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the body of {route} may be at most {limit} bytes"),
        )
        .into_response()
    };
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body).await;
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let principal =
        match g.auth.authenticate(&parts.headers, parts.method.as_str(), parts.uri.path(), parts.uri.query(), &bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%remote, %route, "refused credentials: {e}");
                return ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string()).into_response();
            }
        };
    if let Some(k) = principal.key() {
        if let Err(over) = g.limits.identity(&k) {
            tracing::info!(%remote, %route, caller = %k.id(), "refused: {}", over.what);
            return too_many(over);
        }
    }
    let caller = match principal.key() {
        Some(k) => match node.exec.caller_of(&k) {
            Ok(c) => c,
            Err(e) => return ApiError::internal(e.to_string()).into_response(),
        },
        None => None,
    };
    let chain_reader = caller.as_ref().is_some_and(|c| {
        c.kind == CallerKind::Auditor || (c.kind == CallerKind::OrgAdmin && c.org.as_deref() == Some(&node.org))
    });
    let who = Who { principal, caller, chain_reader, remote };
    if let Err(e) = admit(rule, &who, &node.org) {
        tracing::warn!(%remote, %route, caller = %who.describe(), "refused: {}", e.message);
        return e.into_response();
    }
    if rule.access == Access::ChainReader {
        // Chain-level reads hold every transaction's arguments: who read is logged.
        tracing::info!(%remote, %route, caller = %who.describe(), uri = %parts.uri, "chain-level read");
    }
    let _heavy = if rule.heavy {
        match g.limits.heavy(who.limit_key()) {
            Ok(slot) => Some(slot),
            Err(over) => {
                tracing::info!(%remote, %route, caller = %who.describe(), "refused: {}", over.what);
                return too_many(over);
            }
        }
    } else {
        None
    };
    let mut req = Request::from_parts(parts, AxBody::from(bytes));
    req.extensions_mut().insert(who);
    match timeout(rule) {
        None => next.run(req).await,
        Some(t) => match tokio::time::timeout(t, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("{route} did not finish within {} s", t.as_secs()),
            )
            .into_response(),
        },
    }
}

/// Whether `who` is of the class `rule` serves: 401 for a missing or unknown
/// identity, 403 naming the rule for the wrong one.
pub fn admit(rule: &Rule, who: &Who, org: &str) -> Result<(), ApiError> {
    let unauthenticated = |m: String| Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m));
    match rule.access {
        Access::Public => Ok(()),
        _ if who.principal == Principal::Anonymous => unauthenticated(format!(
            "{} {} needs a signed request (or a session token): see docs/api.md, \"Signed requests\"",
            rule.method, rule.path
        )),
        Access::Signed => Ok(()),
        _ if who.caller.is_none() => unauthenticated(format!(
            "the key {} is not enrolled on this chain (or was revoked); {} {} serves enrolled identities",
            who.principal.key().map(|k| k.to_hex()).unwrap_or_default(),
            rule.method,
            rule.path
        )),
        Access::Enrolled => Ok(()),
        Access::ChainReader if who.chain_reader => Ok(()),
        Access::ChainReader => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} {} serves auditors and the admins of {org} only (rule: chain-level reads); the caller is {}",
                rule.method,
                rule.path,
                who.describe()
            ),
        )),
    }
}
