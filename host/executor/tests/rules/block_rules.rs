use crate::support::*;
use phr_ledger::{Attestation, Batch, Hash32, TxStatus};
use serde_json::json;

#[test]
fn later_transactions_in_a_block_see_earlier_writes() {
    let mut c = Chain::new(&["stmarys"]);
    let k = phr_ledger::Keypair::generate();
    let doc = c.practitioner("stmarys", &["physician"]);
    // Enrol and consent in the same block: the consent sees the enrolment.
    let t1 = c.tx(&k, "identity", "enrol_patient", json!({}));
    let t2 = c.tx(&k, "consent", "create", json!({"decision": "permit"}));
    let t3 = c.tx(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "r", "patient": id(&k), "sha256": sha("a"), "class": "lab"}),
    );
    let t4 = c.tx(&doc, "record-anchor", "amend", json!({"record_id": "r", "sha256": sha("b"), "reason": "fix"}));
    let rs = c.block(vec![t1, t2, t3, t4]);
    for r in &rs {
        assert_eq!(r.status, TxStatus::Ok, "{r:?}");
    }
    // The amend read the anchor's write at its version (this height, index 2).
    let h = c.exec.tip().height;
    assert!(rs[3].reads.iter().any(|r| r.namespace == "record-anchor" && r.version == Some((h, 2))));
}

#[test]
fn a_transaction_commits_at_most_once_and_not_after_expiry() {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    let tx = c.tx(&p, "consent", "create", json!({"decision": "permit"}));
    let rs = c.block(vec![tx.clone(), tx.clone()]);
    assert!(rs[0].status.is_ok());
    assert!(matches!(rs[1].status, TxStatus::Invalid { ref reason } if reason.contains("duplicate")));
    let rs = c.block(vec![tx.clone()]);
    assert!(matches!(rs[0].status, TxStatus::Invalid { ref reason } if reason.contains("duplicate")));
    let loc = c.exec.db().tx_location(&tx.id()).unwrap().unwrap();
    assert_eq!(loc, (c.exec.tip().height - 1, 0), "the first commit keeps its place in the index");
    assert_eq!(c.query(&p, "consent", "list", json!({"patient": id(&p)}))["consents"].as_array().unwrap().len(), 1);

    let mut old = c.tx(&p, "consent", "create", json!({"decision": "deny"}));
    old.body.expiry_height = c.exec.tip().height;
    let old = old.body.sign(&p);
    let rs = c.block(vec![old]);
    assert!(matches!(rs[0].status, TxStatus::Invalid { ref reason } if reason.contains("expired")));
}

#[test]
fn a_forged_signature_in_a_block_is_not_executed() {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    let mut tx = c.tx(&p, "consent", "create", json!({"decision": "permit"}));
    tx.signature.0[10] ^= 1;
    let rs = c.block(vec![tx]);
    assert!(
        matches!(rs[0].status, TxStatus::Invalid { ref reason } if reason.contains("signature")),
        "{:?}",
        rs[0].status
    );
    assert!(rs[0].writes.is_empty());
}

#[test]
fn headers_chain_results_and_a_wrong_attestation_stops_the_node_without_committing() {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    let before = c.exec.tip();
    let b = c.exec.db().block(before.height).unwrap().unwrap();
    c.ok(&p, "consent", "create", json!({"decision": "permit"}));
    let b2 = c.exec.db().block(before.height + 1).unwrap().unwrap();
    assert_eq!(b2.header.prev_hash, b.hash());
    assert_eq!(b2.header.prev_state_root, before.state_root);
    assert_eq!(b2.header.prev_receipts_root, before.receipts_root);
    assert!(b2.txs_match_header());

    let tip = c.exec.tip();
    let good = Attestation {
        height: tip.height,
        block_hash: tip.block_hash,
        state_root: tip.state_root,
        receipts_root: tip.receipts_root,
    };
    let ok = c.exec.apply(
        &Batch { proposer: "n".into(), time_ms: tip.time_ms + 1, attestation: Some(good.clone()), txs: vec![] },
        vec![],
    );
    assert!(ok.is_ok());
    let tip = c.exec.tip();
    let bad = Attestation { height: tip.height, state_root: Hash32([9; 32]), ..good };
    let err = c
        .exec
        .apply(&Batch { proposer: "n".into(), time_ms: tip.time_ms + 1, attestation: Some(bad), txs: vec![] }, vec![]);
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("DIVERGENCE"), "{msg}");
    assert_eq!(c.exec.tip(), tip, "nothing was committed");
}

#[test]
fn a_reopened_store_resumes_at_its_last_block_with_the_same_state() {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    c.ok(&p, "consent", "create", json!({"decision": "permit"}));
    let tip = c.exec.tip();
    let genesis = c.exec.genesis().clone();
    let data = c.dir.path().join("data");
    let dir = c.dir.path().to_path_buf();
    drop(c.exec);
    let opts = phr_executor::ExecutorOptions {
        store: phr_state::StoreOptions { sync_writes: false, ..Default::default() },
        ..Default::default()
    };
    let exec = phr_executor::Executor::open(&data, genesis.clone(), &dir, opts.clone()).unwrap();
    assert_eq!(exec.tip(), tip);
    let out = exec.query(Some(&p.public_key()), "consent", "list", &json!({"patient": id(&p)}).to_string()).unwrap();
    assert!(matches!(out.result, phr_vm::CallResult::Ok(ref s) if s.contains("permit")));
    drop(exec);
    // A different genesis is refused.
    let mut other = genesis;
    other.chain_id = "other".into();
    let err = phr_executor::Executor::open(&data, other, &dir, opts).err().unwrap();
    assert!(err.to_string().contains("genesis"), "{err}");
}

#[test]
fn chain_time_never_goes_back() {
    let c = Chain::new(&["stmarys"]);
    let tip = c.exec.tip();
    // A leader whose clock is behind the parent's time: the block keeps the parent's time.
    let b = c
        .exec
        .apply(
            &Batch { proposer: "n".into(), time_ms: tip.time_ms - 3_600_000, attestation: None, txs: vec![] },
            vec![],
        )
        .unwrap();
    assert_eq!(b.block.header.time_ms, tip.time_ms);
    let b = c
        .exec
        .apply(&Batch { proposer: "n".into(), time_ms: tip.time_ms + 5, attestation: None, txs: vec![] }, vec![])
        .unwrap();
    assert_eq!(b.block.header.time_ms, tip.time_ms + 5);
}
