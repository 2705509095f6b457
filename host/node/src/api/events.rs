//! The event stream: server-sent events, filtered by topic, optionally replayed
//! from a past height before going live.
//!
//! Who may follow what: the caller's own id as topic (a patient follows
//! everything about them, a practitioner its own requests and grants);
//! `org:<org>` for that organisation's admins, privacy officers and nodes;
//! any topic, or none, for chain readers (auditors and this node's admins).
//! The back-fill reaches at most [`MAX_BACKFILL_BLOCKS`] blocks and
//! [`MAX_BACKFILL_EVENTS`] events, read on the read pool.

use super::error::ApiError;
use super::guard::{too_many, Who};
use crate::runtime::{Node, StreamEvent};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{self, StreamExt};
use phr_ledger::CallerKind;
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Only events carrying this topic (for example a patient id). All if absent.
    topic: Option<String>,
    /// Replay committed events from this height first.
    from_height: Option<u64>,
}

/// An event's place in the chain: (height, transaction index, event index).
type Position = (u64, u32, u32);

/// How far back a stream may start.
pub const MAX_BACKFILL_BLOCKS: u64 = 10_000;
/// Most past events one stream replays before going live.
pub const MAX_BACKFILL_EVENTS: usize = 10_000;

/// Whether `who` may follow `topic` (`None`: every event).
fn may_follow(who: &Who, topic: Option<&str>) -> Result<(), ApiError> {
    if who.chain_reader {
        return Ok(());
    }
    let Some(c) = &who.caller else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "an enrolled key is needed"));
    };
    let allowed = match topic {
        None => false,
        Some(t) if t == c.id => true,
        Some(t) => match (t.strip_prefix("org:"), &c.org) {
            (Some(org), Some(mine)) if org == mine => {
                c.kind == CallerKind::OrgAdmin
                    || c.kind == CallerKind::Node
                    || (c.kind == CallerKind::Practitioner && c.roles.iter().any(|r| r == "privacy-officer"))
            }
            _ => false,
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} may not follow {}: a caller follows its own id; an organisation's admins and privacy officers its `org:<name>` topic; auditors and this node's admins any",
                who.describe(),
                topic.map(|t| format!("topic {t}")).unwrap_or_else(|| "every event (no topic)".into())
            ),
        ))
    }
}

fn sse(e: &StreamEvent) -> Event {
    let data = serde_json::json!({
        "height": e.height,
        "tx_index": e.tx_index,
        "event_index": e.event_index,
        "tx_id": e.tx_id,
        "contract": e.event.contract,
        "name": e.event.name,
        "topics": e.event.topics,
        "payload": super::views::parse_or_string(&e.event.payload),
    });
    Event::default()
        .event(e.event.name.clone())
        .id(format!("{}:{}:{}", e.height, e.tx_index, e.event_index))
        .data(data.to_string())
}

/// A `Last-Event-ID` as sent back by a reconnecting client.
fn parse_position(s: &str) -> Option<Position> {
    let mut it = s.split(':');
    let p = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    it.next().is_none().then_some(p)
}

fn matches(topic: &Option<String>, e: &StreamEvent) -> bool {
    topic.as_ref().is_none_or(|t| e.event.topics.iter().any(|x| x == t))
}

/// Resumes after `Last-Event-ID` when a client reconnects, else replays from
/// `from_height` if given, then streams live events.
/// Past events from `from` to `tip` matching `topic`, after `resume`.
fn backfill(
    node: &Node,
    from: u64,
    tip: u64,
    topic: &Option<String>,
    resume: Option<Position>,
) -> Result<Vec<Result<Event, Infallible>>, ApiError> {
    let mut past = Vec::new();
    for h in from.max(1)..=tip {
        let block = node.exec.db().block(h).map_err(|e| ApiError::internal(e.to_string()))?;
        let receipts = node.exec.db().receipts(h).map_err(|e| ApiError::internal(e.to_string()))?;
        let Some(block) = block else { continue };
        for (i, (tx, r)) in block.txs.iter().zip(&receipts).enumerate() {
            for (j, e) in r.events.iter().enumerate() {
                let se = StreamEvent {
                    height: h,
                    tx_index: i as u32,
                    event_index: j as u32,
                    tx_id: tx.id(),
                    event: e.clone(),
                };
                let seen = resume.is_some_and(|r| (se.height, se.tx_index, se.event_index) <= r);
                if !seen && matches(topic, &se) {
                    if past.len() >= MAX_BACKFILL_EVENTS {
                        return Err(ApiError::bad_request(
                            "range",
                            format!("more than {MAX_BACKFILL_EVENTS} past events match; start from a later height"),
                        ));
                    }
                    past.push(Ok(sse(&se)));
                }
            }
        }
    }
    Ok(past)
}

pub async fn events(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Who>,
    headers: axum::http::HeaderMap,
    p: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p?;
    may_follow(&who, p.topic.as_deref())?;
    let slot = match node.edge.limits.stream(who.limit_key()) {
        Ok(s) => s,
        Err(over) => return Ok(too_many(over)),
    };
    // Subscribe before reading history, so nothing falls between the two.
    let rx = node.events.subscribe();
    let tip = node.exec.tip().height;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(parse_position);
    let from_height = resume.map(|r| r.0).or(p.from_height);
    let mut past = Vec::new();
    if let Some(from) = from_height {
        if tip.saturating_sub(from) > MAX_BACKFILL_BLOCKS {
            return Err(ApiError::bad_request(
                "range",
                format!("from_height may reach back at most {MAX_BACKFILL_BLOCKS} blocks"),
            ));
        }
        let (n, topic) = (node.clone(), p.topic.clone());
        past = tokio::task::spawn_blocking(move || backfill(&n, from, tip, &topic, resume))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
    }
    let topic = p.topic.clone();
    let live = stream::unfold((rx, slot), move |(mut rx, slot)| {
        let topic = topic.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.height > tip && matches(&topic, &e) => return Some((Ok(sse(&e)), (rx, slot))),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        let warn = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(warn), (rx, slot)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream::iter(past).chain(live)).keep_alive(KeepAlive::default()).into_response())
}
