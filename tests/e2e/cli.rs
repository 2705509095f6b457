//! The `phr` command line as a user runs it.

use crate::support::*;
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    ok_with(args, &[])
}

/// Run `phr` with `envs` set; it must succeed.
fn ok_with(args: &[&str], envs: &[(&str, &str)]) -> String {
    let o = phr_env(args, envs);
    assert!(
        o.status.success(),
        "phr {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    fails_with(args, &[])
}

/// Run `phr` with `envs` set; it must fail.
fn fails_with(args: &[&str], envs: &[(&str, &str)]) -> String {
    let o = phr_env(args, envs);
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
        vec!["node", "approve-voter", "--help"],
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
        vec!["record", "save", "--help"],
        vec!["record", "get", "--help"],
        vec!["record", "amend", "--help"],
        vec!["record", "dispose", "--help"],
        vec!["node", "backup", "--help"],
        vec!["node", "restore", "--help"],
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
    let ca = net.ca();
    let env = [("PHR_CA", ca.to_str().unwrap())];
    // Without the network's CA the CLI refuses to talk to a TLS node.
    let e = fails(&["status", "--node", url]);
    assert!(e.contains("--ca"), "{e}");
    let ok = |args: &[&str]| ok_with(args, &env);
    let fails = |args: &[&str]| fails_with(args, &env);
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

    // Reading needs a signed request, and Alice reads only her own data.
    let args = format!(r#"{{"patient":"{alice_id}"}}"#);
    let q = ["query", "--node", url, "--contract", "consent", "--method", "list", "--args", &args];
    assert!(fails(&q).contains("needs a signed request"), "an unsigned query is refused");
    let bob = dir.path().join("bob.key");
    ok(&["keygen", "--out", bob.to_str().unwrap()]);
    ok(&[
        "tx",
        "--node",
        url,
        "--key",
        bob.to_str().unwrap(),
        "--contract",
        "identity",
        "--method",
        "enrol_patient",
        "--wait",
    ]);
    let e = fails_with(&q, &[("PHR_CA", ca.to_str().unwrap()), ("PHR_KEY", bob.to_str().unwrap())]);
    assert!(e.contains("403") && e.contains("only the patient and auditors"), "{e}");
    let q: Value = serde_json::from_str(&ok(&[
        "query",
        "--node",
        url,
        "--key",
        key_s,
        "--contract",
        "consent",
        "--method",
        "list",
        "--args",
        &format!(r#"{{"patient":"{alice_id}"}}"#),
    ]))
    .unwrap();
    assert_eq!(q["consents"].as_array().unwrap().len(), 1);
    let rc: Value = serde_json::from_str(&ok(&["receipt", "--node", url, "--key", key_s, &tx_id])).unwrap();
    assert_eq!(rc["tx_id"], tx_id.as_str());
    let st: Value = serde_json::from_str(&ok(&["status", "--node", url])).unwrap();
    assert!(st["height"].as_u64().unwrap() >= 2);
    for field in ["last_block_hash", "state_root", "chain_id", "raft"] {
        assert!(!st[field].is_null(), "status lacks {field}");
    }
    let admin_key = net.admin_key_file("stmarys");
    let admin_s = admin_key.to_str().unwrap();
    assert!(fails(&["block", "--node", url, "--key", key_s, "latest"]).contains("403"), "a patient reads no blocks");
    let b: Value = serde_json::from_str(&ok(&["block", "--node", url, "--key", admin_s, "latest"])).unwrap();
    assert!(b["height"].as_u64().unwrap() >= st["height"].as_u64().unwrap());

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
    assert!(fails(&["status", "--node", "https://127.0.0.1:1"]).contains("cannot reach the node"));
    assert!(fails(&["tx", "--node", url, "--key", "/nonexistent.key", "--contract", "x", "--method", "y"])
        .contains("cannot read key file"));
    let admin = net.admin_key_file("stmarys");
    assert!(fails(&["network", "init", "--out", net.path().to_str().unwrap()]).contains("already holds a network"));
    assert!(fails(&["node", "start", "--config", admin.to_str().unwrap()]).contains("not valid"));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_saved_fetched_and_disposed_from_the_command_line() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = net.ca();
    let env = [("PHR_CA", ca.to_str().unwrap()), ("PHR_NODE", node.url.as_str())];
    let ok = |args: &[&str]| ok_with(args, &env);
    let fails = |args: &[&str]| fails_with(args, &env);
    let key = |name: &str| -> (String, Value) {
        let path = dir.path().join(format!("{name}.key"));
        let out: Value = serde_json::from_str(&ok(&["keygen", "--out", path.to_str().unwrap()])).unwrap();
        (path.to_str().unwrap().to_string(), out)
    };
    let (alice, alice_out) = key("alice");
    let (bob, bob_out) = key("bob");
    let a = alice_out["id"].as_str().unwrap().to_string();
    ok(&["tx", "--key", &alice, "--contract", "identity", "--method", "enrol_patient", "--wait"]);
    let enrol = format!(r#"{{"public_key":"{}","roles":["physician"]}}"#, bob_out["public_key"].as_str().unwrap());
    let admin = net.admin_key_file("stmarys");
    let r: Value = serde_json::from_str(&ok(&[
        "tx",
        "--key",
        admin.to_str().unwrap(),
        "--contract",
        "identity",
        "--method",
        "enrol_practitioner",
        "--args",
        &enrol,
        "--wait",
    ]))
    .unwrap();
    assert_eq!(r["status"], "ok", "{r}");

    // Dr Bob saves a note; Alice reads it back, byte for byte, into a file.
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "Discharge note: follow up in two weeks.\n").unwrap();
    let saved: Value = serde_json::from_str(&ok(&[
        "record",
        "save",
        "--key",
        &bob,
        "--patient",
        &a,
        "--class",
        "note",
        "--file",
        note.to_str().unwrap(),
        "--media-type",
        "text/plain",
    ]))
    .unwrap();
    let id = saved["record"]["record_id"].as_str().unwrap().to_string();
    let copy = dir.path().join("copy.txt");
    ok(&["record", "get", "--key", &alice, &id, "--purpose", "PATRQT", "--out", copy.to_str().unwrap()]);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&note).unwrap());
    // It never overwrites a file, and an unknown media type is refused with the reason.
    let e = fails(&["record", "get", "--key", &alice, &id, "--purpose", "PATRQT", "--out", copy.to_str().unwrap()]);
    assert!(e.contains("exists"), "{e}");
    let e = fails(&[
        "record",
        "save",
        "--key",
        &bob,
        "--patient",
        &a,
        "--class",
        "note",
        "--file",
        note.to_str().unwrap(),
        "--media-type",
        "application/x-unknown",
    ]);
    assert!(e.contains("415"), "{e}");

    // Alice saves her own reading, anchored as self-reported with her as its author.
    let mine: Value = serde_json::from_str(&ok(&[
        "record",
        "save",
        "--key",
        &alice,
        "--patient",
        &a,
        "--class",
        "vital-signs",
        "--file",
        note.to_str().unwrap(),
        "--media-type",
        "text/plain",
    ]))
    .unwrap();
    let source = &mine["record"]["source"];
    assert_eq!(
        (source["self_reported"].as_bool(), source["author"].as_str()),
        (Some(true), Some(a.as_str())),
        "{mine}"
    );
    // Nobody saves into another patient's record as a patient.
    let (mallory, _) = key("mallory");
    ok(&["tx", "--key", &mallory, "--contract", "identity", "--method", "enrol_patient", "--wait"]);
    let e = fails(&[
        "record",
        "save",
        "--key",
        &mallory,
        "--patient",
        &a,
        "--class",
        "note",
        "--file",
        note.to_str().unwrap(),
        "--media-type",
        "text/plain",
    ]);
    assert!(e.contains("403"), "{e}");

    // Disposed of: gone for everyone.
    ok(&["record", "dispose", "--key", &bob, &id, "--reason", "entered in error"]);
    let e = fails(&["record", "get", "--key", &alice, &id, "--purpose", "PATRQT"]);
    assert!(e.contains("410"), "{e}");
}
