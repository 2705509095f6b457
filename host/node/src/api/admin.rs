//! Membership changes by organisation admins: add, promote, remove nodes.
//!
//! The admin signs a command naming the membership version it saw. Any node
//! checks it and passes the *signed command* to the leader, which checks it
//! again before acting: no node can change the membership on its own word.

use super::error::ApiError;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use phr_executor::voters::VoterChange;
use phr_ledger::{AdminCommand, NodeAction};
use phr_orderer::raft::server::{AdminGate, AdminRefusal};
use phr_orderer::raft::{AdminOp, PeerNode};
use serde_json::json;
use std::sync::Arc;

/// How old a signed admin command may be, and how far in the future.
const MAX_AGE_MS: u64 = 2 * 60 * 1000;
const MAX_AHEAD_MS: u64 = 30 * 1000;

/// Whether `addr` is `host:port` (a host name or an IP address).
pub fn is_host_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok() && !host.contains(char::is_whitespace),
        None => false,
    }
}

/// Check a signed command against the chain's admins and the current
/// membership, and say what it asks for.
pub fn check(node: &Node, bytes: &[u8]) -> Result<AdminOp, ApiError> {
    let cmd: AdminCommand = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("malformed", format!("admin command JSON: {e}")))?;
    let g = node.exec.genesis();
    if cmd.body.chain_id != g.chain_id {
        return Err(ApiError::bad_request(
            "wrong-chain",
            format!("command for chain {:?}, this is {:?}", cmd.body.chain_id, g.chain_id),
        ));
    }
    cmd.verify().map_err(|e| ApiError::bad_request("bad-signature", e.to_string()))?;
    let Some(admin_org) = g.admin_org(&cmd.body.admin) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            "the signer is not an organisation admin of this chain",
        ));
    };
    let now = crate::clock::now_ms();
    if cmd.body.issued_ms + MAX_AGE_MS < now || cmd.body.issued_ms > now + MAX_AHEAD_MS {
        return Err(ApiError::bad_request(
            "expired",
            "the command was not signed within the last 2 minutes; sign it again",
        ));
    }
    let current = node.sequencer.status().membership_index;
    if cmd.body.membership_index != current {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale-membership",
            format!(
                "the command was signed against membership {}, the membership is now {current}; sign it again",
                cmd.body.membership_index
            ),
        ));
    }
    let forbidden = |org: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            format!("node {} belongs to {org}; only an admin of {org} may change it", cmd.body.action.name()),
        )
    };
    match &cmd.body.action {
        NodeAction::Add { name, org, public_key, peer_addr, api_addr, tls_cert_sha256 } => {
            if org != admin_org {
                return Err(forbidden(org));
            }
            if !phr_ledger::is_valid_name(name) || !g.orgs.iter().any(|o| &o.name == org) {
                return Err(ApiError::bad_request(
                    "bad-request",
                    format!("node {name:?} of organisation {org:?} is not valid here"),
                ));
            }
            for (what, a) in [("peer_addr", peer_addr), ("api_addr", api_addr)] {
                if !is_host_port(a) {
                    return Err(ApiError::bad_request("bad-request", format!("{what} {a:?} is not host:port")));
                }
            }
            if node.sequencer.member(name).is_some() {
                return Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("{name} is a member already")));
            }
            Ok(AdminOp::AddLearner(PeerNode {
                name: name.clone(),
                org: org.clone(),
                public_key: public_key.to_hex(),
                peer_addr: peer_addr.clone(),
                api_addr: api_addr.clone(),
                tls_cert_sha256: tls_cert_sha256.to_hex(),
            }))
        }
        NodeAction::Promote { name } | NodeAction::Remove { name } => {
            let member = node
                .sequencer
                .member(name)
                .ok_or_else(|| ApiError::not_found(format!("{name} is not a member of the Raft group")))?;
            if member.org != admin_org {
                return Err(forbidden(&member.org));
            }
            let promote = matches!(cmd.body.action, NodeAction::Promote { .. });
            // The command names the current membership (checked above); so must the approvals.
            let is_voter = node.sequencer.status().voters.iter().any(|v| v == name);
            if promote || is_voter {
                let change = if promote { VoterChange::Promote } else { VoterChange::Remove };
                consortium_approved(node, change, &member, current)?;
            }
            Ok(if promote { AdminOp::Promote(name.clone()) } else { AdminOp::Remove(name.clone()) })
        }
    }
}

/// Refuse a change of the voters that a majority of the organisations has
/// not approved on chain (`identity.approve_voter`): no organisation can give
/// itself a Raft majority, or take one from the others, alone.
fn consortium_approved(
    node: &Node,
    change: VoterChange,
    member: &PeerNode,
    membership_index: u64,
) -> Result<(), ApiError> {
    let key: phr_ledger::PublicKey = member.public_key.parse().map_err(|_| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("member {} has no valid key", member.name))
    })?;
    let ap = node
        .exec
        .voter_approvals(change, &member.name, &key, membership_index)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()))?;
    if ap.orgs.len() >= ap.needed {
        return Ok(());
    }
    let (what, flag) = match change {
        VoterChange::Promote => (format!("making {} a voter", member.name), ""),
        VoterChange::Remove => (format!("removing the voter {}", member.name), " --remove"),
    };
    let so_far = if ap.orgs.is_empty() {
        "none yet".to_string()
    } else {
        ap.orgs.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "consortium-approval-needed",
        format!(
            "{what} needs the approval of a majority of the organisations ({} of {}) under the current membership \
             ({membership_index}); approved by: {so_far}. \
             Each organisation's admin approves with: phr node approve-voter --key ADMIN.key --id {}{flag}",
            ap.needed,
            node.exec.genesis().orgs.len(),
            member.name
        ),
    ))
}

/// `POST /v1/admin/nodes`: carry out a signed node command. Adding a node
/// returns once it has caught up.
pub async fn nodes(State(node): State<Arc<Node>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body?;
    let op = check(&node, &body)?;
    tracing::info!(?op, "membership change requested");
    let done = if node.sequencer.status().role == "leader" {
        node.sequencer.admin_here(op).await.map_err(failed)
    } else {
        node.sequencer.forward_admin(body.to_vec()).await
    };
    match done {
        Ok(msg) => Ok(Json(json!({"result": msg, "raft": node.sequencer.status()})).into_response()),
        Err(r) if r.code == "in-progress" => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"result": format!("{}; watch raft.voters and raft.learners in GET /v1/status", r.message)})),
        )
            .into_response()),
        Err(r) => Err(ApiError::new(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            &r.code,
            r.message,
        )),
    }
}

fn failed(message: String) -> AdminRefusal {
    AdminRefusal { status: 503, code: "membership-change-failed".into(), message }
}

/// The leader's side of a command forwarded by another node: check it again, then act.
pub struct Gate(pub std::sync::OnceLock<std::sync::Weak<Node>>);

impl AdminGate for Gate {
    fn run(&self, bytes: Vec<u8>) -> futures::future::BoxFuture<'static, Result<String, AdminRefusal>> {
        let node = self.0.get().and_then(|w| w.upgrade());
        Box::pin(async move {
            let node = node.ok_or_else(|| failed("the node is starting or stopping".into()))?;
            let op = check(&node, &bytes).map_err(|e| AdminRefusal {
                status: e.status.as_u16(),
                code: e.code.clone(),
                message: e.message.clone(),
            })?;
            tracing::info!(?op, "membership change forwarded by a peer");
            node.sequencer.admin_here(op).await.map_err(failed)
        })
    }
}
