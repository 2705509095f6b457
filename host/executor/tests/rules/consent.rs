use crate::support::*;
use serde_json::json;

fn evaluate(
    c: &Chain,
    patient: &phr_ledger::Keypair,
    actor: &phr_ledger::Keypair,
    org: &str,
    purpose: &str,
    class: &str,
) -> serde_json::Value {
    c.query(
        patient,
        "consent",
        "evaluate",
        json!({"patient": id(patient), "actor": {"id": id(actor), "org": org, "roles": ["physician"]}, "purpose": purpose, "data_class": class}),
    )
}

#[test]
fn provisions_decide_with_deny_overriding_permit_and_name_the_decider() {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let alice = c.patient();
    let doc = c.practitioner("northclinic", &["physician"]);
    let p = id(&alice);

    // No consent: deny, and say so.
    let e = evaluate(&c, &alice, &doc, "northclinic", "TREAT", "lab");
    assert_eq!((e["decision"].as_str(), e["basis"].as_str()), (Some("deny"), Some("no-consent")));

    let consent = c.ok(&alice, "consent", "create", json!({
        "decision": "deny",
        "provisions": [
            {"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"], "data_classes": ["lab", "imaging"]},
            {"type": "deny", "data_classes": ["mental-health"]}
        ]
    }));
    let cid = consent["id"].as_str().unwrap().to_string();
    assert_eq!(consent["patient"], p);

    let e = evaluate(&c, &alice, &doc, "northclinic", "TREAT", "lab");
    assert_eq!(e["decision"], "permit");
    assert_eq!((e["consent_id"].as_str(), e["provision"].as_u64()), (Some(cid.as_str()), Some(0)));
    // Other purpose: base decision deny.
    let e = evaluate(&c, &alice, &doc, "northclinic", "HRESCH", "lab");
    assert_eq!((e["decision"].as_str(), e["basis"].as_str()), (Some("deny"), Some("base")));
    // Another organisation: not named by the provision.
    let e = evaluate(&c, &alice, &doc, "stmarys", "TREAT", "lab");
    assert_eq!(e["decision"], "deny");

    // A second consent that permits everything for research does not override the deny provision.
    c.ok(&alice, "consent", "create", json!({"decision": "permit"}));
    let e = evaluate(&c, &alice, &doc, "northclinic", "TREAT", "mental-health");
    assert_eq!((e["decision"].as_str(), e["provision"].as_u64()), (Some("deny"), Some(1)));
    // Base deny of the first consent overrides the base permit of the second.
    let e = evaluate(&c, &alice, &doc, "stmarys", "HRESCH", "lab");
    assert_eq!(
        (e["decision"].as_str(), e["basis"].as_str(), e["consent_id"].as_str()),
        (Some("deny"), Some("base"), Some(cid.as_str()))
    );

    let list = c.query(&alice, "consent", "list", json!({"patient": p}));
    assert_eq!(list["consents"].as_array().unwrap().len(), 2);
}

#[test]
fn only_the_patient_creates_and_revokes_their_consent() {
    let mut c = Chain::new(&["stmarys"]);
    let alice = c.patient();
    let bob = c.patient();
    let doc = c.practitioner("stmarys", &["physician"]);
    c.rejected(&doc, "consent", "create", json!({"decision": "permit"}), "unauthorized");
    let consent = c.ok(&alice, "consent", "create", json!({"decision": "permit"}));
    let cid = consent["id"].clone();
    c.rejected(&bob, "consent", "revoke", json!({"id": cid}), "unauthorized");
    c.rejected(&doc, "consent", "revoke", json!({"id": cid}), "unauthorized");
    let revoked = c.ok(&alice, "consent", "revoke", json!({"id": cid}));
    assert_eq!(revoked["status"], "inactive");
    c.rejected(&alice, "consent", "revoke", json!({"id": cid}), "conflict");
    let e = evaluate(&c, &alice, &doc, "stmarys", "TREAT", "lab");
    assert_eq!(e["basis"], "no-consent");
}

