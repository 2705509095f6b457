//! The event stream: server-sent events, filtered by topic, optionally replayed
//! from a past height before going live.

use super::error::ApiError;
use crate::runtime::{Node, StreamEvent};
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
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
pub async fn events(
    State(node): State<Arc<Node>>,
    headers: axum::http::HeaderMap,
    p: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(p) = p?;
    // Subscribe before reading history, so nothing falls between the two.
    let rx = node.events.subscribe();
    let tip = node.exec.tip().height;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(parse_position);
    let from_height = resume.map(|r| r.0).or(p.from_height);
    let mut past = Vec::new();
    if let Some(from) = from_height {
        if tip.saturating_sub(from) > 10_000 {
            return Err(ApiError::bad_request("range", "from_height may reach back at most 10000 blocks"));
        }
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
                    if !seen && matches(&p.topic, &se) {
                        past.push(Ok(sse(&se)));
                    }
                }
            }
        }
    }
    let topic = p.topic.clone();
    let live = stream::unfold(rx, move |mut rx| {
        let topic = topic.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.height > tip && matches(&topic, &e) => return Some((Ok(sse(&e)), rx)),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        let warn = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(warn), rx));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream::iter(past).chain(live)).keep_alive(KeepAlive::default()))
}
