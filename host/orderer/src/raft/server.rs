//! The peer protocol, server side: an axum router for the node's peer address.

use super::sequencer::RaftSequencer;
use super::types::{decode, encode};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use phr_ledger::SignedTx;
use std::sync::Arc;

/// What became of one forwarded transaction on the leader.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Forwarded {
    /// Admitted and waiting for a block.
    Queued,
    /// Already waiting there.
    AlreadyQueued,
    /// Already committed.
    Committed,
    /// The leader's mempool is full: send it again later.
    Busy,
    /// Refused for good (expired, bad signature, ...), with the reason.
    Refused(String),
}

/// Where forwarded transactions go on the leader: its admission and mempool.
pub trait ForwardSink: Send + Sync + 'static {
    /// Admit `txs` into this node's mempool; one outcome per transaction.
    fn accept(&self, txs: Vec<SignedTx>) -> Vec<Forwarded>;
}

/// Why the leader did not carry out an admin command: an HTTP status, an error
/// code and a message, passed back to the client as the leader gave them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdminRefusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Where an admin's signed command, forwarded by another node, is checked and
/// carried out (by the node, which knows the genesis and its policy).
pub trait AdminGate: Send + Sync + 'static {
    /// Check the signed command (`bytes`, opaque here) and carry it out.
    fn run(&self, bytes: Vec<u8>) -> futures::future::BoxFuture<'static, Result<String, AdminRefusal>>;
}

/// Where a client's API request, forwarded by another node, is answered (by
/// the node's own API, which authenticates the client itself).
pub trait RelayGate: Send + Sync + 'static {
    /// Answer the forwarded request (`bytes`, opaque here) that came from the
    /// peer at `from`; the answer's bytes.
    fn answer(&self, from: std::net::IpAddr, bytes: Vec<u8>) -> futures::future::BoxFuture<'static, Vec<u8>>;
}

/// What the peer routes need.
pub struct PeerService {
    pub sequencer: Arc<RaftSequencer>,
    pub sink: Arc<dyn ForwardSink>,
    pub admin: Arc<dyn AdminGate>,
    pub relay: Arc<dyn RelayGate>,
}

/// `POST /peer/v1/{append|vote|snapshot|attest|forward|admin|relay}`: a signed envelope in,
/// a signed envelope out. Unauthenticated messages get 401 and a log line.
pub fn router(svc: Arc<PeerService>) -> Router {
    Router::new()
        .route("/peer/v1/{kind}", post(handle))
        .layer(axum::extract::DefaultBodyLimit::max(256 << 20))
        .with_state(svc)
}

fn bad(what: &str, e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, format!("malformed {what}: {e}")).into_response()
}

async fn handle(
    State(svc): State<Arc<PeerService>>,
    Path(kind): Path<String>,
    conn: Option<axum::Extension<phr_tls::serve::ConnInfo>>,
    body: Bytes,
) -> Response {
    let seq = &svc.sequencer;
    let conn_cert = conn.as_ref().and_then(|c| c.peer_cert);
    let request = super::envelope::request_digest(&body);
    let (from, body) = match seq.keys().open_request(&body, &kind, conn_cert.as_ref()) {
        Ok(x) => x,
        Err(e) => {
            let remote = conn.map(|c| c.remote.to_string()).unwrap_or_default();
            tracing::warn!(kind = %kind, %remote, "rejected a peer message: {e}");
            return (StatusCode::UNAUTHORIZED, format!("rejected: {e}")).into_response();
        }
    };
    let raft = seq.raft();
    let out = match kind.as_str() {
        "append" => match decode(&body) {
            Ok(req) => encode(&raft.append_entries(req).await),
            Err(e) => return bad("append request", e),
        },
        "vote" => match decode(&body) {
            Ok(req) => encode(&raft.vote(req).await),
            Err(e) => return bad("vote request", e),
        },
        "snapshot" => match decode(&body) {
            Ok(req) => encode(&raft.install_snapshot(req).await),
            Err(e) => return bad("snapshot chunk", e),
        },
        // What this node computed for a block, for a peer that compares.
        "attest" => match decode::<u64>(&body) {
            Ok(height) => encode(&seq.attestation_at(height)),
            Err(e) => return bad("attestation request", e),
        },
        "forward" => match borsh::from_slice::<Vec<SignedTx>>(&body) {
            Ok(txs) => {
                let sink = svc.sink.clone();
                match tokio::task::spawn_blocking(move || sink.accept(txs)).await {
                    Ok(results) => encode(&results),
                    Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
                }
            }
            Err(e) => return bad("forwarded transactions", e),
        },
        // The admin's own signature is checked again here: another node's word
        // is not enough to change the membership.
        "admin" => encode(&svc.admin.run(body).await),
        // A client's request for a record held here, as the client sent it.
        "relay" => {
            let ip = conn.as_ref().map(|c| c.remote.ip()).unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
            svc.relay.answer(ip, body).await
        }
        _ => return (StatusCode::NOT_FOUND, "no such peer route").into_response(),
    };
    let sealed = seq.signer().seal_reply(from, &format!("{kind}/response"), out, request);
    (StatusCode::OK, sealed).into_response()
}
