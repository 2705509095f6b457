//! Known-answer vectors (issue 11, point 4): a fixed script of contract calls
//! (every contract, every kind of receipt) on a chain whose every input byte is
//! fixed — keys from fixed secrets, the genesis time, and the contract
//! components checked in under `tests/vectors/` — and the bytes it must give:
//! each transaction's canonical bytes and id, each receipt (status, fuel, its
//! digest), and each block's hash, state root and receipts root.
//!
//! A dependency bump (wasmtime, Cranelift, serde_json, borsh, k256, RocksDB…)
//! or a change of the executor that changes any consensus byte fails this test,
//! naming each step and field that changed. If the change is intended (a new
//! chain version), regenerate with `PHR_UPDATE_VECTORS=1` and say why in the
//! commit. The components are fixtures, not the current contracts, so that
//! editing a contract's source does not move the vectors.

use crate::support::*;
use phr_ledger::{Batch, Canonical, Keypair, SignedTx};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

fn dir() -> PathBuf {
    manifest_dir().join("tests/vectors")
}

fn updating() -> bool {
    std::env::var_os("PHR_UPDATE_VECTORS").is_some()
}

/// The checked-in component `name` (written from the current build when
/// updating and missing).
fn fixture(name: &str, current: &[u8]) -> Vec<u8> {
    let path = dir().join(format!("{name}.wasm"));
    if updating() && !path.exists() {
        std::fs::create_dir_all(dir()).unwrap();
        // Another test may read it meanwhile: it appears whole or not at all.
        let tmp = path.with_extension(format!("tmp-{:?}", std::thread::current().id()));
        std::fs::write(&tmp, current).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (PHR_UPDATE_VECTORS=1 writes it)", path.display()))
}

fn components() -> Vec<(&'static str, Vec<u8>)> {
    contracts().into_iter().map(|(name, bytes)| (name, fixture(name, bytes))).collect()
}

/// One step of the script: who signs what.
struct Step {
    name: &'static str,
    key: Keypair,
    contract: &'static str,
    method: &'static str,
    args: Value,
}

fn step(name: &'static str, key: &Keypair, contract: &'static str, method: &'static str, args: Value) -> Step {
    Step { name, key: key.clone(), contract, method, args }
}

fn hex(k: &Keypair) -> String {
    k.id().to_hex()
}

/// The script, as blocks of steps.
fn script(c: &Chain) -> Vec<Vec<Step>> {
    let (alice, doc, carol, stranger) = (fixed_key(20), fixed_key(21), fixed_key(22), fixed_key(23));
    let (stmarys, north) = (c.admin("stmarys").clone(), c.admin("northclinic").clone());
    let record =
        json!({"record_id": "stmarys/lab/1", "patient": hex(&alice), "sha256": "ab".repeat(32), "class": "lab"});
    vec![
        vec![
            step("enrol a patient", &alice, "identity", "enrol_patient", json!({})),
            step(
                "enrol a practitioner",
                &stmarys,
                "identity",
                "enrol_practitioner",
                json!({"public_key": doc.public_key(), "roles": ["physician"]}),
            ),
            step(
                "enrol another",
                &north,
                "identity",
                "enrol_practitioner",
                json!({"public_key": carol.public_key(), "roles": ["physician", "emergency"]}),
            ),
        ],
        vec![
            step(
                "create a consent",
                &alice,
                "consent",
                "create",
                json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"], "data_classes": ["lab"]}]}),
            ),
            step("a consent with bad arguments", &alice, "consent", "create", json!({"decision": "maybe"})),
            step("anchor a record", &doc, "record-anchor", "anchor", record.clone()),
            step("anchor it twice", &doc, "record-anchor", "anchor", record),
        ],
        vec![
            step(
                "request access under the consent",
                &carol,
                "access-grant",
                "request",
                json!({"patient": hex(&alice), "record_id": "stmarys/lab/1", "purpose": "TREAT", "ask_patient": false}),
            ),
            step(
                "break the glass",
                &carol,
                "access-grant",
                "break_glass",
                json!({"patient": hex(&alice), "reason": "unconscious on arrival"}),
            ),
            step("a method nobody has", &alice, "consent", "no_such_method", json!({})),
            step("an unknown signer", &stranger, "consent", "create", json!({"decision": "permit"})),
        ],
        vec![step("spin until out of fuel", &alice, "runaway", "spin", json!({}))],
        vec![step("allocate without end", &alice, "runaway", "hog", json!({}))],
        vec![
            step("recurse off the shadow stack", &alice, "runaway", "recurse", json!({})),
            step("panic", &alice, "runaway", "panic", json!({})),
            step("fail after a write", &alice, "runaway", "write_then_fail", json!({})),
            step("nest to the limit", &alice, "runaway", "deep", json!({"frames": 64})),
            step("exhaust the native stack", &alice, "runaway", "deep", json!({"frames": 65536})),
            step("write", &alice, "runaway", "write", json!({"v": 1})),
        ],
        vec![
            step("install garbage", &stmarys, "lifecycle", "install", json!({"code": "AGFzbQ0AAQA="})),
            step(
                "approve a voter",
                &stmarys,
                "identity",
                "approve_voter",
                json!({"change": "promote", "node": "node9", "public_key": fixed_key(30).public_key(), "membership_index": 3}),
            ),
        ],
    ]
}

/// Run the script on a fresh fixed chain and record every consensus byte.
fn run() -> Map<String, Value> {
    let fixtures = components();
    let mut c = Chain::fixed(
        &["stmarys", "northclinic", "citylab"],
        fixtures.iter().map(|(n, b)| (*n, b.as_slice())).collect(),
    );
    let mut out = Map::new();
    let tip = c.exec.tip();
    out.insert("genesis".into(), json!({"block_hash": tip.block_hash.to_hex(), "state_root": tip.state_root.to_hex()}));
    for (n, block) in script(&c).into_iter().enumerate() {
        let txs: Vec<SignedTx> = block.iter().map(|s| c.tx(&s.key, s.contract, s.method, s.args.clone())).collect();
        let time_ms = c.exec.tip().time_ms + 1000;
        let batch = Batch { proposer: "node0".into(), time_ms, attestation: None, txs: txs.clone() };
        let applied = c.exec.apply(&batch, Vec::new()).unwrap();
        out.insert(
            format!("block {}", n + 1),
            json!({
                "hash": applied.hash.to_hex(),
                "state_root": applied.state_root.to_hex(),
                "receipts_root": applied.receipts_root.to_hex(),
            }),
        );
        for ((s, tx), r) in block.iter().zip(&txs).zip(&applied.receipts) {
            let status = serde_json::to_value(&r.status).unwrap();
            out.insert(
                s.name.to_string(),
                json!({
                    "tx_id": tx.id().to_hex(),
                    "tx_bytes_sha256": phr_ledger::sha256(&[&tx.to_canonical()]).to_hex(),
                    "status": status,
                    "fuel_used": r.fuel_used,
                    "receipt_digest": r.digest().to_hex(),
                }),
            );
        }
    }
    out
}

#[test]
fn consensus_bytes_match_the_known_answers() {
    let got = run();
    let path = dir().join("known-answers.json");
    if updating() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PHR_UPDATE_VECTORS=1 writes it)", path.display()));
    let want: Map<String, Value> = serde_json::from_str(&text).unwrap();
    let mut changed = Vec::new();
    for (step, w) in &want {
        match got.get(step) {
            None => changed.push(format!("{step}: no longer in the script")),
            Some(g) => {
                for (field, wv) in w.as_object().unwrap() {
                    if g.get(field) != Some(wv) {
                        changed.push(format!("{step}: {field} was {wv}, now {}", g.get(field).unwrap_or(&Value::Null)));
                    }
                }
            }
        }
    }
    for step in got.keys().filter(|s| !want.contains_key(*s)) {
        changed.push(format!("{step}: new in the script"));
    }
    assert!(
        changed.is_empty(),
        "consensus bytes changed (regenerate with PHR_UPDATE_VECTORS=1 only if a new chain version is intended):\n{}",
        changed.join("\n")
    );
}

