//! Every kind of resource the FHIR facade emits validates against FHIR R5, as
//! the PyPI package `fhir.resources` (tests/api/validate_fhir.py) reads it.
//!
//! Needs the Python venv of the API checks ($PHR_VENV, default
//! ~/.cache/phr-ledger/venv) with tests/api/requirements.txt installed:
//! `scripts/setup.sh` makes it. Without it this test fails, saying so.

use std::path::PathBuf;
use std::process::Command;

use phr_gateway::fhir::{self, IssueSeverity, IssueType, Resource};
use serde_json::{json, Value};

const BASE: &str = "https://node0.example/fhir";
const PATIENT: &str = "277462f44e2ef118ac9f6ad219df8624b930d995";

fn record() -> Value {
    json!({
        "record_id": "stmarys/lab/2026-000123",
        "patient": PATIENT,
        "sha256": "fa274a40096c91d390ac0e452fa497d7efa9f4ec61939dcd94448af45184a912",
        "class": "lab",
        "security_label": "N",
        "source": {"org": "stmarys", "author": "0218aeed2cb3e455dcede6ea67219a244760272f",
                   "device": "hematology-analyzer-7"},
        "version": 1,
        "status": "active",
        "created_at_ms": 1764000056789u64,
        "updated_at_ms": 1764000056789u64,
        "disposed_at_ms": null
    })
}

fn records() -> Vec<Value> {
    let mut disposed = record();
    disposed["record_id"] = json!("stmarys/imaging/2026-000007");
    disposed["status"] = json!("disposed");
    disposed["version"] = json!(2);
    disposed["security_label"] = json!("R");
    disposed["disposed_at_ms"] = json!(1764000099000u64);
    disposed["updated_at_ms"] = json!(1764000099000u64);
    let mut own = record();
    own["record_id"] = json!("stmarys-3fa1c0d2e4b5");
    own["class"] = json!("note");
    own["source"] = json!({"org": "stmarys", "author": PATIENT, "device": null, "self_reported": true});
    own["held_by"] = json!("node0");
    own["media_type"] = json!("application/pdf");
    own["size"] = json!(5123);
    vec![record(), disposed, own]
}

fn consents() -> Vec<Value> {
    let deny_base = json!({
        "id": "consent-431354a62c48acd3cef77081",
        "patient": PATIENT,
        "status": "active",
        "decision": "deny",
        "period": {"start_ms": 1764000000000u64, "end_ms": 1795536000000u64},
        "provisions": [
            {"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}],
             "purposes": ["TREAT"], "actions": ["access"], "data_classes": ["lab", "imaging"],
             "security_labels": [], "period": null},
            {"type": "deny", "actors": [{"kind": "practitioner", "id": "bf93bddc6b055f84298318b466288d3e6ecffeae"}],
             "purposes": [], "actions": [], "data_classes": [], "security_labels": ["R", "V"], "period": null},
            {"type": "permit", "actors": [{"kind": "role", "id": "emergency"}], "purposes": ["ETREAT"],
             "actions": ["access", "use"], "data_classes": [], "security_labels": ["N", "R", "V"],
             "period": {"start_ms": 1764000000000u64, "end_ms": null}}
        ],
        "created_at_ms": 1764000012345u64,
        "created_tx": "431354a62c48acd3cef7708192c851e620cd26bad15afb48afd95aa71f61d173",
        "revoked_at_ms": null,
        "revoked_tx": null
    });
    let mut permit_base = deny_base.clone();
    permit_base["id"] = json!("consent-9b1e0000c48acd3cef770812");
    permit_base["decision"] = json!("permit");
    permit_base["status"] = json!("inactive");
    permit_base["period"] = json!(null);
    permit_base["revoked_at_ms"] = json!(1764000099000u64);
    permit_base["revoked_tx"] = json!("9b1e0000c48acd3cef7708192c851e620cd26bad15afb48afd95aa71f61d173");
    vec![deny_base, permit_base]
}

fn disclosures() -> Vec<Value> {
    let success = json!({
        "recorded_at_ms": 1764000234567u64,
        "tx_id": "1a599d6eacda199c535a646828268a086c6bb68a85c57a89ee7b6fd7afffa1aa",
        "patient": PATIENT,
        "agent": {"id": "bf93bddc6b055f84298318b466288d3e6ecffeae", "org": "northclinic", "role": "physician"},
        "record_id": "stmarys/lab/2026-000123",
        "data_class": "lab",
        "security_label": "N",
        "action": "access",
        "purpose": "TREAT",
        "authorization": {"kind": "consent", "access_id": "access-ea1a99a0c1a6664233645272",
                          "consent_id": "consent-431354a62c48acd3cef77081", "break_glass": false},
        "outcome": "success",
        "served_by": "node0",
        "witness": "9f0e2c1d3b4a59687766554433221100ffeeddcc"
    });
    let mut refused = success.clone();
    refused["tx_id"] = json!("2b599d6eacda199c535a646828268a086c6bb68a85c57a89ee7b6fd7afffa1aa");
    refused["outcome"] = json!("failure");
    refused["reason"] = json!("consent no longer permits access access-ea1a99a0c1a6664233645272");
    let mut break_glass = success.clone();
    break_glass["tx_id"] = json!("3c599d6eacda199c535a646828268a086c6bb68a85c57a89ee7b6fd7afffa1aa");
    break_glass["agent"]["role"] = json!("emergency");
    break_glass["purpose"] = json!("ETREAT");
    break_glass["security_label"] = json!("R");
    break_glass["authorization"] =
        json!({"kind": "break-glass", "access_id": "access-0b0e", "consent_id": null, "break_glass": true});
    let audit = json!({
        "recorded_at_ms": 1764000300000u64,
        "tx_id": "4d599d6eacda199c535a646828268a086c6bb68a85c57a89ee7b6fd7afffa1aa",
        "patient": PATIENT,
        "agent": {"id": "aa11bb22cc33dd44ee55ff6677889900aabbccdd", "org": null, "role": "auditor"},
        "record_id": "",
        "data_class": "consent.list",
        "security_label": "",
        "action": "read",
        "purpose": "HCOMPL",
        "authorization": {"kind": "audit", "access_id": "", "consent_id": null, "break_glass": false},
        "outcome": "success",
        "served_by": "node1",
        "witness": "9f0e2c1d3b4a59687766554433221100ffeeddcc"
    });
    vec![success, refused, break_glass, audit]
}

