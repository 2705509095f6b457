//! A node that computes different results stops, loudly, instead of forking;
//! the voters' majority decides which node that is, leader or follower.

use super::harness::*;
use crate::support::*;
use phr_node::config::NodeConfig;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A 3-node network whose node2 computes another result for every consent
/// call: under the consent contract's hash its compile cache holds the machine
/// code of another contract, forged as a tampered node would. node2 leads if
/// `node2_leads` (its election timeout is short and the others' long), and never
/// leads otherwise. Returns the cluster and node0's, node1's and node2's logs.
async fn with_a_diverging_node2(dir: &std::path::Path, node2_leads: bool) -> (Cluster, [PathBuf; 3]) {
    let runaway = dir.join("runaway.wasm");
    std::fs::write(&runaway, phr_contracts::RUNAWAY).unwrap();
    let arg = format!("runaway={}", runaway.display());
    let mut c = Cluster::new_with(3, Opts::default(), &["--contract", &arg]).await;
    for i in 0..3 {
        let path = c.net.node_config(i);
        let mut cfg = NodeConfig::load(&path).unwrap();
        let fast = (i == 2) == node2_leads;
        (cfg.raft.heartbeat_ms, cfg.raft.election_timeout_min_ms, cfg.raft.election_timeout_max_ms) =
            if fast { (50, 300, 400) } else { (100, 2500, 3500) };
        // node2 leads long enough to propose with its wrong results before it
        // compares them with the voters' on its own schedule.
        if i == 2 {
            cfg.raft.divergence_check_ms = 6000;
        }
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    }
    let logs = [0, 1, 2].map(|i| dir.join(format!("node{i}.log")));
    // node0 compiles every contract of the genesis into the shared cache; it
    // cannot elect anyone alone, so no log moves before node2 is up.
    c.nodes[0] = Some(NodeProc::start_with_env(&c.net.node_config(0), &logs[0], &[]));
    let hash = |code: &[u8]| phr_ledger::sha256(&[code]).to_hex();
    let (consent, other) = (hash(phr_contracts::CONSENT), hash(phr_contracts::RUNAWAY));
    let shared = compile_cache();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !shared.join(format!("{other}.cwasm")).exists() {
        assert!(Instant::now() < deadline, "node0 did not compile the runaway contract into {}", shared.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let foreign = std::fs::read(shared.join(format!("{other}.cwasm"))).unwrap();
    let cache = dir.join("node2-cache");
    std::fs::create_dir_all(&cache).unwrap();
    // A plain mix-up is caught by the cache (the digest binds the code hash),
    // so forge the entry's digest too, as a tampered node would.
    std::fs::write(cache.join(format!("{consent}.cwasm")), &foreign).unwrap();
    let consent_hash: phr_ledger::Hash32 = consent.parse().unwrap();
    std::fs::write(cache.join(format!("{consent}.sha256")), phr_vm::cache::entry_digest(&consent_hash, &foreign))
        .unwrap();
    // Started in this order, the fast node wins the first election with node0.
    c.nodes[2] = Some(NodeProc::start_with_cache(&c.net.node_config(2), &logs[2], &cache));
    c.nodes[1] = Some(NodeProc::start_with_env(&c.net.node_config(1), &logs[1], &[]));
    ready_or_logs(&c, &logs).await;
    c.converged(Duration::from_secs(30)).await;
    (c, logs)
}

/// Wait until every node can commit; the nodes' logs if one cannot.
async fn ready_or_logs(c: &Cluster, logs: &[PathBuf; 3]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..3 {
        loop {
            let s = c.status(i).await;
            if s.as_ref().is_some_and(|s| s["commit_obstacle"].is_null() && s["raft"]["leader"].is_string()) {
                break;
            }
            if Instant::now() > deadline {
                let text: Vec<String> = logs.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
                panic!("node{i} never became ready: {s:?}\n{}", text.join("\n----\n"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Wait until node `i` reports itself halted; its status.
async fn halted(c: &Cluster, i: usize, within: Duration, mut nudge: impl AsyncFnMut()) -> Value {
    let deadline = Instant::now() + within;
    loop {
        nudge().await;
        let s = c.status(i).await.unwrap();
        if !s["halted"].is_null() {
            return s;
        }
        assert!(Instant::now() < deadline, "node{i} did not halt: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A halted node refuses work with 503 `no-quorum`, naming the divergence.
async fn refuses_work(c: &Cluster, i: usize, who: &phr_ledger::Keypair) {
    let tx =
        phr_node::client::sign(who, &c.net.chain_id(), 1_000_000, "consent", "create", &json!({"decision": "permit"}));
    let e = c.client(i).submit(&tx, true).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(503), "no-quorum"), "a halted node refuses work: {e}");
    assert!(e.message.contains("DIVERGENCE"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diverging_follower_halts_and_the_others_go_on() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut c, logs) = with_a_diverging_node2(dir.path(), false).await;
    let leader = c.leader(Duration::from_secs(30)).await;
    assert_ne!(leader, 2, "node2 was set up never to lead");
    let client = c.client(leader);
    let alice = patient(&client).await;

    // The majority commits; node2 computes another result for the consent call,
    // and the next block's attestation shows it: the voters side with the leader.
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    let s2 = halted(&c, 2, Duration::from_secs(30), async || {
        let _ = client.call(&alice, "consent", "create", json!({"decision": "deny"})).await;
    })
    .await;
    let reason = s2["halted"].as_str().unwrap();
    assert!(reason.contains("DIVERGENCE") && reason.contains("state root"), "{reason}");
    assert_eq!(s2["raft"]["role"], "halted");
    refuses_work(&c, 2, &alice).await;
    let stuck = s2["height"].as_u64().unwrap();

    // The other two go on; node2 stays where it stopped.
    let before = c.status(0).await.unwrap()["height"].as_u64().unwrap();
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    c.client(0).wait_height(before + 1, Duration::from_secs(10)).await.unwrap();
    for i in [0, 1] {
        assert!(c.status(i).await.unwrap()["halted"].is_null(), "node{i} must not halt");
    }
    assert_eq!(c.status(2).await.unwrap()["height"].as_u64().unwrap(), stuck);
    let text = std::fs::read_to_string(&logs[2]).unwrap();
    assert!(text.contains("NODE HALTED") && text.contains("DIVERGENCE"), "the node says so in its log:\n{text}");
    c.kill9(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diverging_leader_halts_itself_and_the_followers_elect_another() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut c, logs) = with_a_diverging_node2(dir.path(), true).await;
    // node2 times out first; should another node have won, it steps aside.
    let mut leader = c.leader(Duration::from_secs(30)).await;
    for _ in 0..5 {
        if leader == 2 {
            break;
        }
        c.kill9(leader);
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.nodes[leader] = Some(NodeProc::start_with_env(&c.net.node_config(leader), &logs[leader], &[]));
        ready(&c.client(leader)).await;
        leader = c.leader(Duration::from_secs(30)).await;
    }
    assert_eq!(leader, 2, "node2 should lead");
    let client = c.client(0);
    let alice = patient(&client).await;

    // node2 leads and computes another result for this call than node0 and
    // node1; the next batch carries node2's results, which the followers'
    // majority does not share. Before, both followers halted and the network
    // stopped; now they go on, and node2 finds itself outvoted and halts.
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    patient(&client).await;
    let s2 = halted(&c, 2, Duration::from_secs(30), async || {}).await;
    let reason = s2["halted"].as_str().unwrap();
    assert!(reason.contains("DIVERGENCE") && reason.contains("majority of the voters (node"), "{reason}");
    assert!(reason.contains("state root"), "{reason}");
    refuses_work(&c, 2, &alice).await;

    // The followers elect a leader among themselves and commit.
    let new_leader = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = c.status(0).await.unwrap();
            match s["raft"]["leader"].as_str() {
                Some(l @ ("node0" | "node1")) => break l.to_string(),
                _ => assert!(Instant::now() < deadline, "no new leader: {s}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let r = client.call(&alice, "consent", "create", json!({"decision": "deny"})).await.unwrap();
    let h = r["height"].as_u64().unwrap();
    c.client(1).wait_height(h, Duration::from_secs(10)).await.unwrap();
    for i in [0, 1] {
        let s = c.status(i).await.unwrap();
        assert!(s["halted"].is_null(), "node{i} must not halt: {s}");
    }
    let (a, b) = (c.status(0).await.unwrap(), c.status(1).await.unwrap());
    let at = |s: &Value| s["height"].as_u64().unwrap();
    if at(&a) == at(&b) {
        assert_eq!(a["state_root"], b["state_root"], "the followers agree");
    }
    // The follower that received node2's batch said whom it disagreed with.
    let followers: String = [&logs[0], &logs[1]].iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(followers.contains("DIVERGENT PROPOSER: node2"), "a follower logs the proposer it outvoted");
    let text = std::fs::read_to_string(&logs[2]).unwrap();
    assert!(text.contains("NODE HALTED") && text.contains("steps down"), "node2 says so in its log:\n{text}");
    eprintln!("node2 halted; {new_leader} leads; the followers committed block {h}");
    c.kill9(2);
}