#[test]
fn the_script_covers_every_contract_and_every_kind_of_receipt() {
    let got = run();
    let statuses: std::collections::BTreeSet<String> =
        got.values().filter_map(|v| v["status"]["status"].as_str().map(str::to_string)).collect();
    for s in ["ok", "rejected", "out-of-fuel", "trapped", "invalid"] {
        assert!(statuses.contains(s), "no step ends {s}: {statuses:?}");
    }
    // A second run computes the same bytes.
    assert_eq!(got, run());
}

/// This package's directory in the checkout the tests run from. Cargo sets it
/// when it runs a test; the value baked in at build time is only a fallback,
/// since a build shared between checkouts may have been made in another one.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn the_genesis_names_the_fuel_table_and_a_build_without_it_refuses_the_chain() {
    // Table 1 is what the known answers above were computed with.
    assert_eq!(phr_ledger::ChainParams::default().fuel_table, 1);
    let e = Chain::open_with(&["a"], phr_ledger::ChainParams { fuel_table: 2, ..Default::default() })
        .err()
        .expect("a chain priced by a table this build does not know must not open");
    let text = e.to_string();
    assert!(text.contains("fuel table 2") && text.contains("knows [1]"), "{text}");
    let e = Chain::open_with(&["a"], phr_ledger::ChainParams { fuel_table: 0, ..Default::default() }).err().unwrap();
    assert!(e.to_string().contains("params.fuel_table"), "{e}");
}
