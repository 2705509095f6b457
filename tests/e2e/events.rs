//! A patient sees access to their data on the event stream as it happens, and
//! can replay it from a past height.

use crate::support::*;
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn the_patient_stream_shows_only_their_events_live_and_replayed() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let alice = patient(&c).await;
    let bob = patient(&c).await;
    let a = alice.id().to_hex();
    let doc = practitioner(&c, &net.admin("stmarys"), &["physician"]).await;
    let alice_c = c.signed_by(&alice);
    let live = alice_c.events(Some(&a), None).await.unwrap();
    futures::pin_mut!(live);

    c.call(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "b/1", "patient": bob.id(), "sha256": sha("b"), "class": "lab"}),
    )
    .await
    .unwrap();
    c.call(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "a/1", "patient": a, "sha256": sha("a"), "class": "lab"}),
    )
    .await
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("event in time").unwrap();
    assert_eq!(ev["name"], "record.anchored");
    assert_eq!(ev["payload"]["record_id"], "a/1", "Bob's record must not reach Alice's stream");
    assert!(ev["topics"].as_array().unwrap().iter().any(|t| t == &json!(a)));

    // Replay from height 1: her enrolment first, then the anchor, nothing of Bob's.
    let past = alice_c.events(Some(&a), Some(1)).await.unwrap();
    let names: Vec<String> = past.take(2).map(|e| e["name"].as_str().unwrap().to_string()).collect().await;
    assert_eq!(names, ["identity.enrolled", "record.anchored"]);

    // A client that reconnects with Last-Event-ID gets what came after, not again what it saw.
    c.call(&doc, "record-anchor", "amend", json!({"record_id": "a/1", "sha256": sha("a2"), "reason": "fix"}))
        .await
        .unwrap();
    let last_seen = format!("{}:{}:{}", ev["height"], ev["tx_index"], ev["event_index"]);
    let resp = alice_c
        .request(reqwest::Method::GET, &format!("/v1/events?topic={a}"), None)
        .await
        .unwrap()
        .header("Last-Event-ID", last_seen)
        .send()
        .await
        .unwrap();
    use eventsource_stream::Eventsource;
    let mut resumed = resp.bytes_stream().eventsource();
    let next =
        tokio::time::timeout(Duration::from_secs(10), resumed.next()).await.expect("event in time").unwrap().unwrap();
    assert_eq!(next.event, "record.amended", "resumed after the anchor: {}", next.data);

    // Bob may not follow Alice.
    let e = c.signed_by(&bob).events(Some(&a), None).await.err().expect("Bob is refused Alice's stream");
    assert_eq!(e.status, Some(403), "{e}");

    // Metrics are exposed for Prometheus, to the node's operators.
    let m =
        c.request(reqwest::Method::GET, "/metrics", None).await.unwrap().send().await.unwrap().text().await.unwrap();
    assert!(m.contains("phr_height{node=\"node0\"}"), "{m}");
    assert!(m.contains("phr_txs_committed_total"), "{m}");
}
