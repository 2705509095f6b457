//! Contract calls per second: the same contract code run natively, in the VM
//! over in-memory state, and in the VM over the node's RocksDB state.
//!
//! - `native`: the contract crate compiled for this CPU, against the SDK's
//!   in-memory host (no VM, no fuel, no isolation): the baseline.
//! - `vm-memory`: the wasm component in wasmtime (fresh pooled instance per call,
//!   fuel metering, host-function checks) against an in-memory map, so the ratio
//!   to `native` is the cost of the VM alone.
//! - `vm-rocksdb` (queries only): the node's real query path, reading RocksDB.
//!
//! Workloads: `consent.evaluate` (a query reading a patient's three consents)
//! and `record-anchor.anchor` (an invoke writing three keys).

use criterion::{criterion_group, BatchSize, Criterion};
use phr_executor::{Executor, ExecutorOptions, TxEnv};
use phr_ledger::{Batch, Caller, CallerKind, Genesis, GenesisContract, Keypair, NodeInfo, Org, TxBody};
use phr_sdk::native::{with_host, Host};
use phr_sdk::Contract;
use phr_vm::{CallContext, CallResult, CompiledContract, Entry, HistoryItem, HostEnv, HostFault, Rows, Vm, VmConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// State in a map, for measuring the VM without storage.
struct MemEnv {
    state: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    contracts: BTreeMap<String, Arc<CompiledContract<MemEnv>>>,
}

impl HostEnv for MemEnv {
    fn get(&mut self, ns: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostFault> {
        Ok(self.state.get(&(ns.to_string(), key.to_vec())).cloned())
    }
    fn put(&mut self, ns: &str, key: &[u8], value: &[u8]) -> Result<(), HostFault> {
        self.state.insert((ns.to_string(), key.to_vec()), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, ns: &str, key: &[u8]) -> Result<(), HostFault> {
        self.state.remove(&(ns.to_string(), key.to_vec()));
        Ok(())
    }
    fn scan(&mut self, ns: &str, start: &[u8], end: &[u8], limit: u32) -> Result<Rows, HostFault> {
        Ok(self
            .state
            .range((ns.to_string(), start.to_vec())..)
            .take_while(|((n, k), _)| n == ns && (end.is_empty() || k.as_slice() < end))
            .take(limit as usize)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
    fn history(&mut self, _: &str, _: &[u8], _: u32) -> Result<Vec<HistoryItem>, HostFault> {
        Ok(Vec::new())
    }
    fn resolve(&mut self, name: &str) -> Result<Option<Arc<CompiledContract<Self>>>, HostFault> {
        Ok(self.contracts.get(name).cloned())
    }
}

const FUEL: u64 = 200_000_000;

/// A distinct transaction id for call `i` (contracts derive ids from its prefix).
fn tx_id(i: u64) -> String {
    phr_ledger::sha256(&[&i.to_be_bytes()]).to_hex()
}

fn patient() -> Caller {
    Caller { id: "aa".repeat(20), kind: CallerKind::Patient, org: None, roles: vec!["patient".into()] }
}

fn doctor() -> Caller {
    Caller {
        id: "bb".repeat(20),
        kind: CallerKind::Practitioner,
        org: Some("stmarys".into()),
        roles: vec!["physician".into()],
    }
}

/// The same caller as the native SDK sees it.
fn sdk(c: Caller) -> phr_sdk::Caller {
    let kind = match c.kind {
        CallerKind::Patient => phr_sdk::CallerKind::Patient,
        CallerKind::Practitioner => phr_sdk::CallerKind::Practitioner,
        _ => phr_sdk::CallerKind::Anonymous,
    };
    phr_sdk::Caller { id: c.id, kind, org: c.org, roles: c.roles }
}

fn consents() -> [serde_json::Value; 3] {
    [
        json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"], "data_classes": ["lab", "imaging"]}]}),
        json!({"decision": "deny", "provisions": [{"type": "deny", "data_classes": ["mental-health"]}]}),
        json!({"decision": "permit", "provisions": [{"type": "permit", "purposes": ["HRESCH"]}]}),
    ]
}

fn evaluate_args() -> String {
    json!({"patient": "aa".repeat(20), "actor": {"id": "cc".repeat(20), "org": "northclinic", "roles": ["physician"]}, "purpose": "TREAT", "data_class": "lab"}).to_string()
}

fn anchor_args(i: u64) -> String {
    json!({"record_id": format!("r/{i}"), "patient": "aa".repeat(20), "sha256": "ab".repeat(32), "class": "lab"})
        .to_string()
}

fn native(c: &mut Criterion) {
    // The patient creates her consents and evaluates them (her own data to read).
    let mut host = Host::new("consent", sdk(patient()));
    for (i, args) in consents().iter().enumerate() {
        host.tx_id = tx_id(i as u64 + 1);
        let (r, h) = with_host(host, || consent::ConsentContract::invoke("create", &args.to_string()));
        r.unwrap();
        host = h;
    }
    let args = evaluate_args();
    let mut host = Some(host);
    c.bench_function("consent.evaluate/native", |b| {
        b.iter(|| {
            let (r, h) = with_host(host.take().unwrap(), || consent::ConsentContract::query("evaluate", &args));
            host = Some(h);
            r.unwrap()
        })
    });

    let mut host = Some(Host::new("record-anchor", sdk(doctor())));
    let mut i = 0u64;
    c.bench_function("record-anchor.anchor/native", |b| {
        b.iter(|| {
            i += 1;
            let mut h = host.take().unwrap();
            h.tx_id = tx_id(i);
            let (r, h) = with_host(h, || record_anchor::RecordAnchor::invoke("anchor", &anchor_args(i)));
            host = Some(h);
            r.unwrap()
        })
    });
}

fn vm_memory(c: &mut Criterion) {
    let vm = Vm::<MemEnv>::new(VmConfig::default()).unwrap();
    let consent = vm.compile(phr_contracts::CONSENT).unwrap();
    let anchor = vm.compile(phr_contracts::RECORD_ANCHOR).unwrap();
    let mut env = Some(MemEnv { state: BTreeMap::new(), contracts: BTreeMap::new() });
    let mut run = |contract: &Arc<CompiledContract<MemEnv>>,
                   entry: Entry,
                   name: &str,
                   method: &str,
                   args: &str,
                   caller: Caller,
                   tx: u64| {
        let ctx =
            CallContext { read_only: entry == Entry::Query, ..CallContext::invoke(name, caller, tx_id(tx), 1, 0) };
        let (out, e) = vm.call(contract, entry, method, args, ctx, env.take().unwrap(), FUEL).unwrap();
        env = Some(e);
        assert!(matches!(out.result, CallResult::Ok(_)), "{:?}", out.result);
    };
    for (i, args) in consents().iter().enumerate() {
        run(&consent, Entry::Invoke, "consent", "create", &args.to_string(), patient(), i as u64 + 1);
    }
    let args = evaluate_args();
    c.bench_function("consent.evaluate/vm-memory", |b| {
        // Only the patient (or an auditor, or access-grant) may evaluate their consents.
        b.iter(|| run(&consent, Entry::Query, "consent", "evaluate", &args, patient(), 0))
    });
    let mut i = 0u64;
    c.bench_function("record-anchor.anchor/vm-memory", |b| {
        b.iter(|| {
            i += 1;
            run(&anchor, Entry::Invoke, "record-anchor", "anchor", &anchor_args(i), doctor(), i)
        })
    });
}

fn vm_rocksdb(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let admin = Keypair::generate();
    let node = Keypair::generate();
    let mut contracts = Vec::new();
    for (name, bytes) in phr_contracts::STANDARD {
        let file = format!("{name}.wasm");
        std::fs::write(dir.path().join(&file), bytes).unwrap();
        contracts.push(GenesisContract { name: name.into(), code_hash: phr_ledger::sha256(&[bytes]), file });
    }
    let genesis = Genesis {
        chain_id: "bench".into(),
        genesis_time_ms: 0,
        orgs: vec![Org { name: "stmarys".into(), admins: vec![admin.public_key()] }],
        nodes: vec![NodeInfo {
            id: "node0".into(),
            org: "stmarys".into(),
            public_key: node.public_key(),
            api_addr: "127.0.0.1:0".into(),
            peer_addr: "127.0.0.1:0".into(),
            tls_cert_sha256: phr_ledger::Hash32([7; 32]),
        }],
        params: Default::default(),
        contracts,
        policies: Default::default(),
    };
    let exec = Executor::open(&dir.path().join("data"), genesis, dir.path(), ExecutorOptions::default()).unwrap();
    let alice = Keypair::generate();
    let tx = |k: &Keypair, contract: &str, method: &str, args: String, nonce: u64| {
        TxBody {
            chain_id: "bench".into(),
            contract: contract.into(),
            method: method.into(),
            args,
            nonce,
            expiry_height: 1000,
            signer: k.public_key(),
        }
        .sign(k)
    };
    let mut txs = vec![tx(&alice, "identity", "enrol_patient", "{}".into(), 0)];
    for (i, a) in consents().iter().enumerate() {
        txs.push(tx(&alice, "consent", "create", a.to_string(), i as u64 + 1));
    }
    exec.apply(&Batch { proposer: "node0".into(), time_ms: 1, attestation: None, txs }, Vec::new()).unwrap();
    let args = json!({"patient": alice.id(), "actor": {"id": "cc".repeat(20), "org": "northclinic", "roles": ["physician"]}, "purpose": "TREAT", "data_class": "lab"}).to_string();
    // The query runs as the patient, who may evaluate her own consents.
    let reader = alice.public_key();
    c.bench_function("consent.evaluate/vm-rocksdb", |b| {
        b.iter_batched(
            || (),
            |_| {
                let out = exec.query(Some(&reader), "consent", "evaluate", &args).unwrap();
                assert!(matches!(out.result, CallResult::Ok(ref s) if s.contains("permit")));
            },
            BatchSize::SmallInput,
        )
    });
    let _ = TxEnv::at; // the query path above reads through TxEnv as of the last block
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = native, vm_memory, vm_rocksdb
}
/// Like `criterion_main!`, on a thread with the stack contract calls need
/// (phr_vm::stack), as the node's threads have: otherwise every call would
/// first move to a thread of its own, and the bench would time that.
fn main() {
    std::thread::Builder::new()
        .name("bench".into())
        .stack_size(phr_vm::CONTRACT_THREAD_STACK)
        .spawn(|| {
            phr_vm::mark_contract_stack();
            benches();
            Criterion::default().configure_from_args().final_summary();
        })
        .expect("spawn the bench thread")
        .join()
        .expect("the benches ran");
}
