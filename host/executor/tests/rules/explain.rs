//! `explain` runs a committed transaction again at its exact pre-state and
//! shows what decided it, and that it matches the receipt.

use crate::support::*;
use phr_ledger::TxStatus;
use serde_json::json;

#[test]
fn explain_names_the_consent_provision_and_the_break_glass_role_and_matches() {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let alice = c.patient();
    let anchorer = c.practitioner("stmarys", &["physician"]);
    let carol = c.practitioner("northclinic", &["physician"]);
    let dan = c.practitioner("northclinic", &["physician", "emergency"]);
    c.ok(
        &anchorer,
        "record-anchor",
        "anchor",
        json!({"record_id": "stmarys/lab/1", "patient": id(&alice), "sha256": sha("cbc"), "class": "lab"}),
    );
    let consent = c.ok(
        &alice,
        "consent",
        "create",
        json!({"decision": "deny", "provisions": [
        {"type": "deny", "actors": [{"kind": "organization", "id": "citylab"}]},
        {"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
    );

    // The request shares its block with a write before it, which it must see.
    let other = c.tx(&alice, "consent", "create", json!({"decision": "permit"}));
    let request = c.tx(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "purpose": "TREAT"}),
    );
    let r = c.block(vec![other, request]);
    assert!(r.iter().all(|r| r.status.is_ok()), "{r:?}");
    let e = c.exec.explain(&r[1].tx_id).unwrap().unwrap();
    assert!(e.matches, "{:?}", e.differences);
    assert_eq!((e.height, e.tx_index), (c.exec.tip().height, 1));
    assert_eq!(e.caller.as_ref().unwrap().org.as_deref(), Some("northclinic"));
    assert_eq!(e.code_hash, r[1].code_hash);
    let d = e.decided_by.clone().expect("the result records its decision");
    assert_eq!(d["authorization"]["kind"], "consent");
    assert_eq!(d["authorization"]["consent_id"], consent["id"]);
    assert_eq!(d["authorization"]["provision"], 1, "the permit provision decided, not the deny one: {d}");
    assert!(
        e.reads.iter().any(|x| x.namespace == "consent" && x.value_sha256.is_some()),
        "the nested consent reads are listed"
    );
    assert!(e.reads.iter().any(|x| x.namespace == "system" && x.key_text.as_deref() == Some("contract/access-grant")));
    assert!(e.reads.iter().all(|x| x.version.is_none() || x.value_sha256.is_some()));
    assert_eq!(e.writes.len(), r[1].writes.len());
    assert_eq!(e.fuel_used, r[1].fuel_used);

    // Break-glass: the role decided.
    let bg = c.send(
        &dan,
        "access-grant",
        "break_glass",
        json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "reason": "unconscious in ER"}),
    );
    assert!(bg.status.is_ok(), "{:?}", bg.status);
    let e = c.exec.explain(&bg.tx_id).unwrap().unwrap();
    assert!(e.matches, "{:?}", e.differences);
    let d = e.decided_by.unwrap();
    assert_eq!(d["break_glass"], true);
    assert!(d["decision_reason"].as_str().unwrap().contains("emergency"), "{d}");
    assert!(e.caller.unwrap().roles.contains(&"emergency".to_string()));

    // A refused call explains as refused, the same way.
    let refused = c.send(
        &carol,
        "access-grant",
        "break_glass",
        json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "reason": "x"}),
    );
    assert!(matches!(refused.status, TxStatus::Rejected { .. }));
    let e = c.exec.explain(&refused.tx_id).unwrap().unwrap();
    assert!(e.matches && e.status == refused.status, "{:?}", e.differences);
    assert!(c.exec.explain(&phr_ledger::Hash32([7; 32])).unwrap().is_none());
}
