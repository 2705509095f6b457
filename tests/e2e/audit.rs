//! `phr audit` against a real node: explain, the accounting of disclosures,
//! and stores edited behind the node's back.

use crate::support::*;
use phr_ledger::{Canonical, Keypair};
use phr_node::client::Client;
use phr_state::StateDb;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What the story did to Alice's data, in order: (kind of line, tx id).
struct Story {
    alice: Keypair,
    lines: Vec<(&'static str, String)>,
    request_tx: String,
    break_glass_tx: String,
    /// Block time between the first and the second half of the story.
    midpoint_ms: u64,
}

fn tx_id(receipt: &Value) -> String {
    receipt["tx_id"].as_str().unwrap().to_string()
}

async fn ok(c: &Client, key: &Keypair, contract: &str, method: &str, args: Value) -> Value {
    c.call(key, contract, method, args).await.unwrap_or_else(|e| panic!("{contract}.{method}: {e}"))
}

async fn refused(c: &Client, key: &Keypair, contract: &str, method: &str, args: Value) -> String {
    let e = c.call(key, contract, method, args).await.expect_err("refused");
    tx_id(&e.receipt.expect("a committed refusal has a receipt"))
}

/// A story with Alice's data, and a little about Bob that must not show up in hers.
async fn story(c: &Client, net: &Network) -> Story {
    let (stmarys, northclinic) = (net.admin("stmarys"), net.admin("northclinic"));
    let alice = patient(c).await;
    let bob = patient(c).await;
    let anchorer = practitioner(c, &stmarys, &["physician"]).await;
    let carol = practitioner(c, &northclinic, &["physician"]).await;
    let dan = practitioner(c, &northclinic, &["physician", "emergency"]).await;
    let erin = practitioner(c, &northclinic, &["privacy-officer"]).await;
    let (a, b) = (alice.id().to_hex(), bob.id().to_hex());
    let mut lines = Vec::new();
    for (p, r) in [(&a, "stmarys/lab/a1"), (&b, "stmarys/lab/b1")] {
        ok(
            c,
            &anchorer,
            "record-anchor",
            "anchor",
            json!({"record_id": r, "patient": p, "sha256": sha(r), "class": "lab"}),
        )
        .await;
    }
    let consent = json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]});
    let alice_consent = ok(c, &alice, "consent", "create", consent.clone()).await;
    ok(c, &bob, "consent", "create", consent).await;

    let g = ok(
        c,
        &carol,
        "access-grant",
        "request",
        json!({"patient": a, "record_id": "stmarys/lab/a1", "purpose": "TREAT"}),
    )
    .await;
    let request_tx = tx_id(&g);
    lines.push(("granted", request_tx.clone()));
    let access = g["result"]["id"].clone();
    let d = ok(c, &carol, "access-grant", "record_access", json!({"access_id": access, "served_by": "node0"})).await;
    lines.push(("disclosed", tx_id(&d)));
    // Bob's data is accessed too; none of it is Alice's business.
    let gb = ok(
        c,
        &carol,
        "access-grant",
        "request",
        json!({"patient": b, "record_id": "stmarys/lab/b1", "purpose": "TREAT"}),
    )
    .await;
    ok(c, &carol, "access-grant", "record_access", json!({"access_id": gb["result"]["id"], "served_by": "node0"}))
        .await;
    let midpoint_ms = c.status().await.unwrap()["last_block_time_ms"].as_u64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    ok(c, &alice, "consent", "revoke", json!({"id": alice_consent["result"]["id"]})).await;
    lines.push((
        "refused",
        refused(c, &carol, "access-grant", "record_access", json!({"access_id": access, "served_by": "node0"})).await,
    ));
    let denied = ok(
        c,
        &carol,
        "access-grant",
        "request",
        json!({"patient": a, "record_id": "stmarys/lab/a1", "purpose": "TREAT"}),
    )
    .await;
    lines.push(("denied", tx_id(&denied)));
    let bg_args = json!({"patient": a, "record_id": "stmarys/lab/a1", "reason": "unconscious in ER"});
    lines.push(("refused", refused(c, &carol, "access-grant", "break_glass", bg_args.clone()).await));
    let bg = ok(c, &dan, "access-grant", "break_glass", bg_args).await;
    let break_glass_tx = tx_id(&bg);
    lines.push(("break-glass", break_glass_tx.clone()));
    let bd =
        ok(c, &dan, "access-grant", "record_access", json!({"access_id": bg["result"]["id"], "served_by": "node0"}))
            .await;
    lines.push(("disclosed", tx_id(&bd)));
    let rv =
        ok(c, &erin, "access-grant", "review", json!({"access_id": bg["result"]["id"], "outcome": "justified"})).await;
    lines.push(("reviewed", tx_id(&rv)));
    Story { alice, lines, request_tx, break_glass_tx, midpoint_ms }
}

