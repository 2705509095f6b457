//! The contract lifecycle on a real network: the README's worked example
//! (consent v1 → v2 while three nodes serve load), nodes that restart or join
//! after the upgrade, and hostile components.

use super::harness::*;
use crate::components;
use crate::support::*;
use base64::Engine as _;
use phr_ledger::Keypair;
use phr_node::client::{sign, Client};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Run `phr` with `args` off the async workers, so that the load goes on meanwhile.
/// `phr` trusting the network's CA, reading as `reader` (a key file) if given.
async fn cli_as(net: &Network, reader: Option<String>, args: Vec<String>) -> std::process::Output {
    let ca = net.ca().display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut env = vec![("PHR_CA", ca.as_str())];
        if let Some(k) = &reader {
            env.push(("PHR_KEY", k.as_str()));
        }
        phr_env(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env)
    })
    .await
    .unwrap()
}

async fn cli(net: &Network, args: Vec<String>) -> std::process::Output {
    cli_as(net, None, args).await
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn evaluate_restricted(c: &Client, patient: &Keypair) -> Value {
    let args = json!({"patient": patient.id().to_hex(), "actor": {"id": "ab".repeat(20), "org": "northclinic"},
                      "purpose": "TREAT", "data_class": "lab-result", "security_label": "R"});
    c.signed_by(patient).query("consent", "evaluate", &args).await.unwrap()
}

/// Every ok `consent.create` receipt on the node behind `c`: ((height, index), code hash).
async fn consent_creates(c: &Client) -> Vec<((u64, u64), String)> {
    let tip = c.status().await.unwrap()["height"].as_u64().unwrap();
    let mut out = Vec::new();
    for h in 1..=tip {
        let b = c.block(&h.to_string(), true).await.unwrap();
        for (i, r) in b["receipts"].as_array().unwrap().iter().enumerate() {
            if r["contract"] == "consent" && r["method"] == "create" && r["status"] == "ok" {
                out.push(((h, i as u64), r["code_hash"].as_str().unwrap().to_string()));
            }
        }
    }
    out
}

async fn wait_height(c: &Client, height: u64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = c.status().await.unwrap();
        if s["height"].as_u64().unwrap() >= height {
            return s;
        }
        assert!(Instant::now() < deadline, "{} did not reach height {height}: {s}", c.base());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_v1_to_v2_on_three_nodes_under_load_as_in_the_readme() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let chain = c.net.chain_id();
    let urls: Vec<String> = (0..3).map(|i| c.nodes[i].as_ref().unwrap().url.clone()).collect();
    let net_dir = c.net.path();
    let key = |org: &str| net_dir.join(format!("keys/{org}-admin.key")).display().to_string();
    let client = c.client(0);
    let v1 = phr_ledger::sha256(&[phr_contracts::CONSENT]).to_hex();
    let v2 = phr_ledger::sha256(&[phr_contracts::CONSENT_V2]).to_hex();

    // Alice consents to treatment by northclinic without naming security labels:
    // under v1 that opens her restricted (R) data to northclinic.
    let alice = patient(&client).await;
    client
        .call(
            &alice,
            "consent",
            "create",
            json!({"decision": "deny", "provisions": [{"type": "permit",
            "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(evaluate_restricted(&client, &alice).await["decision"], "permit");

    // The load: patients creating consents, through all three nodes.
    let mut patients = Vec::new();
    for _ in 0..12 {
        patients.push(patient(&client).await);
    }
    let txs: Vec<_> = (0..600)
        .map(|i| {
            sign(&patients[i % patients.len()], &chain, 1_000_000, "consent", "create", &json!({"decision": "permit"}))
        })
        .collect();
    let clients: Vec<_> = (0..3).map(|i| c.client(i)).collect();
    let load = Load::start(clients, txs, 8);
    load.until(100, Duration::from_secs(60)).await;

    // The README's steps, through the command line, on different nodes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("consent-v2.wasm").display().to_string();
    let o = cli(&c.net, args(&["contract", "builtin", "--name", "consent-v2", "--out", &file])).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(&c.net, args(&["contract", "install", "--node", &urls[0], "--key", &key("stmarys"), "--file", &file]))
        .await;
    assert!(o.status.success() && text(&o).contains(&v2), "{}", text(&o));
    let o = cli(
        &c.net,
        args(&[
            "contract",
            "approve",
            "--node",
            &urls[1],
            "--key",
            &key("stmarys"),
            "--name",
            "consent",
            "--file",
            &file,
        ]),
    )
    .await;
    assert!(o.status.success() && text(&o).contains("\"ready_to_commit\": false"), "{}", text(&o));
    // One approval of three organisations is not a majority.
    let o = cli(
        &c.net,
        args(&[
            "contract",
            "commit",
            "--node",
            &urls[2],
            "--key",
            &key("stmarys"),
            "--name",
            "consent",
            "--code-hash",
            &v2,
        ]),
    )
    .await;
    assert!(!o.status.success() && text(&o).contains("needs the approval of a majority (2 of 3)"), "{}", text(&o));
    let o = cli(
        &c.net,
        args(&[
            "contract",
            "approve",
            "--node",
            &urls[2],
            "--key",
            &key("northclinic"),
            "--name",
            "consent",
            "--code-hash",
            &v2,
        ]),
    )
    .await;
    assert!(o.status.success() && text(&o).contains("\"ready_to_commit\": true"), "{}", text(&o));
    let o = cli(
        &c.net,
        args(&[
            "contract",
            "commit",
            "--node",
            &urls[1],
            "--key",
            &key("northclinic"),
            "--name",
            "consent",
            "--code-hash",
            &v2,
        ]),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let committed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let at = (
        committed["committed_at"]["height"].as_u64().unwrap(),
        committed["committed_at"]["tx_index"].as_u64().unwrap(),
    );

    let n = load.count();
    load.until(n + 100, Duration::from_secs(60)).await;
    let acked = load.stop().await;
    let (height, _, _) = c.converged(Duration::from_secs(60)).await;

    // Nothing acknowledged was lost; before the commit v1 ran, after it v2.
    let chain_txs = c.committed(0).await;
    for (id, _) in &acked {
        assert!(chain_txs.contains(id), "acknowledged {id} is not in the chain");
    }
    let creates = consent_creates(&client).await;
    let (before, after): (Vec<_>, Vec<_>) = creates.iter().partition(|(pos, _)| *pos < at);
    assert!(
        before.len() > 50 && after.len() > 50,
        "load on both sides of the commit: {} / {}",
        before.len(),
        after.len()
    );
    assert!(before.iter().all(|(_, h)| *h == v1), "every create before the commit ran v1");
    assert!(after.iter().all(|(_, h)| *h == v2), "every create after the commit ran v2");

    // Every node now answers with the new rule, and kept the state.
    for i in 0..3 {
        let e = evaluate_restricted(&c.client(i), &alice).await;
        assert_eq!(e["decision"], "deny", "node{i} runs v2: {e}");
        let list = c
            .client(i)
            .signed_by(&alice)
            .query("consent", "list", &json!({"patient": alice.id().to_hex()}))
            .await
            .unwrap();
        assert_eq!(list["consents"].as_array().unwrap().len(), 1);
    }
    let o = cli_as(&c.net, Some(key("stmarys")), args(&["contract", "history", "consent", "--node", &urls[0]])).await;
    let t = text(&o);
    assert!(o.status.success() && t.contains(&v1) && t.contains(&v2) && t.contains("northclinic@"), "{t}");
    let o = cli_as(&c.net, Some(key("stmarys")), args(&["contract", "list", "--node", &urls[2]])).await;
    assert!(o.status.success() && text(&o).contains("northclinic,stmarys"), "{}", text(&o));

    // A node restarted after the upgrade serves v2 at once.
    c.kill9(1);
    c.start(1);
    let rules = c.client(1).query("consent", "rules", &json!({})).await.unwrap();
    assert_eq!(rules["rules"], 2, "{rules}");
    assert_eq!(evaluate_restricted(&c.client(1), &alice).await["decision"], "deny");

    // A node joining now replays every block from the genesis, each with the
    // code that was live at its height, and ends with the same state.
    let out =
        phr(&["network", "add-node", "--network", c.net.path().to_str().unwrap(), "--id", "node3", "--org", "citylab"]);
    assert!(out.status.success(), "{}", text(&out));
    let cfg3 = c.net.path().join("node3/node.toml");
    let node3 = NodeProc::start(&cfg3);
    let o = cli(
        &c.net,
        args(&["node", "add", "--node", &urls[0], "--key", &key("citylab"), "--config", cfg3.to_str().unwrap()]),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let s3 = wait_height(&node3.client(), height, Duration::from_secs(120)).await;
    assert!(s3["raft"]["snapshot_index"].is_null(), "node3 replayed the log, not a snapshot: {s3}");
    let b = client.block(&height.to_string(), false).await.unwrap();
    let b3 = node3.client().block(&height.to_string(), false).await.unwrap();
    assert_eq!(b3["hash"], b["hash"], "node3 computed the same chain (the header binds the results before it)");
    assert_eq!(consent_creates(&node3.client()).await, creates, "node3 ran v1 then v2 at the same places");

    // An auditor replays the chain from every node's API: everything matches,
    // and the replay ran v1 then v2 where the chain says.
    let urls3: Vec<String> =
        (0..3).map(|i| c.nodes[i].as_ref().unwrap().url.clone()).chain([node3.url.clone()]).collect();
    // Each node's chain is read as the admin of its organisation.
    for (u, org) in urls3.iter().zip(["stmarys", "northclinic", "citylab", "citylab"]) {
        let o = cli_as(&c.net, Some(key(org)), args(&["audit", "replay", "--node", u, "--json"])).await;
        assert!(o.status.success(), "replay of {u}: {}", text(&o));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(r["divergence"].is_null() && r["to"].as_u64().unwrap() >= height, "{r}");
        let consent: Vec<&Value> =
            r["code"].as_array().unwrap().iter().filter(|u| u["contract"] == "consent").collect();
        assert_eq!(consent.len(), 2, "{r}");
        assert!(consent.iter().any(|u| u["code_hash"] == v1.as_str() && u["last_height"].as_u64().unwrap() <= at.0));
        assert!(consent.iter().any(|u| u["code_hash"] == v2.as_str() && u["first_height"].as_u64().unwrap() >= at.0));
    }
    // From a stopped node's data directory, the whole state is compared too;
    // then from a snapshot of it, only the blocks after.
    c.kill9(2);
    let cfg2 = c.net.node_config(2).display().to_string();
    let o = cli(&c.net, args(&["audit", "replay", "--config", &cfg2, "--json"])).await;
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(o.status.success() && r["divergence"].is_null() && r["state_compared"] == true, "{r}");
    let snap = dir.path().join("node2.snap").display().to_string();
    let o = cli(&c.net, args(&["audit", "snapshot", "--config", &cfg2, "--out", &snap])).await;
    assert!(o.status.success(), "{}", text(&o));
    let snap_height = serde_json::from_slice::<Value>(&o.stdout).unwrap()["height"].as_u64().unwrap();
    c.start(2);
    for p in &patients[..5] {
        c.client(0).call(p, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    }
    c.converged(Duration::from_secs(60)).await;
    c.kill9(2);
    let o = cli(&c.net, args(&["audit", "replay", "--config", &cfg2, "--snapshot", &snap, "--json"])).await;
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(o.status.success() && r["divergence"].is_null(), "{r}");
    assert_eq!(r["from"].as_u64(), Some(snap_height + 1));
    assert!(r["txs"].as_u64().unwrap() >= 5);
    let o = cli(&c.net, args(&["audit", "replay", "--config", &cfg2, "--from", "5"])).await;
    assert!(!o.status.success() && text(&o).contains("needs a snapshot"), "{}", text(&o));

    eprintln!(
        "upgrade: {} acknowledged under load, commit at {at:?}, {} creates on v1 and {} on v2",
        acked.len(),
        before.len(),
        after.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_components_are_refused_or_fail_identically_on_every_node() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let chain = c.net.chain_id();
    let stmarys = c.net.admin("stmarys");
    let northclinic = c.net.admin("northclinic");
    let client = c.client(0);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let install =
        |bytes: &[u8]| sign(&stmarys, &chain, 1_000_000, "lifecycle", "install", &json!({"code": b64(bytes)}));

    // Refused at install, each with its reason in the receipt.
    let mut hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"\x00asm garbage".to_vec(), "not a valid WebAssembly component"),
        ("wasi import", components::wasi_importer(), "is not allowed"),
        ("wrong world", components::other_world(), "does not export the function `invoke`"),
        ("just over max_code_bytes", vec![7u8; 4 * 1024 * 1024 + 1], "the limit is 4194304"),
    ];
    for (what, extra) in components::compile_bombs() {
        hostile.push(("compile bomb", components::contract_with(&extra), what));
    }
    let mut ids = Vec::new();
    for (what, bytes, reason) in &hostile {
        let tx = install(bytes);
        let e = client.submit_raw(phr_node::client::canonical(&tx), true).await.expect_err(what);
        let receipt = e.receipt.clone().unwrap_or_else(|| panic!("{what}: a receipt: {e}"));
        assert_eq!(receipt["code"], "invalid-code", "{what}: {receipt}");
        assert!(e.message.contains(reason), "{what}: {e}");
        ids.push(receipt["tx_id"].as_str().unwrap().to_string());
    }
    // A module of many MB does not fit in a transaction at all. (Just over the
    // largest install, so the node reads the whole body before it answers; a
    // body far over the HTTP limit is cut off mid-upload.)
    let huge = install(&vec![0u8; 4_260_000]);
    let e = client.submit_raw(phr_node::client::canonical(&huge), true).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(413), "too-large"), "{e}");

    // Runaway code, installed and committed: its calls fail the same way everywhere.
    let runaway = phr_contracts::RUNAWAY;
    let h = phr_ledger::sha256(&[runaway]).to_hex();
    client.submit_raw(phr_node::client::canonical(&install(runaway)), true).await.unwrap();
    let t = json!({"name": "hostile", "code_hash": h, "sequence": 1});
    client.call(&stmarys, "lifecycle", "approve", t.clone()).await.unwrap();
    client.call(&northclinic, "lifecycle", "approve", t.clone()).await.unwrap();
    client.call(&northclinic, "lifecycle", "commit", t).await.unwrap();
    let p = patient(&client).await;
    for m in ["spin", "hog", "recurse"] {
        let e = client.call(&p, "hostile", m, json!({})).await.expect_err(m);
        let r = e.receipt.unwrap();
        ids.push(r["tx_id"].as_str().unwrap().to_string());
        assert_ne!(r["status"], "ok", "{m}: {r}");
    }
    c.converged(Duration::from_secs(30)).await;
    for id in &ids {
        let r0 = c.client(0).receipt(id).await.unwrap();
        for i in 1..3 {
            assert_eq!(c.client(i).receipt(id).await.unwrap(), r0, "receipt {id} differs on node{i}");
        }
    }
    assert!(client.status().await.is_ok(), "the node keeps serving");
}
