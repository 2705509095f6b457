//! Shredding: when the chain says a record was disposed of, this node
//! destroys its keys, ciphertext and metadata (purged from the store's files).
//!
//! It happens in three places, so that no disposal is ever missed: right after
//! a disposal this node made commits; whenever any block with a
//! `record.disposed` event for a record held here is applied (disposals made
//! through other nodes, and blocks a node restored from an older backup
//! catches up on); and in [`reconcile`], which every start runs before the API
//! serves anything, and which also settles saves left pending by a crash.

use crate::runtime::Node;
use phr_gateway::store::SaveState;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What one pass of [`reconcile`] did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Reconciled {
    pub shredded: Vec<String>,
    pub confirmed: Vec<String>,
    pub abandoned: Vec<String>,
}

/// Destroy every version of `record_id` held here.
pub fn shred(node: &Node, record_id: &str) -> Result<usize, String> {
    let n = node.gateway.store.shred(record_id).map_err(|e| e.to_string())?;
    if n > 0 {
        tracing::info!(record = %record_id, versions = n, "shredded a disposed record: keys and content destroyed");
    }
    Ok(n)
}

/// Bring the store in line with the chain: shred what the chain says was
/// disposed of, confirm pending versions
/// whose anchor committed, and erase pending versions whose anchoring
/// transaction can no longer commit. Blocking: run it off the async runtime.
pub fn reconcile(node: &Node) -> Result<Reconciled, String> {
    let store = &node.gateway.store;
    let mut out = Reconciled::default();
    let held = store.all().map_err(|e| e.to_string())?;
    let ids: BTreeSet<String> = held.iter().map(|m| m.record_id.clone()).collect();
    let tip = node.exec.tip().height;
    for id in ids {
        let anchor = super::anchor(node, &id).map_err(|e| e.to_string())?;
        let disposed = anchor.as_ref().is_some_and(|a| a["status"] == "disposed");
        if disposed {
            shred(node, &id)?;
            out.shredded.push(id);
            continue;
        }
        for m in held.iter().filter(|m| m.record_id == id && m.state == SaveState::Pending) {
            let anchored = anchor.as_ref().is_some_and(|a| {
                a["held_by"].as_str() == Some(node.id.as_str())
                    && a["version"].as_u64() == Some(m.version as u64)
                    && a["sha256"].as_str() == Some(m.sha256.as_str())
            });
            if anchored {
                store.confirm(&id, m.version).map_err(|e| e.to_string())?;
                out.confirmed.push(format!("{id} v{}", m.version));
            } else if m.anchor_expiry_height.is_none_or(|e| tip > e) {
                store.abandon(&id, m.version).map_err(|e| e.to_string())?;
                out.abandoned.push(format!("{id} v{}", m.version));
            }
        }
    }
    Ok(out)
}

/// Keep reconciling in the background (pending saves settle within a few
/// seconds of their fate on chain), and shred at once on every
/// `record.disposed` event for a record held here.
pub fn spawn(node: Arc<Node>) -> tokio::task::JoinHandle<()> {
    let mut events = node.events.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            let disposed = tokio::select! {
                _ = tick.tick() => None,
                e = events.recv() => match e {
                    Ok(e) if e.event.name == "record.disposed" => {
                        serde_json::from_str::<serde_json::Value>(&e.event.payload).ok()
                            .filter(|p| p["held_by"].as_str() == Some(node.id.as_str()))
                            .and_then(|p| p["record_id"].as_str().map(str::to_string))
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            let n = node.clone();
            let r = tokio::task::spawn_blocking(move || match disposed {
                Some(id) => shred(&n, &id).map(|_| ()),
                None => reconcile(&n).map(|r| {
                    if !(r.shredded.is_empty() && r.confirmed.is_empty() && r.abandoned.is_empty()) {
                        tracing::info!(?r, "record store reconciled with the chain");
                    }
                }),
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::error!("record store: {e}");
            }
        }
    })
}
