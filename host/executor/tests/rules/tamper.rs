//! A store edited behind the node's back does not open, and the error names
//! what was altered.

use crate::support::*;
use phr_ledger::{Canonical, Receipt};
use phr_state::StateDb;
use serde_json::json;

/// A small chain (patients, consents, a record), closed; returns it and the height
/// of a block with a consent.create in it.
fn chain() -> (Chain, u64) {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    c.ok(&p, "consent", "create", json!({"decision": "permit"}));
    let h = c.exec.tip().height;
    let doc = c.practitioner("stmarys", &["physician"]);
    c.ok(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "r/1", "patient": id(&p), "sha256": sha("x"), "class": "lab"}),
    );
    (c, h)
}

/// Close the chain, edit its store with `edit`, and try to open it again.
fn reopen_after(c: Chain, edit: impl FnOnce(&StateDb)) -> String {
    let genesis = c.exec.genesis().clone();
    let (data, dir) = (c.dir.path().join("data"), c.dir.path().to_path_buf());
    drop(c.exec);
    {
        let db = StateDb::open(&data, Default::default()).unwrap();
        edit(&db);
    }
    let opts = phr_executor::ExecutorOptions {
        store: phr_state::StoreOptions { sync_writes: false, ..Default::default() },
        ..Default::default()
    };
    match phr_executor::Executor::open(&data, genesis, &dir, opts) {
        Ok(_) => panic!("an altered store opened"),
        Err(e) => e.to_string(),
    }
}

/// A state entry of `ns` whose value contains `word`.
fn row_containing(db: &StateDb, ns: &str, word: &str) -> (Vec<u8>, phr_state::Versioned) {
    db.scan(ns, b"", b"", 1000)
        .unwrap()
        .into_iter()
        .find(|(_, v)| String::from_utf8_lossy(&v.value).contains(word))
        .unwrap_or_else(|| panic!("no {ns} value contains {word}"))
}

#[test]
fn an_untouched_store_reopens() {
    let (c, _) = chain();
    let genesis = c.exec.genesis().clone();
    let (data, dir) = (c.dir.path().join("data"), c.dir.path().to_path_buf());
    drop(c.exec);
    let db = StateDb::open(&data, Default::default()).unwrap();
    let check = phr_executor::verify::verify_store(&db).unwrap();
    assert!(check.blocks >= 5 && check.txs >= 4 && check.keys > 5, "{check:?}");
    drop(db);
    assert!(phr_executor::Executor::open(&data, genesis, &dir, Default::default()).is_ok());
}

#[test]
fn an_edited_block_is_named() {
    let (c, h) = chain();
    let msg = reopen_after(c, |db| {
        let mut b = db.block(h).unwrap().unwrap();
        b.txs[0].body.args = r#"{"decision":"deny"}"#.into();
        db.tamper_raw("blocks", &h.to_be_bytes(), &b.to_canonical()).unwrap();
    });
    assert!(msg.contains("altered") && msg.contains(&format!("block {h}")), "{msg}");
}

#[test]
fn an_edited_receipt_is_named() {
    let (c, h) = chain();
    let msg = reopen_after(c, |db| {
        let mut r: Receipt = db.receipt_at(h, 0).unwrap().unwrap();
        r.output = r.output.replace("permit", "deny");
        db.tamper_raw("receipts", &StateDb::raw_position(h, 0), &r.to_canonical()).unwrap();
    });
    assert!(msg.contains("receipts root") && msg.contains(&format!("block {h}")), "{msg}");
}

#[test]
fn an_edited_state_value_is_named() {
    let (c, _) = chain();
    let msg = reopen_after(c, |db| {
        let (key, v) = row_containing(db, "consent", "permit");
        let mut raw = StateDb::raw_position(v.version.0, v.version.1).to_vec();
        raw.extend_from_slice(&String::from_utf8(v.value).unwrap().replace("permit", "deny!").into_bytes());
        db.tamper_raw("state", &StateDb::raw_state_key("consent", &key), &raw).unwrap();
    });
    assert!(msg.contains("the value of consent/") && msg.contains("is not the one written"), "{msg}");
}

#[test]
fn an_edited_version_is_detected() {
    let (c, _) = chain();
    let msg = reopen_after(c, |db| {
        // Edit the newest version of a key and its latest value alike, so that
        // only the receipts disagree.
        let (key, v) = row_containing(db, "record-anchor", "lab");
        let forged = String::from_utf8(v.value).unwrap().replace("lab", "xray").into_bytes();
        let mut raw = StateDb::raw_position(v.version.0, v.version.1).to_vec();
        raw.extend_from_slice(&forged);
        db.tamper_raw("state", &StateDb::raw_state_key("record-anchor", &key), &raw).unwrap();
        let mut vv = vec![1u8];
        vv.extend_from_slice(&forged);
        db.tamper_raw("versions", &StateDb::raw_version_key("record-anchor", &key, v.version.0, v.version.1), &vv)
            .unwrap();
    });
    assert!(msg.contains("key versions are not the writes the receipts record"), "{msg}");
}
