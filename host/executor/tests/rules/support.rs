//! A chain on a real RocksDB store with the real contract components, driven
//! block by block through the executor.

use phr_executor::{Executor, ExecutorOptions};
use phr_ledger::{Batch, ChainParams, Genesis, GenesisContract, Keypair, NodeInfo, Org, Receipt, TxBody, TxStatus};
use serde_json::Value;
use std::sync::Arc;

pub struct Chain {
    pub exec: Arc<Executor>,
    pub admins: Vec<(String, Keypair)>,
    /// The key of the genesis node `node0` (of the first organisation), enrolled as its node.
    pub node: Keypair,
    pub dir: tempfile::TempDir,
    nonce: u64,
}

pub fn contracts() -> Vec<(&'static str, &'static [u8])> {
    let mut c: Vec<(&str, &[u8])> = phr_contracts::STANDARD.to_vec();
    c.push(("runaway", phr_contracts::RUNAWAY));
    c
}

/// The keys and components a chain starts with.
struct Setup<'a> {
    admins: Vec<(String, Keypair)>,
    node: Keypair,
    contracts: Vec<(&'static str, &'a [u8])>,
}

impl<'a> Setup<'a> {
    fn random(orgs: &[&str], contracts: Vec<(&'static str, &'a [u8])>) -> Self {
        let admins = orgs.iter().map(|o| (o.to_string(), Keypair::generate())).collect();
        Setup { admins, node: Keypair::generate(), contracts }
    }
}

/// The key whose secret is 32 bytes of `b`.
pub fn fixed_key(b: u8) -> Keypair {
    Keypair::from_secret(&[b; 32]).unwrap()
}

