//! The contract lifecycle: install, approve by a majority of organisations,
//! commit; the new code serves from the next transaction on, state kept; every
//! refusal has a reason.

use crate::support::*;
use base64::Engine as _;
use phr_ledger::{Keypair, TxStatus};
use serde_json::{json, Value};

const ORGS: [&str; 3] = ["stmarys", "northclinic", "citylab"];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hash(bytes: &[u8]) -> String {
    phr_ledger::sha256(&[bytes]).to_hex()
}

fn triple(name: &str, code: &[u8], sequence: u64) -> Value {
    json!({"name": name, "code_hash": hash(code), "sequence": sequence})
}

/// A patient consenting to treatment by northclinic, with no security labels named.
fn consenting_patient(c: &mut Chain) -> Keypair {
    let p = c.patient();
    c.ok(
        &p,
        "consent",
        "create",
        json!({"decision": "deny", "provisions": [{"type": "permit",
            "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
    );
    p
}

fn evaluate_restricted(c: &Chain, patient: &Keypair) -> Value {
    c.query(
        patient,
        "consent",
        "evaluate",
        json!({"patient": id(patient), "actor": {"id": "ab".repeat(20), "org": "northclinic"},
               "purpose": "TREAT", "data_class": "lab-result", "security_label": "R"}),
    )
}

#[test]
fn an_approved_upgrade_serves_from_the_next_transaction_with_the_state_kept() {
    let mut c = Chain::new(&ORGS);
    let (stmarys, northclinic) = (c.admin("stmarys").clone(), c.admin("northclinic").clone());
    let alice = consenting_patient(&mut c);
    let eval = evaluate_restricted(&c, &alice);
    assert_eq!(eval["decision"], "permit", "v1 opens R data to a provision without labels: {eval}");
    assert_eq!(eval["basis"], "provision");
    let v1 = hash(phr_contracts::CONSENT);

    let installed = c.ok(&stmarys, "lifecycle", "install", json!({"code": b64(phr_contracts::CONSENT_V2)}));
    assert_eq!(installed["code_hash"], hash(phr_contracts::CONSENT_V2));
    assert_eq!(installed["has_migrate"], true);
    let first = c.ok(&stmarys, "lifecycle", "approve", triple("consent", phr_contracts::CONSENT_V2, 2));
    assert_eq!(first["ready_to_commit"], false);
    assert_eq!(first["needed"], 2);
    let msg =
        c.rejected(&stmarys, "lifecycle", "commit", triple("consent", phr_contracts::CONSENT_V2, 2), "not-approved");
    assert!(msg.contains("2 of 3") && msg.contains("stmarys"), "{msg}");
    let second = c.ok(&northclinic, "lifecycle", "approve", triple("consent", phr_contracts::CONSENT_V2, 2));
    assert_eq!(second["ready_to_commit"], true);

    // One block: a consent created before the commit, the commit, one after.
    let (bob, carol) = (c.patient(), c.patient());
    let before = c.tx(&bob, "consent", "create", json!({"decision": "permit"}));
    let commit = c.tx(&northclinic, "lifecycle", "commit", triple("consent", phr_contracts::CONSENT_V2, 2));
    let after = c.tx(&carol, "consent", "create", json!({"decision": "permit"}));
    let r = c.block(vec![before, commit, after]);
    assert!(r.iter().all(|r| r.status == TxStatus::Ok), "{r:?}");
    assert_eq!(r[0].code_hash.to_hex(), v1, "the transaction before the commit ran v1");
    assert_eq!(r[2].code_hash.to_hex(), hash(phr_contracts::CONSENT_V2), "the one after it ran v2");
    let committed: Value = serde_json::from_str(&r[1].output).unwrap();
    assert_eq!(committed["sequence"], 2);
    assert_eq!(committed["previous_code_hash"], v1);
    assert_eq!(committed["migrated"], true);
    assert!(r[1].events.iter().any(|e| e.name == "lifecycle.committed"));

    // The rule changed; the state did not.
    let eval = evaluate_restricted(&c, &alice);
    assert_eq!(eval["decision"], "deny", "v2 opens R data only to a provision naming R: {eval}");
    assert_eq!(eval["basis"], "base", "the provision no longer matches; the base decision denies: {eval}");
    let list = c.query(&alice, "consent", "list", json!({"patient": id(&alice)}));
    assert_eq!(list["consents"].as_array().unwrap().len(), 1, "alice's consent is still there");
    let rules = c.query(&alice, "consent", "rules", json!({}));
    assert_eq!(rules["rules"], 2);
    assert_eq!(rules["migration"]["from_code_hash"], v1, "migrate ran once, from v1: {rules}");

    let history = c.query(&stmarys, "lifecycle", "history", json!({"name": "consent"}));
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["code_hash"], hash(phr_contracts::CONSENT_V2));
    let approvers: Vec<&str> =
        versions[0]["approvals"].as_array().unwrap().iter().map(|a| a["org"].as_str().unwrap()).collect();
    assert_eq!(approvers, ["northclinic", "stmarys"]);
    assert_eq!(versions[1]["code_hash"], v1);
    assert_eq!(versions[1]["committed_at"]["height"], 0, "v1 came with the genesis");
    let list = c.query(&stmarys, "lifecycle", "list", json!({}));
    let consent = list["contracts"].as_array().unwrap().iter().find(|x| x["name"] == "consent").unwrap().clone();
    assert_eq!(consent["sequence"], 2);
    assert_eq!(consent["pending"], json!([]), "the commit consumed the approvals");

    // A reopened store serves v2 at once.
    let genesis = c.exec.genesis().clone();
    let (data, dir) = (c.dir.path().join("data"), c.dir.path().to_path_buf());
    drop(c.exec);
    let opts = phr_executor::ExecutorOptions {
        store: phr_state::StoreOptions { sync_writes: false, ..Default::default() },
        ..Default::default()
    };
    let exec = phr_executor::Executor::open(&data, genesis, &dir, opts).unwrap();
    let out = exec.query(None, "consent", "rules", "{}").unwrap();
    assert!(matches!(out.result, phr_vm::CallResult::Ok(ref s) if s.contains("\"rules\":2")), "{:?}", out.result);
}

#[test]
fn a_new_contract_is_deployed_at_sequence_one() {
    let mut c = Chain::new(&["stmarys", "northclinic"]);
    let (a, b) = (c.admin("stmarys").clone(), c.admin("northclinic").clone());
    let p = c.patient();
    let r = c.send(&p, "consent-next", "create", json!({"decision": "permit"}));
    assert!(matches!(r.status, TxStatus::Invalid { ref reason } if reason.contains("unknown contract")), "{r:?}");
    c.ok(&a, "lifecycle", "install", json!({"code": b64(phr_contracts::CONSENT_V2)}));
    let msg =
        c.rejected(&a, "lifecycle", "approve", triple("consent-next", phr_contracts::CONSENT_V2, 2), "wrong-sequence");
    assert!(msg.contains("first sequence is 1"), "{msg}");
    c.ok(&a, "lifecycle", "approve", triple("consent-next", phr_contracts::CONSENT_V2, 1));
    c.ok(&b, "lifecycle", "approve", triple("consent-next", phr_contracts::CONSENT_V2, 1));
    let rec = c.ok(&b, "lifecycle", "commit", triple("consent-next", phr_contracts::CONSENT_V2, 1));
    assert_eq!(rec["previous_code_hash"], Value::Null);
    c.ok(&p, "consent-next", "create", json!({"decision": "permit"}));
    // The same code serves both names, each with its own state.
    let mine = c.query(&p, "consent-next", "list", json!({"patient": id(&p)}));
    assert_eq!(mine["consents"].as_array().unwrap().len(), 1);
    assert_eq!(c.query(&p, "consent", "list", json!({"patient": id(&p)}))["consents"], json!([]));
}

#[test]
fn lifecycle_refusals_name_the_reason_and_change_nothing() {
    let mut c = Chain::new(&ORGS);
    let (stmarys, northclinic) = (c.admin("stmarys").clone(), c.admin("northclinic").clone());
    let doctor = c.practitioner("stmarys", &["physician"]);
    let v2 = phr_contracts::CONSENT_V2;

    let m = c.rejected(&doctor, "lifecycle", "install", json!({"code": b64(v2)}), "unauthorized");
    assert!(m.contains("organisation admin"), "{m}");
    let m = c.rejected(&stmarys, "lifecycle", "install", json!({"code": "not base64!"}), "bad-request");
    assert!(m.contains("base64"), "{m}");
    let m = c.rejected(&stmarys, "lifecycle", "install", json!({"code": b64(b"garbage bytes")}), "invalid-code");
    assert!(m.contains("not a valid WebAssembly component"), "{m}");
    let m = c.rejected(&stmarys, "lifecycle", "approve", triple("consent", v2, 2), "not-found");
    assert!(m.contains("install it first"), "{m}");
    c.ok(&stmarys, "lifecycle", "install", json!({"code": b64(v2)}));
    let m = c.rejected(&northclinic, "lifecycle", "install", json!({"code": b64(v2)}), "conflict");
    assert!(m.contains("installed already"), "{m}");

    let m = c.rejected(&doctor, "lifecycle", "approve", triple("consent", v2, 2), "unauthorized");
    assert!(m.contains("organisation admin"), "{m}");
    for bad_seq in [1, 3] {
        let m = c.rejected(&stmarys, "lifecycle", "approve", triple("consent", v2, bad_seq), "wrong-sequence");
        assert!(m.contains("the next is 2"), "{m}");
    }
    let m = c.rejected(&stmarys, "lifecycle", "approve", triple("identity", v2, 1), "bad-request");
    assert!(m.contains("system contract"), "{m}");

    // Two organisations approve different code for the same sequence: no majority.
    c.ok(&stmarys, "lifecycle", "approve", triple("consent", v2, 2));
    c.rejected(&stmarys, "lifecycle", "approve", triple("consent", v2, 2), "conflict");
    c.ok(&northclinic, "lifecycle", "approve", triple("consent", phr_contracts::RUNAWAY, 2));
    let m = c.rejected(&stmarys, "lifecycle", "commit", triple("consent", v2, 2), "not-approved");
    assert!(m.contains("approved by: stmarys") && m.contains("northclinic approved other code"), "{m}");
    let m = c.rejected(&stmarys, "lifecycle", "commit", triple("consent", v2, 3), "wrong-sequence");
    assert!(m.contains("the next is 2"), "{m}");
    let m = c.rejected(&doctor, "lifecycle", "commit", triple("consent", v2, 2), "unauthorized");
    assert!(m.contains("organisation admin"), "{m}");
    let m = c.rejected(&stmarys, "lifecycle", "retire", json!({}), "unknown-method");
    assert!(m.contains("install, approve, commit"), "{m}");

    // Nothing of that changed which code serves consent.
    let got = c.query(&stmarys, "lifecycle", "get", json!({"name": "consent"}));
    assert_eq!(got["sequence"], 1);
    assert_eq!(got["code_hash"], hash(phr_contracts::CONSENT));
    let pending: Vec<(&str, &str)> = got["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["org"].as_str().unwrap(), a["code_hash"].as_str().unwrap()))
        .collect();
    let (v2h, rh) = (hash(v2), hash(phr_contracts::RUNAWAY));
    assert_eq!(pending, [("northclinic", rh.as_str()), ("stmarys", v2h.as_str())]);

    // northclinic changes its mind: its approval is replaced, and the commit goes through.
    let r = c.ok(&northclinic, "lifecycle", "approve", triple("consent", v2, 2));
    assert_eq!(r["replaces"], rh);
    c.ok(&stmarys, "lifecycle", "commit", triple("consent", v2, 2));
    assert_eq!(c.query(&stmarys, "consent", "rules", json!({}))["rules"], 2);
}

#[test]
fn a_failing_migrate_aborts_the_commit() {
    let mut c = Chain::new(&["stmarys"]);
    let admin = c.admin("stmarys").clone();
    let p = c.patient();
    // Re-committing the same code at the next sequence runs its migrate.
    let t = triple("runaway", phr_contracts::RUNAWAY, 2);
    c.ok(&admin, "lifecycle", "approve", t.clone());
    c.ok(&p, "runaway", "write", json!("fail-migrate"));
    let m = c.rejected(&admin, "lifecycle", "commit", t.clone(), "migrate-failed");
    assert!(m.contains("scratch says"), "{m}");
    c.ok(&p, "runaway", "write", json!("spin-migrate"));
    let r = c.send(&admin, "lifecycle", "commit", t.clone());
    assert!(matches!(r.status, TxStatus::Rejected { ref message, .. } if message.contains("out of fuel")), "{r:?}");
    assert_eq!(r.fuel_used, phr_ledger::ChainParams::default().fuel_per_tx, "the migrate burnt the tx's fuel");
    assert!(r.writes.is_empty());
    assert_eq!(
        c.query(&admin, "lifecycle", "get", json!({"name": "runaway"}))["sequence"],
        1,
        "still the first version"
    );
    assert_eq!(c.query(&admin, "runaway", "migrated", json!({})), false);

    c.ok(&p, "runaway", "write", json!("fine"));
    let rec = c.ok(&admin, "lifecycle", "commit", t);
    assert_eq!(rec["sequence"], 2);
    assert_eq!(c.query(&admin, "runaway", "migrated", json!({})), true);
}

#[test]
fn install_and_commit_in_one_block_compile_on_demand() {
    // With a one-organisation consortium, install, approve and commit can share
    // a block: the commit then compiles the code it needs itself.
    let mut c = Chain::new(&["stmarys"]);
    let admin = c.admin("stmarys").clone();
    let install = c.tx(&admin, "lifecycle", "install", json!({"code": b64(phr_contracts::CONSENT_V2)}));
    let approve = c.tx(&admin, "lifecycle", "approve", triple("consent", phr_contracts::CONSENT_V2, 2));
    let commit = c.tx(&admin, "lifecycle", "commit", triple("consent", phr_contracts::CONSENT_V2, 2));
    let r = c.block(vec![install, approve, commit]);
    assert!(r.iter().all(|r| r.status == TxStatus::Ok), "{r:?}");
    assert_eq!(c.query(&admin, "consent", "rules", json!({}))["rules"], 2);
    let code = c.query(&admin, "lifecycle", "code", json!({"code_hash": hash(phr_contracts::CONSENT_V2)}));
    assert_eq!(code["installed_by"], id(&admin));
    assert_eq!(code["org"], "stmarys");
}
