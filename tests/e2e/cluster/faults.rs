//! Crashes, partitions and lost quorums.

use super::harness::*;
use crate::support::*;
use phr_node::client::sign;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn leader_killed_under_load_new_leader_commits_nothing_lost_and_all_converge() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let old = c.leader(Duration::from_secs(30)).await;
    let (doc, patient) = load_signer(&c).await;
    let chain = c.net.chain_id();
    let clients: Vec<_> = (0..3).map(|i| c.client(i)).collect();
    let load = Load::start(clients, anchors(&chain, &doc, &patient, "kill", 6000), 48);
    load.until(300, Duration::from_secs(60)).await;

    let killed_at = Instant::now();
    c.kill9(old);
    // A fresh transaction, sent to a survivor after the kill, commits within a
    // few election timeouts (800-1600 ms each).
    let survivor = c.running()[0];
    let mut probes = anchors(&chain, &doc, &patient, "probe", 100).into_iter();
    let probe = probes.next().unwrap();
    let gap = loop {
        match c.client(survivor).submit(&probe, true).await {
            Ok(r) if r.receipt.is_some() => break killed_at.elapsed(),
            _ => {
                assert!(killed_at.elapsed() < Duration::from_secs(30), "nothing commits after the leader was killed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(gap < Duration::from_secs(10), "a transaction sent after the kill committed only after {gap:?}");
    let new = c.leader(Duration::from_secs(20)).await;
    assert_ne!(new, old);
    let before_restart = load.count();
    // The two survivors keep committing.
    load.until(before_restart + 1, Duration::from_secs(10)).await;
    let acked = load.stop().await;

    c.start(old);
    let (height, _, _) = c.converged(Duration::from_secs(60)).await;
    let committed = c.committed(old).await;
    for (id, _) in &acked {
        assert!(committed.contains(id), "acknowledged transaction {id} is not in the chain");
    }
    eprintln!(
        "leader kill: {} acknowledged, first commit {gap:?} after the kill, all 3 converged at height {height}",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolated_follower_commits_nothing_the_majority_goes_on_and_it_converges_after_healing() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts { proxies: true, ..Default::default() }).await;
    c.start_all().await;
    let leader = c.leader(Duration::from_secs(30)).await;
    let f = (leader + 1) % 3;
    let (doc, patient) = load_signer(&c).await;
    let chain = c.net.chain_id();
    c.converged(Duration::from_secs(30)).await;

    c.isolate(f, true);
    let f_height = c.status(f).await.unwrap()["height"].as_u64().unwrap();
    // The majority goes on.
    let majority: Vec<_> = (0..3).filter(|i| *i != f).map(|i| c.client(i)).collect();
    let load = Load::start(majority, anchors(&chain, &doc, &patient, "majority", 400), 16);
    load.until(200, Duration::from_secs(60)).await;
    // The minority commits nothing, and says why.
    let tx = sign(
        &doc,
        &chain,
        1_000_000,
        "record-anchor",
        "anchor",
        &json!({"record_id": "minority/1", "patient": patient, "sha256": sha("m"), "class": "lab"}),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let e = c.client(f).submit(&tx, true).await.expect_err("an isolated node cannot commit");
    assert_eq!((e.status, e.code.as_str()), (Some(503), "no-quorum"), "{e}");
    assert!(e.message.contains("leader") || e.message.contains("majority"), "{e}");
    assert_eq!(c.status(f).await.unwrap()["height"].as_u64().unwrap(), f_height, "the isolated node committed nothing");
    let acked = load.stop().await;
    let majority_height = c.status(leader).await.unwrap()["height"].as_u64().unwrap();
    assert!(majority_height > f_height);

    c.isolate(f, false);
    let (height, _, _) = c.converged(Duration::from_secs(60)).await;
    assert!(height >= majority_height);
    let committed = c.committed(f).await;
    for (id, _) in &acked {
        assert!(committed.contains(id));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn five_nodes_survive_two_losses_stop_at_three_and_resume_when_one_returns() {
    let _serial = serial().await;
    let mut c = Cluster::new(5, Opts::default()).await;
    c.start_all().await;
    let leader = c.leader(Duration::from_secs(30)).await;
    let (doc, patient) = load_signer(&c).await;
    let chain = c.net.chain_id();
    let mut txs = anchors(&chain, &doc, &patient, "five", 10).into_iter();

    // Lose two, the leader among them: the other three elect a leader and commit.
    let lost = [leader, (leader + 1) % 5];
    for i in lost {
        c.kill9(i);
    }
    let survivors = c.running();
    c.leader(Duration::from_secs(30)).await;
    let r = c.client(survivors[0]).submit(&txs.next().unwrap(), true).await.expect("three of five commit");
    assert!(r.receipt.is_some());

    // Lose a third: no majority. Nothing commits, and clients are told why.
    c.kill9(survivors[0]);
    let rest = c.running();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let heights: HashSet<u64> = futures::future::join_all(rest.iter().map(|i| c.status(*i)))
        .await
        .into_iter()
        .map(|s| s.unwrap()["height"].as_u64().unwrap())
        .collect();
    let e = c.client(rest[0]).submit(&txs.next().unwrap(), true).await.expect_err("two of five cannot commit");
    assert_eq!((e.status, e.code.as_str()), (Some(503), "no-quorum"), "{e}");
    assert!(e.message.contains("majority"), "the refusal explains: {e}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in &rest {
        let h = c.status(*i).await.unwrap()["height"].as_u64().unwrap();
        assert!(heights.contains(&h), "node{i} committed without a quorum");
    }

    // One returns: three of five again, and commits resume.
    c.start(survivors[0]);
    c.leader(Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let tx = txs.next().unwrap();
    loop {
        match c.client(rest[0]).submit(&tx, true).await {
            Ok(r) if r.receipt.is_some() => break,
            other => {
                assert!(Instant::now() < deadline, "commits did not resume: {other:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    c.converged(Duration::from_secs(60)).await;
}