fn json_out(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

async fn cli(args: Vec<String>) -> std::process::Output {
    cli_env(args, Vec::new()).await
}

/// `phr` with `envs`, off the async runtime.
async fn cli_env(args: Vec<String>, envs: Vec<(String, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        phr_env(&args.iter().map(String::as_str).collect::<Vec<_>>(), &envs)
    })
    .await
    .unwrap()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_names_what_decided_and_disclosures_are_exactly_what_happened() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let s = story(&c, &net).await;
    let alice = s.alice.id().to_hex();
    let url = node.url.clone();
    // The auditing CLI reads the node's chain as the admin of its organisation.
    let env = vec![
        ("PHR_CA".to_string(), net.ca().display().to_string()),
        ("PHR_KEY".to_string(), net.admin_key_file("stmarys").display().to_string()),
    ];
    let cli = |args: Vec<String>| cli_env(args, env.clone());

    // explain: the consent and provision behind the grant, the role behind the break-glass.
    let o = cli(strings(&["audit", "explain", &s.request_tx, "--node", &url, "--json"])).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = json_out(&o);
    assert_eq!(e["matches"], true, "{e}");
    assert_eq!(e["decided_by"]["authorization"]["kind"], "consent");
    assert_eq!(e["decided_by"]["authorization"]["provision"], 0);
    assert_eq!(e["caller"]["org"], "northclinic");
    assert!(e["reads"].as_array().unwrap().iter().any(|r| r["namespace"] == "consent"), "the consent it read");
    let o = cli(strings(&["audit", "explain", &s.break_glass_tx, "--node", &url])).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("emergency") && text.contains("MATCHES the committed receipt"),
        "{text}"
    );

    // The accounting: exactly the story's lines about Alice, in order, checked by replay.
    let o = cli(strings(&["audit", "disclosures", "--patient", &alice, "--node", &url, "--json"])).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json_out(&o);
    assert_eq!(r["checked_by_replay"]["matched"], true);
    let got: Vec<(String, String)> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), l["tx_id"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = s.lines.iter().map(|(k, t)| (k.to_string(), t.clone())).collect();
    assert_eq!(got, want, "no more, no less than what happened to Alice's data");
    let lines = r["lines"].as_array().unwrap();
    let bg = lines.iter().find(|l| l["kind"] == "break-glass").unwrap();
    assert_eq!((bg["review"].as_str(), bg["who"]["roles"][1].as_str()), (Some("justified"), Some("emergency")));
    let disclosed = &lines[1];
    assert_eq!(
        (disclosed["who"]["org"].as_str(), disclosed["record_id"].as_str(), disclosed["purpose"].as_str()),
        (Some("northclinic"), Some("stmarys/lab/a1"), Some("TREAT"))
    );
    assert!(disclosed["authorization"].as_str().unwrap().starts_with("consent consent-"));
    assert_eq!(disclosed["served_by"], "node0");

    // A time range keeps what falls in it; FHIR carries the same lines.
    let mid = s.midpoint_ms.to_string();
    let o = cli(strings(&["audit", "disclosures", "--patient", &alice, "--node", &url, "--json", "--to", &mid])).await;
    let first: Vec<Value> = json_out(&o)["lines"].as_array().unwrap().clone();
    assert_eq!(first.len(), 2, "the grant and the disclosure happened before the midpoint");
    let o = cli(strings(&["audit", "disclosures", "--patient", &alice, "--node", &url, "--fhir"])).await;
    let b = json_out(&o);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["meta"]["tag"][0]["code"], "checked-by-replay");
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len(), s.lines.len());
    assert!(entries
        .iter()
        .all(|e| e["resource"]["resourceType"] == "AuditEvent"
            && e["resource"]["patient"]["identifier"]["value"] == alice));
    assert_eq!(entries[1]["resource"]["action"], "R");
    assert_eq!(entries[1]["resource"]["entity"][0]["what"]["identifier"]["value"], s.lines[1].1);

    // The same from the data directory, with the node stopped.
    drop(node);
    let cfg = net.node_config(0).display().to_string();
    let o = cli(strings(&["audit", "disclosures", "--patient", &alice, "--config", &cfg, "--json"])).await;
    assert_eq!(json_out(&o)["lines"].as_array().unwrap().len(), s.lines.len());
    let o = cli(strings(&["audit", "explain", &s.request_tx, "--config", &cfg, "--json"])).await;
    assert_eq!(json_out(&o)["matches"], true);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A copy of node0's stopped store with `edit` applied, and a node.toml using it.
