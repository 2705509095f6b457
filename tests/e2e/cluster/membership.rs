//! Nodes joining, and peers proving who they are.

use super::harness::*;
use crate::support::*;
use phr_ledger::Keypair;
use phr_orderer::raft::{node_id, Signer};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_new_node_joins_under_load_from_a_snapshot_and_becomes_a_voter_only_with_the_consortium() {
    let _serial = serial().await;
    // Small snapshots and a short log, so that a newcomer cannot replay from the start.
    let mut c = Cluster::new(3, Opts { snapshot_every: 20, keep_logs: 5, ..Default::default() }).await;
    c.start_all().await;
    let leader = c.leader(Duration::from_secs(30)).await;
    let (doc, patient) = load_signer(&c).await;
    let chain = c.net.chain_id();
    let clients: Vec<_> = (0..3).map(|i| c.client(i)).collect();
    // Few in flight: many small blocks.
    let load = Load::start(clients.clone(), anchors(&chain, &doc, &patient, "before", 3000), 4);
    // Every node has compacted its log: whoever leads when node3 joins must send a snapshot.
    let deadline = Instant::now() + Duration::from_secs(90);
    for i in 0..3 {
        loop {
            let s = c.status(i).await.unwrap();
            if s["raft"]["purged_index"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "node{i} never compacted its log: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Create, start and add node3 while the load goes on.
    let out =
        phr(&["network", "add-node", "--network", c.net.path().to_str().unwrap(), "--id", "node3", "--org", "citylab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg3 = c.net.path().join("node3/node.toml");
    let node3 = NodeProc::start(&cfg3);
    let url = c.nodes[leader].as_ref().unwrap().url.clone();
    let key = c.net.admin_key_file("citylab");
    let ca = c.net.ca().display().to_string();
    let cli = move |args: Vec<String>| {
        let (url, ca) = (url.clone(), ca.clone());
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend(["--node", url.as_str()]);
            phr_env(&all, &[("PHR_CA", ca.as_str())])
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let (citylab, stmarys, northclinic) = (
        key.display().to_string(),
        c.net.admin_key_file("stmarys").display().to_string(),
        c.net.admin_key_file("northclinic").display().to_string(),
    );
    // Its own organisation's admin adds it as a learner, and asks for a voter too:
    // the learner is added, the promotion refused until a majority approves.
    let out =
        cli(args(&["node", "add", "--key", &citylab, "--config", cfg3.to_str().unwrap(), "--voter"])).await.unwrap();
    let (text, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("caught up"), "node add: {text}{err}");
    assert!(err.contains("consortium-approval-needed") && err.contains("2 of 3"), "{err}");
    let promote = args(&["node", "promote", "--key", &citylab, "--id", "node3"]);
    // citylab alone is not a majority of three organisations.
    let out = cli(args(&["node", "approve-voter", "--key", &citylab, "--id", "node3"])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("approved by 1 of the 2"));
    let out = cli(promote.clone()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("approved by: citylab"), "one organisation promoted its node: {err}");
    let s = c.status(leader).await.unwrap();
    assert_eq!(s["raft"]["voters"].as_array().unwrap().len(), 3, "{s}");
    let out = cli(args(&["node", "approve-voter", "--key", &stmarys, "--id", "node3"])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(promote).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("is now a voter"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let acked = load.stop().await;

    // node3 applies its own promotion shortly after the leader commits it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s3 = node3.client().status().await.unwrap();
        if s3["raft"]["voters"].as_array().unwrap().len() == 4 {
            assert!(s3["raft"]["snapshot_index"].as_u64().is_some(), "node3 caught up from a snapshot: {s3}");
            break;
        }
        assert!(Instant::now() < deadline, "node3 never saw itself a voter: {s3}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (height, hash, root) = c.converged(Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s3 = node3.client().status().await.unwrap();
        if s3["height"].as_u64() == Some(height) {
            assert_eq!(
                (s3["last_block_hash"].as_str().unwrap(), s3["state_root"].as_str().unwrap()),
                (hash.as_str(), root.as_str())
            );
            break;
        }
        assert!(Instant::now() < deadline, "node3 did not reach height {height}: {s3}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The newcomer holds the whole history, served from the snapshot.
    let b1 = node3.client().block("1", false).await.unwrap();
    assert_eq!(b1["hash"], c.client(0).block("1", false).await.unwrap()["hash"]);

    // Removing a voter takes an admin of its organisation and, again, a majority
    // of the organisations; afterwards the group is three voters again and goes
    // on committing.
    let remove = |key: &str| args(&["node", "remove", "--key", key, "--id", "node3"]);
    let out = cli(remove(&stmarys)).await.unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("only an admin of citylab"));
    let out = cli(remove(&citylab)).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("consortium-approval-needed"), "{err}");
    for admin in [&citylab, &northclinic] {
        let out = cli(args(&["node", "approve-voter", "--key", admin, "--id", "node3", "--remove"])).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = cli(remove(&citylab)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = c.status(0).await.unwrap();
        if s["raft"]["voters"].as_array().unwrap().len() == 3 && s["raft"]["learners"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "node3 still a member: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = c.client(0);
    client
        .call(
            &doc,
            "record-anchor",
            "anchor",
            serde_json::json!({"record_id": "after-removal", "patient": patient, "sha256": sha("r"), "class": "lab"}),
        )
        .await
        .unwrap();
    eprintln!(
        "join: node3 caught up from a snapshot at height {height} with {} acknowledged during the join",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_peer_messages_are_rejected_and_logged() {
    let _serial = serial().await;
    let net = Network::init(&["--nodes", "2"]);
    let log = net.path().join("node0.log");
    let node0 = NodeProc::start_logged(&net.node_config(0), &log);
    let node1 = NodeProc::start(&net.node_config(1));
    ready(&node0.client()).await;
    let genesis: phr_ledger::Genesis =
        phr_ledger::Genesis::from_json(&std::fs::read_to_string(net.path().join("genesis.json")).unwrap()).unwrap();
    let peer0 = genesis.nodes[0].peer_addr.clone();
    let chain = genesis.chain_id.clone();
    let to = node_id("node0");

    // Without a certificate, with one the consortium CA issued to a node no
    // membership names, or with one of another CA: refused at the handshake.
    let no_cert = reqwest::Client::builder()
        .use_preconfigured_tls(phr_tls::configs::api_client(&phr_tls::certs::load_ca(&net.ca()).unwrap()).unwrap())
        .build()
        .unwrap();
    let e = no_cert.post(format!("https://{peer0}/peer/v1/vote")).body(vec![1]).send().await.unwrap_err();
    assert!(e.is_connect() || e.is_request(), "{e}");
    let ca = phr_tls::certs::Ca::load(&chain, &net.ca(), &net.path().join("keys/ca.key")).unwrap();
    let mallory_cert = ca.issue("mallory", &["127.0.0.1".into()]).unwrap().identity().unwrap();
    let e = peer_client(&net, &mallory_cert).post(format!("https://{peer0}/peer/v1/vote")).body(vec![1]).send().await;
    assert!(e.is_err(), "a certificate no membership pins is refused: {e:?}");
    let stranger = phr_tls::certs::Ca::generate(&chain).unwrap().issue("node1", &["127.0.0.1".into()]).unwrap();
    let e = peer_client(&net, &stranger.identity().unwrap())
        .post(format!("https://{peer0}/peer/v1/vote"))
        .body(vec![1])
        .send()
        .await;
    assert!(e.is_err(), "a certificate of another CA is refused: {e:?}");

    // node1's genuine certificate (say its TLS key leaked), but messages it did not sign.
    let node1_tls = node_identity(&net, 1);
    let http1 = peer_client(&net, &node1_tls);
    let post = |body: Vec<u8>| {
        let url = format!("https://{peer0}/peer/v1/vote");
        let http = http1.clone();
        async move { http.post(url).body(body).send().await.unwrap() }
    };
    // Mallory claims to be node1 but signs with her own key.
    let forged =
        Signer::new(&chain, node_id("node1"), Keypair::generate()).seal(to, "vote", b"not even a vote".to_vec());
    let r = post(forged).await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("bad signature"));
    // An unknown node.
    let unknown = Signer::new(&chain, node_id("mallory"), Keypair::generate()).seal(to, "vote", vec![]);
    assert_eq!(post(unknown).await.status().as_u16(), 401);
    // Garbage.
    assert_eq!(post(b"hello".to_vec()).await.status().as_u16(), 401);
    // The real node1's key, but for another chain.
    let key1: phr_ledger::KeyFile =
        serde_json::from_str(&std::fs::read_to_string(net.path().join("node1/node.key")).unwrap()).unwrap();
    let other_chain = Signer::new("other-chain", node_id("node1"), key1.keypair().unwrap()).seal(to, "vote", vec![]);
    assert_eq!(post(other_chain).await.status().as_u16(), 401);
    // node0's own key (say it leaked too), sent over node1's certificate: the
    // certificate pinned for node0 is not this one.
    let key0: phr_ledger::KeyFile =
        serde_json::from_str(&std::fs::read_to_string(net.path().join("node0/node.key")).unwrap()).unwrap();
    let as_node0 = Signer::new(&chain, node_id("node0"), key0.keypair().unwrap()).seal(to, "vote", vec![]);
    let r = post(as_node0).await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("other than the one pinned"));

    // A genuine peer relaying an admin command that no admin signed: the leader
    // checks the admin's signature itself and refuses.
    let leader_status = node0.client().status().await.unwrap();
    let leader = leader_status["raft"]["leader"].as_str().unwrap().to_string();
    let relay = if leader == "node0" { "node1" } else { "node0" };
    let relay_key: phr_ledger::KeyFile =
        serde_json::from_str(&std::fs::read_to_string(net.path().join(format!("{relay}/node.key"))).unwrap()).unwrap();
    let mallory = Keypair::generate();
    let cmd = phr_ledger::AdminCommandBody {
        chain_id: chain.clone(),
        action: phr_ledger::NodeAction::Remove { name: relay.to_string() },
        issued_ms: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64,
        membership_index: leader_status["raft"]["membership_index"].as_u64().unwrap(),
        admin: mallory.public_key(),
    }
    .sign(&mallory);
    let leader_peer = genesis.nodes.iter().find(|n| n.id == leader).unwrap().peer_addr.clone();
    let sealed = Signer::new(&chain, node_id(relay), relay_key.keypair().unwrap()).seal(
        node_id(&leader),
        "admin",
        serde_json::to_vec(&cmd).unwrap(),
    );
    let relay_index: usize = relay.trim_start_matches("node").parse().unwrap();
    let request = phr_orderer::raft::envelope::request_digest(&sealed);
    let r = peer_client(&net, &node_identity(&net, relay_index))
        .post(format!("https://{leader_peer}/peer/v1/admin"))
        .body(sealed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let keys = phr_orderer::raft::PeerKeys::new(&chain, node_id(relay));
    let leader_node = genesis.nodes.iter().find(|n| n.id == leader).unwrap();
    keys.set_bootstrap(&[phr_orderer::raft::envelope::Accepted {
        name: leader.clone(),
        key: leader_node.public_key,
        cert: Some(leader_node.tls_cert_sha256),
    }]);
    let body = keys.open_response(&r.bytes().await.unwrap(), "admin/response", node_id(&leader), request).unwrap();
    let answer: Result<String, phr_orderer::raft::server::AdminRefusal> =
        phr_orderer::raft::types::decode(&body).unwrap();
    let refusal = answer.unwrap_err();
    assert_eq!((refusal.status, refusal.code.as_str()), (403, "unauthorized"));
    assert!(refusal.message.contains("not an organisation admin"), "{refusal:?}");
    let voters = node0.client().status().await.unwrap()["raft"]["voters"].as_array().unwrap().len();
    assert_eq!(voters, 2, "the membership is unchanged");

    // The network is unharmed.
    let c = node0.client();
    patient(&c).await;
    // Node1 applies the block too (wait for it; it may lag a moment behind node0).
    let target = c.status().await.unwrap()["height"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while node1.client().status().await.unwrap()["height"].as_u64().unwrap() < target {
        assert!(Instant::now() < deadline, "node1 did not apply block {target}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("rejected a peer message") && text.contains("bad signature") && text.contains("unknown node"),
        "{text}"
    );
    assert!(text.contains("TLS handshake refused"), "refused handshakes are logged: {text}");
}
