use crate::support::*;
use phr_ledger::Keypair;
use serde_json::{json, Value};

struct World {
    c: Chain,
    alice: Keypair,
    anchorer: Keypair,
    carol: Keypair,
}

fn world() -> World {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let alice = c.patient();
    let anchorer = c.practitioner("stmarys", &["physician"]);
    let carol = c.practitioner("northclinic", &["physician"]);
    c.ok(
        &anchorer,
        "record-anchor",
        "anchor",
        json!({"record_id": "stmarys/lab/1", "patient": id(&alice), "sha256": sha("cbc"), "class": "lab"}),
    );
    World { c, alice, anchorer, carol }
}

fn request(w: &mut World, ask_patient: bool) -> Value {
    let carol = w.carol.clone();
    w.c.ok(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&w.alice), "record_id": "stmarys/lab/1", "purpose": "TREAT", "ask_patient": ask_patient}),
    )
}

#[test]
fn consent_grants_access_and_revoking_consent_ends_it() {
    let mut w = world();
    let alice = w.alice.clone();
    let consent = w.c.ok(&alice, "consent", "create", json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}));
    let g = request(&mut w, false);
    assert_eq!(g["status"], "active");
    assert_eq!(g["authorization"]["kind"], "consent");
    assert_eq!(g["authorization"]["consent_id"], consent["id"]);
    let gid = g["id"].clone();

    let carol = w.carol.clone();
    let d = w.c.ok(&carol, "access-grant", "record_access", json!({"access_id": gid, "served_by": "node0"}));
    assert_eq!(d["agent"]["id"], id(&carol));
    assert_eq!(d["agent"]["org"], "northclinic");
    assert_eq!(d["record_id"], "stmarys/lab/1");
    assert_eq!((d["purpose"].as_str(), d["outcome"].as_str()), (Some("TREAT"), Some("success")));
    assert_eq!(d["authorization"]["kind"], "consent");
    assert_eq!(d["served_by"], "node0");

    // Someone else cannot use Carol's grant.
    let anchorer = w.anchorer.clone();
    w.c.rejected(
        &anchorer,
        "access-grant",
        "record_access",
        json!({"access_id": gid, "served_by": "node0"}),
        "unauthorized",
    );

    // Revoking consent ends the grant at once, and the next request is denied.
    w.c.ok(&alice, "consent", "revoke", json!({"id": consent["id"]}));
    let m = w.c.rejected(
        &carol,
        "access-grant",
        "record_access",
        json!({"access_id": gid, "served_by": "node0"}),
        "denied",
    );
    assert!(m.contains("consent no longer permits"), "{m}");
    let g2 = request(&mut w, false);
    assert_eq!(g2["status"], "denied");
    let chk = w.c.query(
        &carol,
        "access-grant",
        "check",
        json!({"grantee": id(&carol), "patient": id(&alice), "record_id": "stmarys/lab/1"}),
    );
    assert_eq!(chk["allowed"], false);

    let log = w.c.query(&alice, "access-grant", "disclosures", json!({"patient": id(&alice)}));
    assert_eq!(log["disclosures"].as_array().unwrap().len(), 1);
}

#[test]
fn without_consent_the_patient_decides_and_only_the_patient() {
    let mut w = world();
    let pending = request(&mut w, true);
    assert_eq!(pending["status"], "pending");
    let aid = pending["id"].clone();
    let (carol, alice, anchorer) = (w.carol.clone(), w.alice.clone(), w.anchorer.clone());
    w.c.rejected(&carol, "access-grant", "approve", json!({"access_id": aid}), "unauthorized");
    w.c.rejected(&anchorer, "access-grant", "approve", json!({"access_id": aid}), "unauthorized");
    w.c.rejected(&carol, "access-grant", "record_access", json!({"access_id": aid, "served_by": "node0"}), "denied");
    let g = w.c.ok(&alice, "access-grant", "approve", json!({"access_id": aid, "duration_ms": 60_000}));
    assert_eq!((g["status"].as_str(), g["authorization"]["kind"].as_str()), (Some("active"), Some("patient-approval")));
    w.c.ok(&carol, "access-grant", "record_access", json!({"access_id": aid, "served_by": "node0"}));

    // The grant expires: a block one minute later finds it expired.
    let later = w.c.exec.tip().time_ms + 61_000;
    let tx = w.c.tx(&carol, "access-grant", "record_access", json!({"access_id": aid, "served_by": "node0"}));
    let r = w.c.block_at(vec![tx], later).pop().unwrap();
    assert!(matches!(r.status, phr_ledger::TxStatus::Rejected { ref code, .. } if code == "denied"), "{:?}", r.status);

    let p2 = request(&mut w, true);
    w.c.ok(&alice, "access-grant", "deny", json!({"access_id": p2["id"], "reason": "not now"}));
    let g = w.c.query(&alice, "access-grant", "get", json!({"access_id": p2["id"]}));
    assert_eq!(g["status"], "denied");
    // The patient can revoke a grant they approved.
    let p3 = request(&mut w, true);
    w.c.ok(&alice, "access-grant", "approve", json!({"access_id": p3["id"]}));
    w.c.ok(&alice, "access-grant", "revoke", json!({"access_id": p3["id"]}));
    w.c.rejected(
        &carol,
        "access-grant",
        "record_access",
        json!({"access_id": p3["id"], "served_by": "node0"}),
        "denied",
    );
}

