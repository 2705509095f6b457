//! Block 0 from the genesis, and loading the contracts a store already holds.

use crate::env::TxEnv;
use crate::identity::{genesis_admin, record_key, IDENTITY};
use crate::registry::Registry;
use crate::system::{contract_key, genesis_key, node_key, org_key, ContractRecord, SYSTEM_NS};
use crate::{roots, ExecError};
use phr_ledger::{Block, BlockHeader, Genesis, Hash32};
use phr_state::{AppliedMeta, BlockCommit, StateDb, StateWrite};
use phr_vm::Vm;
use std::path::Path;
use std::sync::Arc;

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialize")
}

/// Validate the genesis contracts and commit block 0.
pub(crate) fn commit_genesis(
    db: &StateDb,
    vm: &Arc<Vm<TxEnv>>,
    g: &Genesis,
    dir: &Path,
) -> Result<AppliedMeta, ExecError> {
    let mut writes = Vec::new();
    let mut w = |ns: &str, key: Vec<u8>, value: Vec<u8>| {
        writes.push(StateWrite { namespace: ns.to_string(), key, value: Some(value), tx_index: 0 })
    };
    w(SYSTEM_NS, genesis_key(), g.hash().to_hex().into_bytes());
    for o in &g.orgs {
        w(SYSTEM_NS, org_key(&o.name), json(o));
        for admin in &o.admins {
            w(IDENTITY, record_key(&admin.id().to_hex()), json(&genesis_admin(admin, &o.name)));
        }
    }
    for n in &g.nodes {
        w(SYSTEM_NS, node_key(&n.id), json(n));
    }
    let mut code = Vec::new();
    for c in &g.contracts {
        let path = dir.join(&c.file);
        let bytes = std::fs::read(&path)
            .map_err(|e| ExecError::Genesis(format!("contract {}: cannot read {}: {e}", c.name, path.display())))?;
        let hash = phr_ledger::sha256(&[&bytes]);
        if hash != c.code_hash {
            return Err(ExecError::Genesis(format!(
                "contract {}: {} has SHA-256 {hash}, the genesis names {}",
                c.name,
                path.display(),
                c.code_hash
            )));
        }
        vm.compile(&bytes).map_err(|e| ExecError::Genesis(format!("contract {}: {e}", c.name)))?;
        let rec = ContractRecord { name: c.name.clone(), code_hash: hash, sequence: 1, since_height: 1 };
        w(SYSTEM_NS, contract_key(&c.name), json(&rec));
        code.push((hash, bytes));
    }
    // Within one transaction index, writes are sorted by namespace and key, as
    // for any transaction.
    writes.sort_by(|a, b| (&a.namespace, &a.key).cmp(&(&b.namespace, &b.key)));
    let state_root = roots::state_root(&Hash32::ZERO, 0, &writes);
    let receipts_root = roots::receipts_root(&[]);
    let header = BlockHeader {
        chain_id: g.chain_id.clone(),
        height: 0,
        prev_hash: Hash32::ZERO,
        time_ms: g.genesis_time_ms,
        proposer: "genesis".to_string(),
        tx_root: g.hash(),
        tx_count: 0,
        prev_state_root: Hash32::ZERO,
        prev_receipts_root: Hash32::ZERO,
    };
    let block = Block { header, txs: Vec::new() };
    let meta = AppliedMeta {
        height: 0,
        block_hash: block.hash(),
        time_ms: g.genesis_time_ms,
        state_root,
        receipts_root,
        genesis_hash: g.hash(),
        orderer_position: Vec::new(),
    };
    db.commit(BlockCommit {
        block: &block,
        receipts: &[],
        writes: &writes,
        code: &code,
        indexed_txs: &[],
        meta: meta.clone(),
    })?;
    tracing::info!(chain = %g.chain_id, genesis = %g.hash(), contracts = g.contracts.len(), "created block 0 from the genesis");
    Ok(meta)
}

/// The contract records committed in the store.
pub(crate) fn contract_records(db: &StateDb) -> Result<Vec<ContractRecord>, ExecError> {
    let rows = db.scan(SYSTEM_NS, b"contract/", b"contract0", 10_000)?;
    rows.into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v.value)
                .map_err(|e| ExecError::Corrupt(format!("contract record {}: {e}", String::from_utf8_lossy(&k))))
        })
        .collect()
}

/// Compile and register the code serving each contract.
pub(crate) fn load_contracts(db: &StateDb, vm: &Arc<Vm<TxEnv>>, registry: &Registry) -> Result<(), ExecError> {
    for rec in contract_records(db)? {
        let bytes = db
            .code(&rec.code_hash)?
            .ok_or_else(|| ExecError::Corrupt(format!("code {} of contract {} is missing", rec.code_hash, rec.name)))?;
        if phr_ledger::sha256(&[&bytes]) != rec.code_hash {
            return Err(ExecError::Corrupt(format!(
                "code of contract {} does not match its hash {}",
                rec.name, rec.code_hash
            )));
        }
        let compiled = vm
            .compile(&bytes)
            .map_err(|e| ExecError::Corrupt(format!("committed code of {} no longer compiles: {e}", rec.name)))?;
        registry.insert(&rec.name, compiled);
    }
    Ok(())
}
