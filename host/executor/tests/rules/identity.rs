use crate::support::*;
use phr_ledger::{Keypair, TxStatus};
use serde_json::json;

#[test]
fn patients_enrol_themselves_once_and_admins_enrol_practitioners_of_their_org_only() {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let p = c.patient();
    let rec = c.query(&p, "identity", "get", json!({"id": id(&p)}));
    assert_eq!(rec["kind"], "patient");
    c.rejected(&p, "identity", "enrol_patient", json!({}), "conflict");

    let doc = c.practitioner("stmarys", &["physician"]);
    let rec = c.query(&p, "identity", "get", json!({"id": id(&doc)}));
    assert_eq!(rec["org"], "stmarys");
    assert_eq!(rec["roles"], json!(["physician"]));

    // A practitioner cannot enrol others; a patient cannot either.
    let other = Keypair::generate();
    c.rejected(
        &doc,
        "identity",
        "enrol_practitioner",
        json!({"public_key": other.public_key(), "roles": ["nurse"]}),
        "unauthorized",
    );
    c.rejected(
        &p,
        "identity",
        "enrol_practitioner",
        json!({"public_key": other.public_key(), "roles": ["nurse"]}),
        "unauthorized",
    );
    // Reserved roles and bad role names are refused.
    let admin = c.admin("stmarys").clone();
    c.rejected(
        &admin,
        "identity",
        "enrol_practitioner",
        json!({"public_key": other.public_key(), "roles": ["admin"]}),
        "bad-request",
    );
    c.rejected(
        &admin,
        "identity",
        "enrol_practitioner",
        json!({"public_key": other.public_key(), "roles": ["Bad Role"]}),
        "bad-request",
    );
    // Authorization comes before argument checks: a practitioner learns nothing about roles.
    c.rejected(&doc, "identity", "set_roles", json!({"id": id(&doc), "roles": ["Bad Role"]}), "unauthorized");
    c.ok(&admin, "identity", "set_roles", json!({"id": id(&doc), "roles": ["physician", "emergency"]}));
    assert_eq!(c.query(&admin, "identity", "get", json!({"id": id(&doc)}))["roles"], json!(["physician", "emergency"]));
    // An auditor sees every identity, so a page of one is full.
    let auditor = c.auditor();
    let page = c.query(&auditor, "identity", "list", json!({"limit": 1}));
    assert_eq!(page["identities"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_string());
    // Another organisation's admin cannot revoke St Mary's practitioner.
    let north = c.admin("northclinic").clone();
    c.rejected(&north, "identity", "revoke", json!({"id": id(&doc)}), "unauthorized");
    c.ok(&admin, "identity", "revoke", json!({"id": id(&doc)}));
    // A revoked practitioner's transactions are no longer executed.
    let r = c.send(&doc, "record-anchor", "anchor", json!({}));
    assert!(matches!(r.status, TxStatus::Invalid { ref reason } if reason.contains("revoked")), "{:?}", r.status);
}

#[test]
fn unknown_signers_can_only_enrol() {
    let mut c = Chain::new(&["stmarys"]);
    let stranger = Keypair::generate();
    let r = c.send(&stranger, "consent", "create", json!({"decision": "permit"}));
    assert!(
        matches!(r.status, TxStatus::Invalid { ref reason } if reason.contains("unknown signer")),
        "{:?}",
        r.status
    );
    assert!(r.writes.is_empty());
}

#[test]
fn auditors_need_a_majority_of_organisations() {
    let mut c = Chain::new(&["a", "b", "c"]);
    let auditor = Keypair::generate();
    let (a, b) = (c.admin("a").clone(), c.admin("b").clone());
    let out = c.ok(&a, "identity", "approve_auditor", json!({"public_key": auditor.public_key()}));
    assert_eq!(out["needed"], 2);
    let out = c.query_out(Some(&a), "identity", "get", json!({"id": id(&auditor)}));
    assert!(matches!(out.result, phr_vm::CallResult::Err { ref code, .. } if code == "not-found"), "not yet enrolled");
    c.rejected(&a, "identity", "approve_auditor", json!({"public_key": auditor.public_key()}), "conflict");
    let rec = c.ok(&b, "identity", "approve_auditor", json!({"public_key": auditor.public_key()}));
    assert_eq!(rec["kind"], "auditor");
    assert_eq!(rec["enrolled_by"], "consortium");
}

#[test]
fn voter_changes_are_approved_by_a_majority_of_organisations_one_vote_each() {
    let mut c = Chain::new(&["a", "b", "c"]);
    let node = Keypair::generate();
    let (a, b) = (c.admin("a").clone(), c.admin("b").clone());
    let args = json!({"change": "promote", "node": "node3", "public_key": node.public_key(), "membership_index": 7});
    let out = c.ok(&a, "identity", "approve_voter", args.clone());
    assert_eq!((out["orgs"].clone(), out["needed"].clone()), (json!(["a"]), json!(2)));
    // One organisation cannot vote twice, and only admins vote.
    c.rejected(&a, "identity", "approve_voter", args.clone(), "conflict");
    let doc = Keypair::generate();
    c.ok(&a, "identity", "enrol_practitioner", json!({"public_key": doc.public_key(), "roles": ["physician"]}));
    c.rejected(&doc, "identity", "approve_voter", args.clone(), "unauthorized");
    // An approval names the node's key: another key under the same name has none.
    let other = json!({"change": "promote", "node": "node3", "public_key": Keypair::generate().public_key(), "membership_index": 7});
    assert_eq!(c.query(&a, "identity", "voter_approvals", other)["orgs"], json!([]));
    // ... and the membership it was given under: once that changed, it counts no more.
    let later = json!({"change": "promote", "node": "node3", "public_key": node.public_key(), "membership_index": 8});
    assert_eq!(c.query(&a, "identity", "voter_approvals", later)["orgs"], json!([]));
    // Removing is a separate change.
    let removal = json!({"change": "remove", "node": "node3", "public_key": node.public_key(), "membership_index": 7});
    assert_eq!(c.query(&a, "identity", "voter_approvals", removal)["orgs"], json!([]));
    c.ok(&b, "identity", "approve_voter", args.clone());
    assert_eq!(c.query(&doc, "identity", "voter_approvals", args.clone())["orgs"], json!(["a", "b"]));
    c.rejected(
        &a,
        "identity",
        "approve_voter",
        json!({"change": "promote", "node": "no such/name", "public_key": node.public_key(), "membership_index": 7}),
        "bad-request",
    );
}