#[test]
fn break_glass_needs_the_emergency_role_is_flagged_and_reviewed_by_a_privacy_officer() {
    let mut w = world();
    let er = w.c.practitioner("northclinic", &["physician", "emergency"]);
    let officer = w.c.practitioner("northclinic", &["privacy-officer"]);
    let stmarys_officer = w.c.practitioner("stmarys", &["privacy-officer"]);
    let (carol, alice) = (w.carol.clone(), w.alice.clone());
    let args = json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "reason": "unconscious in ER"});
    w.c.rejected(&carol, "access-grant", "break_glass", args.clone(), "unauthorized");

    let r = w.c.send(&er, "access-grant", "break_glass", args);
    assert!(r.status.is_ok(), "{:?}", r.status);
    assert_eq!(r.events[0].name, "access.break-glass");
    assert_eq!(r.events[0].topics[0], id(&alice), "the patient is told at once");
    let g: Value = serde_json::from_str(&r.output).unwrap();
    assert_eq!((g["break_glass"].as_bool(), g["purpose"].as_str()), (Some(true), Some("ETREAT")));
    assert_eq!(g["review"]["status"], "open");
    let expires = g["expires_at_ms"].as_u64().unwrap() - g["requested_at_ms"].as_u64().unwrap();
    assert_eq!(expires, 4 * 3600 * 1000);

    let d = w.c.ok(&er, "access-grant", "record_access", json!({"access_id": g["id"], "served_by": "node0"}));
    assert_eq!(d["authorization"]["break_glass"], true);

    let open = w.c.query(&officer, "access-grant", "open_reviews", json!({"org": "northclinic"}));
    assert_eq!(open["accesses"].as_array().unwrap().len(), 1);
    w.c.rejected(&er, "access-grant", "review", json!({"access_id": g["id"], "outcome": "justified"}), "unauthorized");
    w.c.rejected(
        &stmarys_officer,
        "access-grant",
        "review",
        json!({"access_id": g["id"], "outcome": "justified"}),
        "unauthorized",
    );
    w.c.rejected(
        &alice,
        "access-grant",
        "review",
        json!({"access_id": g["id"], "outcome": "justified"}),
        "unauthorized",
    );
    let rv = w.c.ok(
        &officer,
        "access-grant",
        "review",
        json!({"access_id": g["id"], "outcome": "justified", "note": "trauma admission"}),
    );
    assert_eq!(rv["review"]["status"], "justified");
    assert_eq!(rv["review"]["reviewer"], id(&officer));
    w.c.rejected(
        &officer,
        "access-grant",
        "review",
        json!({"access_id": g["id"], "outcome": "unjustified"}),
        "conflict",
    );
    let open = w.c.query(&officer, "access-grant", "open_reviews", json!({"org": "northclinic"}));
    assert!(open["accesses"].as_array().unwrap().is_empty());
}

#[test]
fn requests_are_checked_against_the_record() {
    let mut w = world();
    let bob = w.c.patient();
    let carol = w.carol.clone();
    // The record belongs to Alice, not Bob: to Carol it reads as missing, the
    // same as a record that does not exist.
    let other = w.c.rejected(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&bob), "record_id": "stmarys/lab/1", "purpose": "TREAT"}),
        "not-found",
    );
    let none = w.c.rejected(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&bob), "record_id": "stmarys/lab/nope", "purpose": "TREAT"}),
        "not-found",
    );
    assert_eq!(other.replace("stmarys/lab/1", "X"), none.replace("stmarys/lab/nope", "X"));
    w.c.rejected(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&w.alice), "record_id": "nope", "purpose": "TREAT"}),
        "not-found",
    );
    w.c.rejected(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&w.alice), "record_id": "stmarys/lab/1", "purpose": "ETREAT"}),
        "bad-request",
    );
    let alice = w.alice.clone();
    w.c.rejected(
        &alice,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "data_class": "lab", "purpose": "TREAT"}),
        "unauthorized",
    );
    // Grants are for reading: `correct` is refused.
    let carol = w.carol.clone();
    let m = w.c.rejected(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "purpose": "TREAT", "action": "correct"}),
        "bad-request",
    );
    assert!(m.contains("action"), "{m}");
}

