//! SIGKILL during a load: after a restart no acknowledged transaction is lost,
//! none is applied twice, and the chain goes on.

use crate::support::*;
use futures::StreamExt;
use phr_node::client::sign;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_load_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let chain = net.chain_id();
    let doc = practitioner(&c, &net.admin("stmarys"), &["physician"]).await;
    let patient_id = patient(&c).await.id().to_hex();
    let height = c.status().await.unwrap()["height"].as_u64().unwrap();

    // 3000 distinct anchors, submitted 64 at a time, each waiting for its commit.
    let txs: Vec<_> = (0..3000)
        .map(|i| sign(&doc, &chain, height + 10_000, "record-anchor", "anchor", &json!({"record_id": format!("load/{i}"), "patient": patient_id, "sha256": sha(&i.to_string()), "class": "lab"})))
        .collect();
    let ids: Vec<String> = txs.iter().map(|t| t.id().to_hex()).collect();
    let acked = Arc::new(parking_lot::Mutex::new(HashSet::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let load = {
        let c = c.clone();
        let acked = acked.clone();
        let killed = killed.clone();
        tokio::spawn(async move {
            futures::stream::iter(txs)
                .map(|tx| {
                    let c = c.clone();
                    let acked = acked.clone();
                    let killed = killed.clone();
                    async move {
                        if let Ok(s) = c.submit(&tx, true).await {
                            if s.receipt.is_some() && !killed.load(Ordering::SeqCst) {
                                acked.lock().insert(s.tx_id);
                            }
                        }
                    }
                })
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
        })
    };
    // Kill the node while the load is running.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if acked.lock().len() >= 300 {
            break;
        }
    }
    let node_id = node.child.id();
    killed.store(true, Ordering::SeqCst);
    node.kill9();
    load.await.unwrap();
    let acked = acked.lock().clone();
    assert!(acked.len() >= 300, "the load ran before the kill");
    assert!(acked.len() < 3000, "the kill came during the load (node pid {node_id})");

    // Restart: every acknowledged transaction is there, exactly once.
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let tip = c.status().await.unwrap()["height"].as_u64().unwrap();
    let mut seen = HashSet::new();
    let mut prev_hash: Option<Value> = None;
    for h in 0..=tip {
        let b = c.block(&h.to_string(), true).await.unwrap();
        if let Some(p) = &prev_hash {
            assert_eq!(&b["header"]["prev_hash"], p, "block {h} does not link to block {}", h - 1);
        }
        prev_hash = Some(b["hash"].clone());
        for r in b["receipts"].as_array().unwrap() {
            if r["status"] == "ok" {
                let id = r["tx_id"].as_str().unwrap().to_string();
                assert!(seen.insert(id.clone()), "transaction {id} applied twice");
            }
        }
    }
    for id in &acked {
        assert!(seen.contains(id), "acknowledged transaction {id} was lost");
        let r = c.receipt(id).await.unwrap();
        assert_eq!(r["status"], "ok");
    }
    let applied = ids.iter().filter(|id| seen.contains(*id)).count();
    assert!(applied >= acked.len());

    // The chain goes on: a new transaction commits on top.
    let r = c
        .call(
            &doc,
            "record-anchor",
            "anchor",
            json!({"record_id": "after-restart", "patient": patient_id, "sha256": sha("after"), "class": "lab"}),
        )
        .await
        .unwrap();
    assert!(r["height"].as_u64().unwrap() > tip);
    let rec = c.query("record-anchor", "get", &json!({"record_id": "after-restart"})).await.unwrap();
    assert_eq!(rec["version"], 1);
}