#[test]
fn periods_and_very_restricted_data_are_respected() {
    let mut c = Chain::new(&["stmarys"]);
    let alice = c.patient();
    let doc = c.practitioner("stmarys", &["physician"]);
    let now = c.exec.tip().time_ms;
    c.ok(
        &alice,
        "consent",
        "create",
        json!({"decision": "permit", "period": {"start_ms": now, "end_ms": now + 3_600_000}}),
    );
    let p = id(&alice);
    let at = |c: &Chain, t: u64, label: &str| {
        c.query(&alice, "consent", "evaluate", json!({"patient": p, "actor": {"id": id(&doc)}, "purpose": "TREAT", "data_class": "lab", "security_label": label, "time_ms": t}))["decision"].clone()
    };
    assert_eq!(at(&c, now + 10, "N"), "permit");
    assert_eq!(at(&c, now + 3_600_000, "N"), "deny");
    assert_eq!(at(&c, now + 10, "V"), "deny", "base permit must not open very restricted data");
    // A permit provision without labels does not open V either; one naming V does.
    c.ok(
        &alice,
        "consent",
        "create",
        json!({"decision": "deny", "provisions": [{"type": "permit", "purposes": ["TREAT"]}]}),
    );
    assert_eq!(at(&c, now + 10, "V"), "deny");
    c.ok(&alice, "consent", "create", json!({"decision": "deny", "provisions": [{"type": "permit", "purposes": ["TREAT"], "security_labels": ["V"]}]}));
    assert_eq!(at(&c, now + 10, "V"), "permit");
}

#[test]
fn consents_are_listed_a_page_at_a_time_and_revoked_ones_leave_the_active_index() {
    let mut c = Chain::new(&["stmarys"]);
    let alice = c.patient();
    let p = id(&alice);
    let ids: Vec<String> = (0..3)
        .map(|_| c.ok(&alice, "consent", "create", json!({"decision": "permit"}))["id"].as_str().unwrap().to_string())
        .collect();
    c.ok(&alice, "consent", "revoke", json!({"id": ids[1]}));
    let page1 = c.query(&alice, "consent", "list", json!({"patient": p, "limit": 2}));
    assert_eq!(page1["consents"].as_array().unwrap().len(), 2);
    let next = page1["next"].as_str().expect("a second page").to_string();
    let page2 = c.query(&alice, "consent", "list", json!({"patient": p, "limit": 2, "after": next}));
    assert_eq!(page2["consents"].as_array().unwrap().len(), 1);
    assert!(page2["next"].is_null());
    let mut all: Vec<String> = page1["consents"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["consents"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(all, want);
    let active = c.query(&alice, "consent", "list", json!({"patient": p, "status": "active"}));
    assert_eq!(active["consents"].as_array().unwrap().len(), 2);
    let inactive = c.query(&alice, "consent", "list", json!({"patient": p, "status": "inactive"}));
    assert_eq!(inactive["consents"][0]["id"], ids[1].as_str());
    c.rejected(
        &alice,
        "consent",
        "create",
        json!({"decision": "permit", "provisions": [{"type": "permit", "actions": ["delete"]}]}),
        "bad-request",
    );
    let out = c.query_out(Some(&alice), "consent", "list", json!({"patient": p, "limit": 0}));
    assert!(
        matches!(out.result, phr_vm::CallResult::Err { ref code, .. } if code == "bad-request"),
        "{:?}",
        out.result
    );
}

#[test]
fn malformed_arguments_and_unknown_methods_are_rejected_with_reasons() {
    let mut c = Chain::new(&["stmarys"]);
    let alice = c.patient();
    let m = c.rejected(&alice, "consent", "create", json!({"decision": "maybe"}), "bad-request");
    assert!(m.contains("create"), "{m}");
    let m = c.rejected(
        &alice,
        "consent",
        "create",
        json!({"decision": "permit", "provisions": [{"type": "permit", "purposes": ["FUN"]}]}),
        "bad-request",
    );
    assert!(m.contains("purposes"), "{m}");
    let m = c.rejected(&alice, "consent", "frobnicate", json!({}), "unknown-method");
    assert!(m.contains("create") && m.contains("revoke"), "{m}");
    let m = c.rejected(&alice, "consent", "create", json!({"decision": 7}), "bad-request");
    assert!(m.contains("invalid"), "{m}");
}
