//! Contracts that loop forever, allocate without bound or recurse without end
//! end in failed receipts within their fuel, identically on every node.

use crate::support::*;
use serde_json::{json, Value};

async fn run_hostile() -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("runaway.wasm");
    std::fs::write(&file, phr_contracts::RUNAWAY).unwrap();
    let arg = format!("runaway={}", file.display());
    let net = Network::init(&["--contract", &arg]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let p = patient(&c).await;
    let mut receipts = Vec::new();
    for m in ["spin", "hog", "recurse"] {
        let e = c.call(&p, "runaway", m, json!({})).await.unwrap_err();
        assert_eq!(e.status, Some(422), "{m}: {e}");
        receipts.push(e.receipt.unwrap());
    }
    // Native recursion at every nesting level (3072 frames fill each level's wasm
    // stack; 65536 exhaust the first): trapped, as a transaction and as a query.
    for frames in [3072, 65536] {
        let e = c.call(&p, "runaway", "deep", json!({ "frames": frames })).await.unwrap_err();
        assert_eq!(e.status, Some(422), "deep {frames}: {e}");
        receipts.push(e.receipt.unwrap());
        let q = c.signed_by(&p).query("runaway", "deep", &json!({ "frames": frames })).await.unwrap_err();
        assert!(q.message.contains("trapped") || q.code.contains("trapped"), "deep {frames} as a query: {q}");
    }
    // The node is still serving and still committing.
    c.call(&p, "runaway", "write", json!({"ok": true})).await.unwrap();
    assert_eq!(c.query("runaway", "read", &json!({})).await.unwrap(), json!({"ok": true}));
    receipts
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_contracts_fail_deterministically_and_the_node_goes_on() {
    let _serial = serial().await;
    let a = run_hostile().await;
    assert_eq!(a[0]["status"], "out-of-fuel");
    assert_eq!(a[0]["fuel_used"], json!(phr_ledger::ChainParams::default().fuel_per_tx));
    assert_eq!(a[1]["status"], "trapped");
    assert_eq!(a[2]["status"], "trapped");
    // A second network, a second process: the same outcome to the unit of fuel.
    let b = run_hostile().await;
    for (x, y) in a.iter().zip(&b) {
        for field in ["status", "reason", "fuel_used", "code_hash", "writes"] {
            assert_eq!(x[field], y[field], "{field} differs: {x} vs {y}");
        }
    }
}
