//! Forwarding a client's fetch to the node that holds the record, so that a
//! grantee needs to know one node. The request travels as the client sent it —
//! method, path, query and signature headers — over the peer link (mutual TLS,
//! signed envelopes), and the holder checks the client's signature itself: the
//! forwarding node cannot ask in anyone's name. The holder's answer comes back
//! as it gave it.

use crate::api::ApiError;
use crate::runtime::Node;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Headers a forwarded request carries: what the signature covers and what
/// content negotiation needs.
const CARRIED: &[&str] = &["signature-input", "signature", "content-digest", "content-type", "accept"];

/// Routes a node forwards (reads of record content only).
pub fn forwardable_path(path: &str) -> bool {
    path.starts_with("/v1/records/") || path.starts_with("/fhir/Binary/")
}

/// A client's request, as forwarded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Relayed {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
}

/// The holder's answer, as relayed back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Largest answer relayed (the largest record, with room for headers).
pub const MAX_ANSWER: usize = 64 << 20;

/// Forward the request (`method`, `uri`, `headers`) to `holder` and answer
/// with what it answered.
pub async fn forward(node: &Node, holder: &str, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let relayed = Relayed {
        method: method.to_string(),
        path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| uri.path().to_string()),
        headers: CARRIED
            .iter()
            .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_string())))
            .collect(),
    };
    let bytes = bincode::serialize(&relayed).expect("a request serializes");
    match node.sequencer.relay(holder, bytes).await {
        Ok(out) => match bincode::deserialize::<Answer>(&out) {
            Ok(a) => {
                let mut r = (StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY), a.body).into_response();
                for (k, v) in a.headers {
                    if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                        r.headers_mut().insert(k, v);
                    }
                }
                r.headers_mut()
                    .insert("x-phr-served-by", HeaderValue::from_str(holder).unwrap_or(HeaderValue::from_static("?")));
                r
            }
            Err(e) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "bad-gateway", format!("node {holder} answered badly: {e}"))
                    .into_response()
            }
        },
        Err(e) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "holder-unreachable",
            format!("the record is held by node {holder}, which could not be reached: {e}"),
        )
        .into_response(),
    }
}

/// Run a request another node forwarded through this node's own API (the
/// guard checks the client's signature as for any request).
pub async fn answer(router: axum::Router, from_ip: std::net::IpAddr, bytes: Vec<u8>) -> Vec<u8> {
    let refuse = |status: u16, m: String| {
        let body = serde_json::json!({"error": {"code": "bad-relay", "message": m}}).to_string().into_bytes();
        bincode::serialize(&Answer { status, headers: vec![("content-type".into(), "application/json".into())], body })
            .expect("an answer serializes")
    };
    let r: Relayed = match bincode::deserialize(&bytes) {
        Ok(r) => r,
        Err(e) => return refuse(400, format!("not a relayed request: {e}")),
    };
    let path = r.path_and_query.split('?').next().unwrap_or("");
    if r.method != "GET" || !forwardable_path(path) {
        return refuse(403, format!("{} {} is not forwarded between nodes", r.method, path));
    }
    let mut req = match Request::builder().method(Method::GET).uri(&r.path_and_query).body(Body::empty()) {
        Ok(req) => req,
        Err(e) => return refuse(400, format!("bad request: {e}")),
    };
    for (k, v) in &r.headers {
        if CARRIED.contains(&k.as_str()) {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
                req.headers_mut().insert(k, v);
            }
        }
    }
    req.extensions_mut().insert(phr_tls::serve::ConnInfo {
        remote: std::net::SocketAddr::new(from_ip, 0),
        peer_cert: None,
        tls: true,
    });
    use tower::ServiceExt;
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.to_string(), v.to_string())))
        .filter(|(k, _)| k != "content-length" && k != "transfer-encoding")
        .collect();
    let body = match axum::body::to_bytes(resp.into_body(), MAX_ANSWER).await {
        Ok(b) => b.to_vec(),
        Err(e) => return refuse(502, format!("the answer could not be read: {e}")),
    };
    bincode::serialize(&Answer { status, headers, body }).expect("an answer serializes")
}

/// The peer side of forwarding: answers what other nodes forward, through this
/// node's own API.
pub struct Relay(pub std::sync::OnceLock<std::sync::Weak<Node>>);

impl phr_orderer::raft::server::RelayGate for Relay {
    fn answer(&self, from: std::net::IpAddr, bytes: Vec<u8>) -> futures::future::BoxFuture<'static, Vec<u8>> {
        let router = self.0.get().and_then(|w| w.upgrade()).and_then(|n| n.api.get().cloned());
        Box::pin(async move {
            match router {
                Some(r) => answer(r, from, bytes).await,
                None => {
                    let body = br#"{"error":{"code":"starting","message":"the node is starting"}}"#.to_vec();
                    bincode::serialize(&Answer { status: 503, headers: vec![], body }).expect("an answer serializes")
                }
            }
        })
    }
}
