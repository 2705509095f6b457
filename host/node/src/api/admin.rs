//! Membership changes by organisation admins: add, promote, remove nodes.

use super::error::ApiError;
use crate::runtime::Node;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use phr_ledger::{AdminCommand, NodeAction};
use phr_orderer::raft::{AdminOp, PeerNode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How old a signed admin command may be.
const MAX_AGE_MS: u64 = 5 * 60 * 1000;

/// `POST /v1/admin/nodes`: carry out a signed node command. The signer must be
/// an admin in the genesis, and the node concerned must belong to the signer's
/// organisation. The change is made by the leader (forwarded there if needed);
/// adding a node returns once it has caught up.
pub async fn nodes(
    State(node): State<Arc<Node>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body?;
    let cmd: AdminCommand = serde_json::from_slice(&body)
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
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    if now.abs_diff(cmd.body.issued_ms) > MAX_AGE_MS {
        return Err(ApiError::bad_request(
            "expired",
            "the command was signed more than 5 minutes from now; sign it again",
        ));
    }
    let forbidden = |org: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            format!("node {} belongs to {org}; only an admin of {org} may change it", cmd.body.action.name()),
        )
    };
    let op = match &cmd.body.action {
        NodeAction::Add { name, org, public_key, peer_addr, api_addr } => {
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
                if a.parse::<std::net::SocketAddr>().is_err() {
                    return Err(ApiError::bad_request("bad-request", format!("{what} {a:?} is not host:port")));
                }
            }
            if node.sequencer.member(name).is_some() {
                return Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("{name} is a member already")));
            }
            AdminOp::AddLearner(PeerNode {
                name: name.clone(),
                org: org.clone(),
                public_key: public_key.to_hex(),
                peer_addr: peer_addr.clone(),
                api_addr: api_addr.clone(),
            })
        }
        NodeAction::Promote { name } | NodeAction::Remove { name } => {
            let member = node
                .sequencer
                .member(name)
                .ok_or_else(|| ApiError::not_found(format!("{name} is not a member of the Raft group")))?;
            if member.org != admin_org {
                return Err(forbidden(&member.org));
            }
            match cmd.body.action {
                NodeAction::Promote { .. } => AdminOp::Promote(name.clone()),
                _ => AdminOp::Remove(name.clone()),
            }
        }
    };
    tracing::info!(admin = %cmd.body.admin.id(), ?op, "membership change");
    match node.sequencer.admin(op).await {
        Ok(msg) => Ok(Json(json!({"result": msg, "raft": node.sequencer.status()}))),
        Err(e) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "membership-change-failed", e)),
    }
}