fn tampered_copy(net: &Network, name: &str, edit: impl FnOnce(&StateDb)) -> (PathBuf, PathBuf) {
    let cfg = phr_node::config::NodeConfig::load(&net.node_config(0)).unwrap();
    let data = net.path().join(format!("tampered-{name}"));
    copy_dir(&cfg.data_dir, &data);
    {
        let db = StateDb::open(&data, Default::default()).unwrap();
        edit(&db);
    }
    let mut copy = cfg.clone();
    copy.data_dir = data.clone();
    copy.api_addr = "127.0.0.1:0".into();
    let toml_path = net.path().join(format!("node0/tampered-{name}.toml"));
    std::fs::write(&toml_path, toml::to_string(&copy).unwrap()).unwrap();
    (data, toml_path)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_store_refuses_to_start_and_replay_names_the_place() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let s = story(&c, &net).await;
    let loc = |tx: &str| -> (u64, u32) {
        let db = StateDb::open_read_only(&net.path().join("node0/data")).unwrap();
        db.tx_location(&tx.parse().unwrap()).unwrap().unwrap()
    };
    drop(node);
    let (gh, gi) = loc(&s.request_tx);
    let (dh, di) = loc(&s.lines[1].1);
    let genesis = net.path().join("genesis.json").display().to_string();

    // The untouched store replays clean, state and all.
    let data0 = net.path().join("node0/data").display().to_string();
    let o = cli(strings(&["audit", "replay", "--data", &data0, "--genesis", &genesis, "--json"])).await;
    let r = json_out(&o);
    assert!(o.status.success() && r["divergence"].is_null() && r["state_compared"] == true, "{r}");

    type Edit = Box<dyn FnOnce(&StateDb)>;
    type Check = Box<dyn Fn(&Value, &str)>;
    let cases: Vec<(&str, Edit, Check)> = vec![
        (
            "block",
            Box::new(move |db: &StateDb| {
                // The request's purpose, changed after the fact.
                let mut b = db.block(gh).unwrap().unwrap();
                b.txs[gi as usize].body.args = b.txs[gi as usize].body.args.replace("TREAT", "HRESCH");
                db.tamper_raw("blocks", &gh.to_be_bytes(), &b.to_canonical()).unwrap();
            }),
            Box::new(move |d: &Value, start: &str| {
                assert!(start.contains(&format!("block {gh}")), "{start}");
                assert_eq!((d["height"].as_u64(), d["tx_index"].as_u64()), (Some(gh), Some(gi as u64)), "{d}");
                assert_eq!(d["what"], "block", "{d}");
                assert!(d["detail"].to_string().contains("it was altered"), "{d}");
            }),
        ),
        (
            "receipt",
            Box::new(move |db: &StateDb| {
                // The disclosure's serving node, changed after the fact.
                let mut r = db.receipt_at(dh, di).unwrap().unwrap();
                r.output = r.output.replace("node0", "node9");
                db.tamper_raw("receipts", &StateDb::raw_position(dh, di), &r.to_canonical()).unwrap();
            }),
            Box::new(move |d: &Value, start: &str| {
                assert!(start.contains("receipts root") && start.contains(&format!("block {dh}")), "{start}");
                assert_eq!(
                    (d["height"].as_u64(), d["tx_index"].as_u64(), d["what"].as_str()),
                    (Some(dh), Some(di as u64), Some("receipt")),
                    "{d}"
                );
                assert!(d["detail"].to_string().contains("output"), "{d}");
            }),
        ),
        (
            "state",
            Box::new(|db: &StateDb| {
                // An access record's status, flipped in the latest state only.
                let (key, v) = db
                    .scan("access-grant", b"", b"", 1000)
                    .unwrap()
                    .into_iter()
                    .find(|(_, v)| String::from_utf8_lossy(&v.value).contains("\"status\":\"denied\""))
                    .expect("a denied access");
                let mut raw = StateDb::raw_position(v.version.0, v.version.1).to_vec();
                raw.extend_from_slice(
                    String::from_utf8(v.value).unwrap().replace("\"denied\"", "\"active\"").as_bytes(),
                );
                db.tamper_raw("state", &StateDb::raw_state_key("access-grant", &key), &raw).unwrap();
            }),
            Box::new(|d: &Value, start: &str| {
                assert!(start.contains("the value of access-grant/access / access-"), "{start}");
                assert_eq!(d["what"], "state");
                assert!(d["key"].as_str().unwrap().starts_with("access-grant/access / access-"), "{d}");
            }),
        ),
    ];
    for (name, edit, check) in cases {
        let (data, toml_path) = tampered_copy(&net, name, edit);
        // The node refuses to start, naming what is wrong.
        let out = std::process::Command::new(PHR)
            .args(["node", "start", "--config", toml_path.to_str().unwrap()])
            .env("PHR_COMPILE_CACHE", compile_cache())
            .output()
            .unwrap();
        let start = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && start.contains("the store was altered"), "{name}: {start}");
        // Replay names the exact place.
        let d = data.display().to_string();
        let o = cli(strings(&["audit", "replay", "--data", &d, "--genesis", &genesis, "--json"])).await;
        assert_eq!(o.status.code(), Some(3), "{name}: divergence exit code; {}", String::from_utf8_lossy(&o.stderr));
        let r = json_out(&o);
        check(&r["divergence"], &start);
        eprintln!("{name}: node start said: {}", start.lines().last().unwrap_or(""));
        eprintln!("{name}: replay said: {}", r["divergence"]);
    }
}