fn identity() -> Value {
    json!({"id": PATIENT, "public_key": "02".repeat(33), "kind": "patient", "org": null, "roles": [],
           "enrolled_at_height": 7, "enrolled_by": PATIENT, "revoked": false})
}

/// Every kind of resource the module emits.
fn everything_emitted() -> Vec<Value> {
    let to_value = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).unwrap();
    let mut out = vec![to_value(fhir::to_json(&fhir::capability_statement(BASE, "0.1.0").unwrap()).unwrap())];
    let docs: Vec<Resource> = records().iter().map(|r| fhir::document_reference(r, BASE).unwrap().into()).collect();
    let consents: Vec<Resource> = consents().iter().map(|c| fhir::consent(c).unwrap().into()).collect();
    let events: Vec<Resource> = disclosures().iter().map(|d| fhir::audit_event(d).unwrap().into()).collect();
    for r in docs.iter().chain(&consents).chain(&events) {
        out.push(to_value(fhir::to_json(r).unwrap()));
    }
    out.push(to_value(fhir::to_json(&fhir::patient(&identity()).unwrap()).unwrap()));
    let search = fhir::bundle_searchset(
        BASE,
        docs,
        &format!("{BASE}/DocumentReference?patient={PATIENT}&_count=3"),
        Some(&format!("{BASE}/DocumentReference?patient={PATIENT}&_count=3&_cursor=abc")),
        Some(5),
    )
    .unwrap();
    out.push(to_value(fhir::to_json(&search).unwrap()));
    // A record whose id has no FHIR id: an `outcome` entry names it.
    let mut records = records();
    let mut long = record();
    long["record_id"] = json!("x/".repeat(40));
    records.push(long);
    let everything = fhir::bundle_everything(
        BASE,
        &format!("{BASE}/Patient/{PATIENT}/$everything"),
        &identity(),
        &records,
        &self::consents(),
        &disclosures(),
    )
    .unwrap();
    out.push(to_value(fhir::to_json(&everything).unwrap()));
    let outcome = fhir::operation_outcome(IssueSeverity::Error, IssueType::Required, "subject is missing");
    out.push(to_value(fhir::to_json(&outcome).unwrap()));
    out
}

fn repo_root() -> PathBuf {
    manifest_dir().join("../..").canonicalize().unwrap()
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PHR_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/phr-ledger/venv")
    });
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "no Python venv at {}: run scripts/setup.sh (it installs tests/api/requirements.txt, with fhir.resources)",
        venv.display()
    );
    python
}

#[test]
fn every_emitted_resource_is_valid_r5() {
    let python = venv_python();
    let resources = everything_emitted();
    assert_eq!(resources.len(), 14, "capability, 3 documents, 2 consents, 4 audit events, patient, 2 bundles, outcome");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("emitted.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&resources).unwrap()).unwrap();
    let out = Command::new(&python)
        .arg(repo_root().join("tests/api/validate_fhir.py"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "R5 validation failed ({}); if fhir.resources is missing, run scripts/setup.sh\n{stdout}{stderr}",
        out.status
    );
    println!("{stdout}");
    assert!(stdout.contains(" 0 invalid"), "{stdout}");
}

/// The validator is not a rubber stamp: it refuses what R5 refuses.
#[test]
fn the_validator_refuses_invalid_resources() {
    let python = venv_python();
    let bad = json!([
        {"resourceType": "Consent", "status": "active", "provision": [{"type": "permit"}]},
        {"resourceType": "DocumentReference", "status": "current", "content": []},
        {"resourceType": "Patient", "id": "stmarys/lab/1"},
        {"resourceType": "Patient", "id": "a".repeat(65)}
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, serde_json::to_vec(&bad).unwrap()).unwrap();
    let out = Command::new(&python).arg(repo_root().join("tests/api/validate_fhir.py")).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("FAIL").count(), 4, "{stdout}");
}

/// This package's directory in the checkout the tests run from. Cargo sets it
/// when it runs a test; the value baked in at build time is only a fallback,
/// since a build shared between checkouts may have been made in another one.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