#[test]
fn a_class_grant_covers_records_of_that_class_only_and_disposed_records_are_not_disclosed() {
    let mut w = world();
    let (alice, carol, anchorer) = (w.alice.clone(), w.carol.clone(), w.anchorer.clone());
    w.c.ok(
        &anchorer,
        "record-anchor",
        "anchor",
        json!({"record_id": "stmarys/img/1", "patient": id(&alice), "sha256": sha("xray"), "class": "imaging"}),
    );
    w.c.ok(&alice, "consent", "create", json!({"decision": "permit"}));
    let g = w.c.ok(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "data_class": "lab", "purpose": "TREAT"}),
    );
    assert_eq!(g["status"], "active");
    let chk = |c: &Chain, record: &str| {
        c.query(
            &carol,
            "access-grant",
            "check",
            json!({"grantee": id(&carol), "patient": id(&alice), "record_id": record}),
        )
    };
    assert_eq!(chk(&w.c, "stmarys/lab/1")["allowed"], true);
    assert_eq!(chk(&w.c, "stmarys/img/1")["allowed"], false, "a lab grant does not cover imaging");
    let bob = w.c.patient();
    let out = w.c.query_out(
        Some(&carol),
        "access-grant",
        "check",
        json!({"grantee": id(&carol), "patient": id(&bob), "record_id": "stmarys/lab/1"}),
    );
    // Alice's record named as Bob's: Carol learns nothing of it.
    match out.result {
        phr_vm::CallResult::Ok(s) => {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert_eq!(
                (v["allowed"].as_bool(), v["reason"].as_str()),
                (Some(false), Some("no active grant covers this access"))
            );
        }
        other => panic!("{other:?}"),
    }
    w.c.rejected(
        &carol,
        "access-grant",
        "record_access",
        json!({"access_id": g["id"], "record_id": "stmarys/img/1", "served_by": "node0"}),
        "denied",
    );

    // A grant for one record: once the record is disposed, nothing is disclosed.
    let one = w.c.ok(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "record_id": "stmarys/img/1", "purpose": "TREAT"}),
    );
    w.c.ok(&anchorer, "record-anchor", "dispose", json!({"record_id": "stmarys/img/1", "reason": "retention"}));
    let m = w.c.rejected(
        &carol,
        "access-grant",
        "record_access",
        json!({"access_id": one["id"], "served_by": "node0"}),
        "denied",
    );
    assert!(m.contains("disposed"), "{m}");
    // Revocation records when it happened.
    let r = w.c.ok(&alice, "access-grant", "revoke", json!({"access_id": g["id"]}));
    assert!(r["revoked_at_ms"].as_u64().is_some() && r["revoked_tx"].as_str().is_some(), "{r}");
}

#[test]
fn disclosures_are_read_by_time_range_a_page_at_a_time() {
    let mut w = world();
    let (alice, carol) = (w.alice.clone(), w.carol.clone());
    w.c.ok(&alice, "consent", "create", json!({"decision": "permit"}));
    let g = w.c.ok(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "record_id": "stmarys/lab/1", "purpose": "TREAT"}),
    );
    let mut times = Vec::new();
    for _ in 0..4 {
        let d = w.c.ok(&carol, "access-grant", "record_access", json!({"access_id": g["id"], "served_by": "node0"}));
        times.push(d["recorded_at_ms"].as_u64().unwrap());
    }
    let p = id(&alice);
    let all = w.c.query(&alice, "access-grant", "disclosures", json!({"patient": p}));
    assert_eq!(all["disclosures"].as_array().unwrap().len(), 4);
    let mid =
        w.c.query(&alice, "access-grant", "disclosures", json!({"patient": p, "from_ms": times[1], "to_ms": times[3]}));
    let got: Vec<u64> =
        mid["disclosures"].as_array().unwrap().iter().map(|d| d["recorded_at_ms"].as_u64().unwrap()).collect();
    assert_eq!(got, &times[1..3]);
    let mut after: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let mut args = json!({"patient": p, "limit": 3});
        if let Some(a) = &after {
            args["after"] = json!(a);
        }
        let page = w.c.query(&alice, "access-grant", "disclosures", args);
        paged.extend(page["disclosures"].as_array().unwrap().iter().map(|d| d["recorded_at_ms"].as_u64().unwrap()));
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, times);
}
