//! Block 0 from the genesis, and loading the contracts a store already holds.

use crate::code::CodeCache;
use crate::identity::{directory_key, genesis_admin, genesis_node, record_key, IDENTITY};
use crate::system::{
    code_key, contract_key, genesis_key, node_key, org_key, Approval, ChainPoint, CodeRecord, ContractRecord,
    CONTRACTS_END, CONTRACTS_START, SYSTEM_NS,
};
use crate::{roots, ExecError};
use phr_ledger::{Block, BlockHeader, Genesis, Hash32};
use phr_state::{AppliedMeta, BlockCommit, StateDb, StateWrite};
use std::path::Path;

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialize")
}

/// Validate the genesis contracts and commit block 0.
pub(crate) fn commit_genesis(
    db: &StateDb,
    cache: &CodeCache,
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
            w(IDENTITY, directory_key(&admin.id().to_hex()), Vec::new());
        }
    }
    for n in &g.nodes {
        w(SYSTEM_NS, node_key(&n.id), json(n));
        w(IDENTITY, record_key(&n.public_key.id().to_hex()), json(&genesis_node(&n.public_key, &n.org)));
        w(IDENTITY, directory_key(&n.public_key.id().to_hex()), Vec::new());
    }
    let mut code = Vec::new();
    let genesis_point = ChainPoint { height: 0, tx_index: 0 };
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
        let facts = cache.vm().inspect(&bytes).map_err(|e| ExecError::Genesis(format!("contract {}: {e}", c.name)))?;
        let compiled = cache
            .get(&hash, || Ok::<_, ExecError>(Some(bytes.clone())))?
            .expect("bytes were given")
            .map_err(|e| ExecError::Genesis(format!("contract {}: {e}", c.name)))?;
        let rec = ContractRecord {
            name: c.name.clone(),
            code_hash: hash,
            sequence: 1,
            committed_at: genesis_point,
            committed_tx: String::new(),
            previous_code_hash: None,
            approvals: Vec::new(),
            migrated: false,
        };
        w(SYSTEM_NS, contract_key(&c.name), json(&rec));
        let code_rec = CodeRecord {
            code_hash: hash,
            size: bytes.len() as u64,
            modules: facts.modules as u64,
            functions: facts.functions,
            has_migrate: compiled.has_migrate,
            installed_at: genesis_point,
            installed_tx: String::new(),
            installed_by: "genesis".to_string(),
            org: None,
        };
        w(SYSTEM_NS, code_key(&hash), json(&code_rec));
        if !code.iter().any(|(h, _)| *h == hash) {
            code.push((hash, bytes));
        }
    }
    // Within one transaction index, writes are sorted by namespace and key, as
    // for any transaction.
    writes.sort_by(|a, b| (&a.namespace, &a.key).cmp(&(&b.namespace, &b.key)));
    writes.dedup_by(|a, b| a.namespace == b.namespace && a.key == b.key);
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
    records(db, CONTRACTS_START, CONTRACTS_END)
}

fn records<T: serde::de::DeserializeOwned>(db: &StateDb, start: &[u8], end: &[u8]) -> Result<Vec<T>, ExecError> {
    let rows = db.scan(SYSTEM_NS, start, end, 100_000)?;
    rows.into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v.value)
                .map_err(|e| ExecError::Corrupt(format!("system record {}: {e}", String::from_utf8_lossy(&k))))
        })
        .collect()
}

/// The committed bytes of `hash`, checked against it.
pub(crate) fn stored_code(db: &StateDb, hash: &Hash32) -> Result<Option<Vec<u8>>, ExecError> {
    let Some(bytes) = db.code(hash)? else { return Ok(None) };
    if phr_ledger::sha256(&[&bytes]) != *hash {
        return Err(ExecError::Corrupt(format!("stored code {hash} does not match its hash")));
    }
    Ok(Some(bytes))
}

/// Compile the code serving each contract now (so that the first block does
/// not wait for it), and in the background the code that approvals name.
pub(crate) fn load_contracts(db: &StateDb, cache: &CodeCache) -> Result<(), ExecError> {
    for rec in contract_records(db)? {
        let compiled = cache
            .get(&rec.code_hash, || stored_code(db, &rec.code_hash))?
            .ok_or_else(|| ExecError::Corrupt(format!("code {} of contract {} is missing", rec.code_hash, rec.name)))?;
        if let Err(e) = compiled {
            return Err(ExecError::Corrupt(format!("committed code of {} no longer compiles: {e}", rec.name)));
        }
    }
    let approvals: Vec<Approval> = records(db, b"approval/", b"approval0")?;
    for a in approvals {
        if !cache.is_ready(&a.code_hash) {
            if let Some(bytes) = stored_code(db, &a.code_hash)? {
                cache.prepare(a.code_hash, bytes);
            }
        }
    }
    Ok(())
}
