//! The `phr` command line as a user runs it.

use crate::support::*;
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let o = phr(args);
    assert!(
        o.status.success(),
        "phr {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let o = phr(args);
    assert!(!o.status.success(), "phr {args:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["keygen", "--help"],
        vec!["network", "init", "--help"],
        vec!["node", "start", "--help"],
        vec!["status", "--help"],
        vec!["tx", "--help"],
        vec!["query", "--help"],
        vec!["receipt", "--help"],
        vec!["block", "--help"],
        vec!["events", "--help"],
        vec!["demo", "--help"],
        vec!["bench", "--help"],
        vec!["load", "--help"],
        vec!["network", "add-node", "--help"],
        vec!["node", "add", "--help"],
        vec!["node", "promote", "--help"],
        vec!["node", "remove", "--help"],
        vec!["contract", "install", "--help"],
        vec!["contract", "approve", "--help"],
        vec!["contract", "commit", "--help"],
        vec!["contract", "list", "--help"],
        vec!["contract", "history", "--help"],
        vec!["contract", "builtin", "--help"],
        vec!["audit", "replay", "--help"],
        vec!["audit", "explain", "--help"],
        vec!["audit", "disclosures", "--help"],
        vec!["audit", "snapshot", "--help"],
    ] {
        let out = ok(&cmd);
        assert!(out.contains("Usage:"), "{cmd:?}: {out}");
    }
    // Bad usage is refused with a reason, not a panic.
    let e = fails(&["audit", "replay", "--data", "/nonexistent"]);
    assert!(e.contains("--genesis"), "{e}");
    let e = fails(&["contract", "approve", "--key", "k", "--name", "consent"]);
    assert!(e.contains("--code-hash") || e.contains("--file"), "{e}");
    let e = fails(&["audit", "replay", "--data", "/nonexistent", "--genesis", "/nonexistent/genesis.json"]);
    assert!(e.contains("cannot read the genesis"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keygen_init_start_tx_query_status_from_the_command_line() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("alice.key");
    let key_s = key.to_str().unwrap();
    let out: Value = serde_json::from_str(&ok(&["keygen", "--out", key_s, "--label", "alice"])).unwrap();
    let alice_id = out["id"].as_str().unwrap().to_string();
    assert!(fails(&["keygen", "--out", key_s]).contains("must not exist"), "keygen never overwrites a key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let url = node.url.as_str();
    let r: Value = serde_json::from_str(&ok(&[
        "tx",
        "--node",
        url,
        "--key",
        key_s,
        "--contract",
        "identity",
        "--method",
        "enrol_patient",
        "--wait",
    ]))
    .unwrap();
    assert_eq!(r["status"], "ok");
    let r: Value = serde_json::from_str(&ok(&[
        "tx",
        "--node",
        url,
        "--key",
        key_s,
        "--contract",
        "consent",
        "--method",
        "create",
        "--args",
        r#"{"decision":"permit"}"#,
        "--wait",
    ]))
    .unwrap();
    assert_eq!(r["result"]["patient"], alice_id.as_str());
    let tx_id = r["tx_id"].as_str().unwrap().to_string();

    let q: Value = serde_json::from_str(&ok(&[
        "query",
        "--node",
        url,
        "--contract",
        "consent",
        "--method",
        "list",
        "--args",
        &format!(r#"{{"patient":"{alice_id}"}}"#),
    ]))
    .unwrap();
    assert_eq!(q["consents"].as_array().unwrap().len(), 1);
    let rc: Value = serde_json::from_str(&ok(&["receipt", "--node", url, &tx_id])).unwrap();
    assert_eq!(rc["tx_id"], tx_id.as_str());
    let st: Value = serde_json::from_str(&ok(&["status", "--node", url])).unwrap();
    assert!(st["height"].as_u64().unwrap() >= 2);
    for field in ["last_block_hash", "state_root", "chain_id", "raft"] {
        assert!(!st[field].is_null(), "status lacks {field}");
    }
    let b: Value = serde_json::from_str(&ok(&["block", "--node", url, "latest"])).unwrap();
    assert_eq!(b["height"], st["height"]);

    // Clear errors for bad input on the command line.
    assert!(fails(&[
        "tx",
        "--node",
        url,
        "--key",
        key_s,
        "--contract",
        "consent",
        "--method",
        "create",
        "--args",
        "not json"
    ])
    .contains("not valid JSON"));
    let e = fails(&[
        "tx",
        "--node",
        url,
        "--key",
        key_s,
        "--contract",
        "consent",
        "--method",
        "revoke",
        "--args",
        r#"{"id":"nope"}"#,
        "--wait",
    ]);
    assert!(e.contains("not-found") && e.contains("no consent nope"), "{e}");
    assert!(fails(&["status", "--node", "http://127.0.0.1:1"]).contains("cannot reach the node"));
    assert!(fails(&["tx", "--node", url, "--key", "/nonexistent.key", "--contract", "x", "--method", "y"])
        .contains("cannot read key file"));
    let admin = net.admin_key_file("stmarys");
    assert!(fails(&["network", "init", "--out", net.path().to_str().unwrap()]).contains("already holds a network"));
    assert!(fails(&["node", "start", "--config", admin.to_str().unwrap()]).contains("not valid"));
}
