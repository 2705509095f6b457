//! No client can starve the ledger: a flood of heavy queries and oversized
//! bodies from one client, at the leader, while the network commits a steady
//! load through the other nodes.

use super::harness::*;
use crate::support::*;
use phr_node::config::NodeConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Raft term each running node reports.
async fn terms(c: &Cluster) -> Vec<u64> {
    let mut out = Vec::new();
    for i in c.running() {
        out.push(c.status(i).await.expect("status")["raft"]["term"].as_u64().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_gets_429s_and_the_ledger_keeps_committing_without_an_election() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    // Every node keeps the default limits at its edge (the harness raises them for loads).
    for i in 0..3 {
        let path = c.net.node_config(i);
        let mut cfg = NodeConfig::load(&path).unwrap();
        cfg.limits = Default::default();
        save_config(&path, &cfg);
    }
    c.start_all().await;
    let leader = c.leader(Duration::from_secs(30)).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();

    // A patient with many records, to make listing them heavy; the load comes
    // from several practitioners so that no one of them meets its own limit.
    let client = c.client(others[0]);
    let alice = patient(&client).await;
    let a = alice.id().to_hex();
    let mut docs = Vec::new();
    for _ in 0..8 {
        docs.push(practitioner(&client, &c.net.admin("stmarys"), &["physician"]).await);
    }
    let chain = c.net.chain_id();
    let per_doc: Vec<Vec<_>> =
        docs.iter().enumerate().map(|(d, k)| anchors(&chain, k, &a, &format!("f{d}"), 5000)).collect();
    let txs: Vec<_> = (0..5000)
        .flat_map(|i| docs.iter().zip(&per_doc).map(move |(k, list)| (Some(k.clone()), list[i].clone())))
        .collect();
    let load_clients: Vec<_> = others.iter().map(|i| c.client(*i)).collect();
    let load = Load::start_signed(load_clients, txs, 16);
    load.until(1000, Duration::from_secs(120)).await;
    let terms_before = terms(&c).await;

    // The flood, for 15 s: one client (the leader's own admin, who may read
    // everything there, from one address) at the leader, 48 requests in
    // flight: heavy queries, long block listings and 8 MiB bodies.
    let flooder = c.client(leader);
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(parking_lot::Mutex::new(BTreeMap::<(String, u16), u64>::new()));
    let mut tasks = Vec::new();
    for t in 0..48 {
        let (f, stop, statuses, a) = (flooder.clone(), stop.clone(), statuses.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let (kind, r) = match t % 3 {
                    0 => {
                        let body = json!({"contract": "record-anchor", "method": "list_by_patient", "args": {"patient": a, "limit": 500}});
                        ("query", f.request(reqwest::Method::POST, "/v1/query", Some(("application/json", body.to_string().into_bytes()))).await)
                    }
                    1 => ("oversized", f.request(reqwest::Method::POST, "/v1/txs", Some(("application/json", vec![b' '; 8 << 20]))).await),
                    _ => ("blocks", f.request(reqwest::Method::GET, "/v1/blocks?limit=1000", None).await),
                };
                let status = match r.unwrap().send().await {
                    Ok(resp) => {
                        let st = resp.status().as_u16();
                        if st != 200 {
                            let v: Value = resp.json().await.unwrap_or(Value::Null);
                            assert!(v["error"]["code"].is_string(), "a {kind} refusal ({st}) is a JSON error: {v}");
                        } else {
                            let _ = resp.bytes().await;
                        }
                        st
                    }
                    Err(e) => panic!("a {kind} request was cut off instead of answered: {e}"),
                };
                *statuses.lock().entry((kind.to_string(), status)).or_default() += 1;
            }
        }));
    }
    let acked_before = load.count();
    let flood_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("flood task");
    }
    let committed_during = load.count() - acked_before;
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let terms_after = terms(&c).await;
    let acked = load.stop().await;

    let s = statuses.lock().clone();
    eprintln!("flood at node{leader}: {s:?}; {committed_during} transactions committed in {flood_secs:.1} s of flood");
    let count = |kind: &str, st: u16| s.get(&(kind.to_string(), st)).copied().unwrap_or(0);
    assert!(count("query", 429) + count("blocks", 429) > 0, "heavy requests over the limits get 429: {s:?}");
    assert!(count("oversized", 413) > 0, "oversized bodies get 413: {s:?}");
    assert!(s.keys().all(|(_, st)| *st < 500), "no server error under the flood: {s:?}");
    assert!(
        committed_during >= 200,
        "the ledger kept committing during the flood ({committed_during} in {flood_secs:.1} s)"
    );
    assert_eq!(terms_before, terms_after, "no election: the flood did not starve the Raft heartbeats");
    assert!(terms_after.iter().all(|t| *t == terms_after[0]));

    // What was acknowledged is committed on every node.
    c.converged(Duration::from_secs(60)).await;
    let committed = c.committed(leader).await;
    assert!(acked.iter().all(|(id, _)| committed.contains(id)), "nothing acknowledged was lost");
}