impl Chain {
    /// A chain of `orgs` organisations with the standard contracts and `runaway`.
    pub fn new(orgs: &[&str]) -> Chain {
        Self::with_cache(orgs, std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compile-cache"))
    }

    /// Like [`Chain::new`], compiling through the cache in `cache`.
    pub fn with_cache(orgs: &[&str], cache: std::path::PathBuf) -> Chain {
        let setup = Setup::random(orgs, contracts());
        Self::build(setup, cache, ExecutorOptions::default().max_instances, ChainParams::default())
    }

    /// A chain whose every byte is fixed: keys from fixed secrets (admins
    /// `[10 + i; 32]`, the node `[1; 32]`) and the components `contracts`.
    pub fn fixed(orgs: &[&str], contracts: Vec<(&'static str, &[u8])>) -> Chain {
        let admins = orgs.iter().enumerate().map(|(i, o)| (o.to_string(), fixed_key(10 + i as u8))).collect();
        let setup = Setup { admins, node: fixed_key(1), contracts };
        let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
        Self::build(setup, cache, ExecutorOptions::default().max_instances, ChainParams::default())
    }

    /// Like [`Chain::new`], with a pool of `max_instances` contract instances
    /// and `fuel_per_tx` for each call.
    pub fn with_pool(orgs: &[&str], max_instances: u32, fuel_per_tx: u64) -> Chain {
        let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
        let setup = Setup::random(orgs, contracts());
        Self::build(setup, cache, max_instances, ChainParams { fuel_per_tx, ..ChainParams::default() })
    }

    /// A chain of `orgs` with the standard contracts and `params`, or why the
    /// executor refused to open it.
    pub fn open_with(orgs: &[&str], params: ChainParams) -> Result<Chain, phr_executor::ExecError> {
        let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compile-cache");
        Self::try_build(Setup::random(orgs, contracts()), cache, ExecutorOptions::default().max_instances, params)
    }

    fn build(setup: Setup, cache: std::path::PathBuf, max_instances: u32, params: ChainParams) -> Chain {
        Self::try_build(setup, cache, max_instances, params).unwrap()
    }

    fn try_build(
        setup: Setup,
        cache: std::path::PathBuf,
        max_instances: u32,
        params: ChainParams,
    ) -> Result<Chain, phr_executor::ExecError> {
        let dir = tempfile::tempdir().unwrap();
        let Setup { admins, node: node_key, contracts } = setup;
        let mut list = Vec::new();
        for (name, bytes) in contracts {
            let file = format!("{name}.wasm");
            std::fs::write(dir.path().join(&file), bytes).unwrap();
            list.push(GenesisContract { name: name.to_string(), code_hash: phr_ledger::sha256(&[bytes]), file });
        }
        let genesis = Genesis {
            chain_id: "test-chain".into(),
            genesis_time_ms: 1_700_000_000_000,
            orgs: admins.iter().map(|(n, k)| Org { name: n.clone(), admins: vec![k.public_key()] }).collect(),
            nodes: vec![NodeInfo {
                id: "node0".into(),
                org: admins[0].0.clone(),
                public_key: node_key.public_key(),
                api_addr: "127.0.0.1:0".into(),
                peer_addr: "127.0.0.1:0".into(),
                tls_cert_sha256: phr_ledger::Hash32([7; 32]),
            }],
            params,
            contracts: list,
            policies: Default::default(),
        };
        let opts = ExecutorOptions {
            store: phr_state::StoreOptions { sync_writes: false, ..Default::default() },
            compile_cache: Some(cache),
            max_instances,
            ..Default::default()
        };
        let exec = Executor::open(&dir.path().join("data"), genesis, dir.path(), opts)?;
        Ok(Chain { exec, admins, node: node_key, dir, nonce: 0 })
    }

    pub fn admin(&self, org: &str) -> &Keypair {
        &self.admins.iter().find(|(n, _)| n == org).unwrap().1
    }

    pub fn tx(&mut self, key: &Keypair, contract: &str, method: &str, args: Value) -> phr_ledger::SignedTx {
        self.nonce += 1;
        TxBody {
            chain_id: "test-chain".into(),
            contract: contract.into(),
            method: method.into(),
            args: args.to_string(),
            nonce: self.nonce,
            expiry_height: self.exec.tip().height + 100,
            signer: key.public_key(),
        }
        .sign(key)
    }

    /// Apply one block holding `txs` at `time_ms` and return the receipts.
    pub fn block_at(&mut self, txs: Vec<phr_ledger::SignedTx>, time_ms: u64) -> Vec<Receipt> {
        let batch = Batch { proposer: "node0".into(), time_ms, attestation: None, txs };
        self.exec.apply(&batch, Vec::new()).unwrap().receipts
    }

    pub fn block(&mut self, txs: Vec<phr_ledger::SignedTx>) -> Vec<Receipt> {
        let t = self.exec.tip().time_ms + 1000;
        self.block_at(txs, t)
    }

    /// Send one transaction in its own block.
    pub fn send(&mut self, key: &Keypair, contract: &str, method: &str, args: Value) -> Receipt {
        let tx = self.tx(key, contract, method, args);
        self.block(vec![tx]).pop().unwrap()
    }

    /// Send one transaction that must succeed; return its JSON output.
    pub fn ok(&mut self, key: &Keypair, contract: &str, method: &str, args: Value) -> Value {
        let r = self.send(key, contract, method, args);
        assert_eq!(r.status, TxStatus::Ok, "{contract}.{method} failed: {:?}", r.status);
        serde_json::from_str(&r.output).unwrap()
    }

    /// Send one transaction that must be rejected by the contract with `code`.
    pub fn rejected(&mut self, key: &Keypair, contract: &str, method: &str, args: Value, code: &str) -> String {
        let r = self.send(key, contract, method, args);
        match r.status {
            TxStatus::Rejected { code: c, message } if c == code => message,
            other => panic!("{contract}.{method}: expected rejection {code}, got {other:?}"),
        }
    }

    /// A read-only query by `reader` that must succeed.
    pub fn query(&self, reader: &Keypair, contract: &str, method: &str, args: Value) -> Value {
        match self.query_out(Some(reader), contract, method, args).result {
            phr_vm::CallResult::Ok(out) => serde_json::from_str(&out).unwrap(),
            other => panic!("{contract}.{method} query failed: {other:?}"),
        }
    }

    /// A read-only query by `reader` (anonymous when `None`), whatever its result.
    pub fn query_out(
        &self,
        reader: Option<&Keypair>,
        contract: &str,
        method: &str,
        args: Value,
    ) -> phr_executor::QueryOutput {
        let key = reader.map(|k| k.public_key());
        self.exec.query(key.as_ref(), contract, method, &args.to_string()).unwrap()
    }

    /// Enrol a new patient and return their key.
    pub fn patient(&mut self) -> Keypair {
        let k = Keypair::generate();
        self.ok(&k, "identity", "enrol_patient", serde_json::json!({}));
        k
    }

    /// Enrol a new auditor, approved by the admins of a majority of the organisations.
    pub fn auditor(&mut self) -> Keypair {
        let k = Keypair::generate();
        let admins: Vec<Keypair> = self.admins.iter().map(|(_, a)| a.clone()).collect();
        for admin in &admins[..admins.len() / 2 + 1] {
            self.ok(admin, "identity", "approve_auditor", serde_json::json!({"public_key": k.public_key()}));
        }
        let enrolled = self.exec.caller_of(&k.public_key()).unwrap();
        assert_eq!(enrolled.map(|c| c.kind), Some(phr_ledger::CallerKind::Auditor));
        k
    }

    /// Enrol a new practitioner of `org` with `roles`.
    pub fn practitioner(&mut self, org: &str, roles: &[&str]) -> Keypair {
        let k = Keypair::generate();
        let admin = self.admin(org).clone();
        self.ok(
            &admin,
            "identity",
            "enrol_practitioner",
            serde_json::json!({"public_key": k.public_key(), "roles": roles}),
        );
        k
    }
}

pub fn id(k: &Keypair) -> String {
    k.id().to_hex()
}

pub fn sha(data: &str) -> String {
    phr_ledger::sha256(&[data.as_bytes()]).to_hex()
}
