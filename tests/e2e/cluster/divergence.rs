//! A node that computes different results stops, loudly, instead of forking.

use super::harness::*;
use crate::support::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_node_computing_different_results_halts_with_a_divergence_alarm() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let runaway = dir.path().join("runaway.wasm");
    std::fs::write(&runaway, phr_contracts::RUNAWAY).unwrap();
    let arg = format!("runaway={}", runaway.display());
    let mut c = Cluster::new_with(3, Opts::default(), &["--contract", &arg]).await;
    // node2 keeps its compiled code apart, and we corrupt it: under the consent
    // contract's hash it will find the machine code of another contract.
    let cache = dir.path().join("node2-cache");
    let log = dir.path().join("node2.log");
    c.start(0);
    c.start(1);
    c.nodes[2] = Some(NodeProc::start_with_cache(&c.net.node_config(2), &log, &cache));
    for i in 0..3 {
        ready(&c.client(i)).await;
    }
    c.kill9(2);
    let hash = |name: &str| {
        phr_ledger::sha256(&[match name {
            "consent" => phr_contracts::CONSENT,
            _ => phr_contracts::RUNAWAY,
        }])
        .to_hex()
    };
    let (consent, other) = (hash("consent"), hash("runaway"));
    let foreign = std::fs::read(cache.join(format!("{other}.cwasm"))).unwrap();
    // A plain mix-up is caught by the cache (the digest binds the code hash)...
    std::fs::write(cache.join(format!("{consent}.cwasm")), &foreign).unwrap();
    std::fs::copy(cache.join(format!("{other}.sha256")), cache.join(format!("{consent}.sha256"))).unwrap();
    // ...so forge the entry as a tampered node would.
    let consent_hash: phr_ledger::Hash32 = consent.parse().unwrap();
    std::fs::write(cache.join(format!("{consent}.sha256")), phr_vm::cache::entry_digest(&consent_hash, &foreign))
        .unwrap();
    c.nodes[2] = Some(NodeProc::start_with_cache(&c.net.node_config(2), &log, &cache));
    c.converged(Duration::from_secs(30)).await;

    // The majority commits; node2 computes another result for the consent call,
    // and the next block's attestation shows it.
    let leader = c.leader(Duration::from_secs(30)).await;
    let client = c.client(if leader == 2 { 0 } else { leader });
    let alice = patient(&client).await;
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let s2 = loop {
        let _ = client.call(&alice, "consent", "create", json!({"decision": "deny"})).await;
        let s = c.status(2).await.unwrap();
        if !s["halted"].is_null() {
            break s;
        }
        assert!(Instant::now() < deadline, "node2 kept applying blocks after diverging: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = s2["halted"].as_str().unwrap();
    assert!(reason.contains("DIVERGENCE") && reason.contains("state root"), "{reason}");
    assert_eq!(s2["raft"]["role"], "halted");
    let e = c
        .client(2)
        .submit(
            &phr_node::client::sign(
                &alice,
                &c.net.chain_id(),
                1_000_000,
                "consent",
                "create",
                &json!({"decision": "permit"}),
            ),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(503), "no-quorum"), "a halted node refuses work: {e}");
    assert!(e.message.contains("DIVERGENCE"), "{e}");
    let stuck = s2["height"].as_u64().unwrap();

    // The other two go on; node2 stays where it stopped.
    let before = c.status(0).await.unwrap()["height"].as_u64().unwrap();
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    // node0 applies that block shortly after the node that answered.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.status(0).await.unwrap()["height"].as_u64().unwrap() <= before {
        assert!(std::time::Instant::now() < deadline, "node0 did not go on committing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.status(2).await.unwrap()["height"].as_u64().unwrap(), stuck);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("NODE HALTED") && text.contains("DIVERGENCE"), "the node says so in its log:\n{text}");
}
