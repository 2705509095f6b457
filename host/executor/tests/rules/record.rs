use crate::support::*;
use serde_json::json;

#[test]
fn anchor_amend_dispose_verify_and_history() {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let alice = c.patient();
    let doc = c.practitioner("stmarys", &["physician"]);
    let outsider = c.practitioner("northclinic", &["physician"]);
    let (v1, v2) = (sha("lab result v1"), sha("lab result v2"));
    let rec = c.ok(
        &doc,
        "record-anchor",
        "anchor",
        json!({
            "record_id": "stmarys/lab/1", "patient": id(&alice), "sha256": v1, "class": "lab", "device": "analyzer-7"
        }),
    );
    assert_eq!((rec["version"].as_u64(), rec["source"]["org"].as_str()), (Some(1), Some("stmarys")));
    assert_eq!(rec["source"]["author"], id(&doc));

    // Patients cannot anchor; nobody anchors the same id twice.
    c.rejected(
        &alice,
        "record-anchor",
        "anchor",
        json!({"record_id": "x", "patient": id(&alice), "sha256": v1, "class": "lab"}),
        "unauthorized",
    );
    c.rejected(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "stmarys/lab/1", "patient": id(&alice), "sha256": v1, "class": "lab"}),
        "conflict",
    );
    c.rejected(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "r2", "patient": id(&alice), "sha256": "abc", "class": "lab"}),
        "bad-request",
    );

    // Only the source organisation amends.
    c.rejected(
        &outsider,
        "record-anchor",
        "amend",
        json!({"record_id": "stmarys/lab/1", "sha256": v2, "reason": "typo"}),
        "unauthorized",
    );
    let amended = c.ok(
        &doc,
        "record-anchor",
        "amend",
        json!({"record_id": "stmarys/lab/1", "sha256": v2, "reason": "corrected units"}),
    );
    assert_eq!(amended["version"], 2);

    let v = c.query(&doc, "record-anchor", "verify", json!({"record_id": "stmarys/lab/1", "sha256": v1}));
    assert_eq!((v["current"].as_bool(), v["matched_version"].as_u64()), (Some(false), Some(1)));
    let v = c.query(&doc, "record-anchor", "verify", json!({"record_id": "stmarys/lab/1", "sha256": v2}));
    assert_eq!((v["current"].as_bool(), v["matched_version"].as_u64()), (Some(true), Some(2)));
    let v = c.query(&doc, "record-anchor", "verify", json!({"record_id": "stmarys/lab/1", "sha256": sha("forged")}));
    assert_eq!(v["matched_version"], serde_json::Value::Null);

    c.rejected(
        &outsider,
        "record-anchor",
        "dispose",
        json!({"record_id": "stmarys/lab/1", "reason": "retention"}),
        "unauthorized",
    );
    let d = c.ok(
        &doc,
        "record-anchor",
        "dispose",
        json!({"record_id": "stmarys/lab/1", "reason": "retention period over"}),
    );
    assert_eq!((d["status"].as_str(), d["sha256"].as_str()), (Some("disposed"), Some(v2.as_str())));
    c.rejected(
        &doc,
        "record-anchor",
        "amend",
        json!({"record_id": "stmarys/lab/1", "sha256": v1, "reason": "x"}),
        "conflict",
    );

    let admin = c.admin("stmarys").clone();
    let h = c.query(&admin, "record-anchor", "history", json!({"record_id": "stmarys/lab/1"}));
    let changes: Vec<&str> = h["versions"].as_array().unwrap().iter().map(|v| v["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["anchor", "amend", "dispose"]);
    let l = c.query(&alice, "record-anchor", "list_by_patient", json!({"patient": id(&alice)}));
    assert_eq!(l["records"].as_array().unwrap().len(), 1);
}

#[test]
fn every_change_emits_an_event_with_the_patient_as_topic() {
    let mut c = Chain::new(&["stmarys"]);
    let alice = c.patient();
    let doc = c.practitioner("stmarys", &["physician"]);
    let r = c.send(
        &doc,
        "record-anchor",
        "anchor",
        json!({"record_id": "r1", "patient": id(&alice), "sha256": sha("x"), "class": "lab"}),
    );
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].name, "record.anchored");
    assert_eq!(r.events[0].topics[0], id(&alice));
    assert_eq!(r.events[0].contract, "record-anchor");
}
