//! The executor: turns ordered batches into committed blocks.
//!
//! For each batch, in log order: verify signatures (in parallel, skipping those
//! checked at admission), then for each transaction in order check it is valid
//! in this block (chain, size, expiry, not committed before, signer enrolled,
//! contract known), resolve its signer, run the contract in the VM against the
//! transaction's view of state, and write its receipt. The block, receipts, state
//! writes, history, transaction index and applied height go to RocksDB in one
//! atomic write. A contract failure is a receipt; only a node fault is an error.
//!
//! ```no_run
//! # fn demo(genesis: phr_ledger::Genesis, dir: &std::path::Path, batch: phr_ledger::Batch) -> Result<(), Box<dyn std::error::Error>> {
//! use phr_executor::{Executor, ExecutorOptions};
//! let exec = Executor::open(dir, genesis, dir, ExecutorOptions::default())?;
//! let block = exec.apply(&batch, Vec::new())?;
//! println!("block {} with {} receipts", block.block.header.height, block.receipts.len());
//! # Ok(()) }
//! ```

mod admit;
mod apply;
pub mod code;
mod env;
pub mod explain;
mod genesis;
pub mod identity;
pub mod lifecycle;
mod native;
mod query;
pub mod roots;
mod sigcache;
pub mod system;
pub mod verify;
pub mod voters;

pub use admit::Rejection;
pub use apply::AppliedBlock;
pub use code::CodeCache;
pub use env::{BlockEffects, ReadMode, TxEnv};
pub use query::{QueryError, QueryOutput};
pub use system::{Approval, ChainPoint, CodeRecord, ContractRecord};

use parking_lot::{Mutex, RwLock};
use phr_ledger::{Genesis, Hash32};
use phr_state::{StateDb, StateError, StoreOptions};
use phr_vm::{Vm, VmConfig, VmFault};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A fault that stops the node: storage, VM setup, an inconsistent chain.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("storage: {0}")]
    State(#[from] StateError),
    #[error("vm: {0}")]
    Vm(#[from] VmFault),
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("this data directory holds chain {stored}, but the genesis file describes chain {configured}")]
    WrongChain { stored: Hash32, configured: Hash32 },
    #[error(
        "DIVERGENCE at height {height}: the proposer computed {what} {theirs}, this node computed {ours}. \
         This node stops applying blocks rather than fork: compare its blocks and receipts with a healthy node's (GET /v1/blocks/{height}?receipts=true)."
    )]
    Divergence { height: u64, what: &'static str, ours: Hash32, theirs: Hash32 },
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A client's call found every instance lent to clients in use: retry.
    #[error("{0}")]
    Busy(#[from] phr_vm::capacity::Busy),
    #[error(
        "the store was altered: {0}. This node refuses to serve it: restore the data directory from a backup, \
         or delete it and let the node catch up from the others (`phr audit replay --config` names what differs)."
    )]
    Tampered(String),
}

/// Local settings of the executor.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    pub store: StoreOptions,
    /// Where compiled contract code is cached (None: compile at every start).
    pub compile_cache: Option<PathBuf>,
    /// Instances the VM pool holds (block execution plus concurrent queries).
    pub max_instances: u32,
    /// Check the whole store against its own hashes when it is opened
    /// ([`verify::verify_store`]); a store that fails does not open.
    pub verify_store: bool,
    /// Open an existing store read-only (to explain or query a store a node
    /// holds open). Applying a block then fails.
    pub read_only: bool,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            store: StoreOptions::default(),
            compile_cache: None,
            max_instances: 128,
            verify_store: true,
            read_only: false,
        }
    }
}

/// The last committed block, as the executor knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tip {
    pub height: u64,
    pub block_hash: Hash32,
    pub time_ms: u64,
    pub state_root: Hash32,
    pub receipts_root: Hash32,
}

/// Executes blocks and answers queries for one node. Shared by reference:
/// queries and admission checks run concurrently with block application;
/// applications are serialized.
pub struct Executor {
    db: Arc<StateDb>,
    genesis: Genesis,
    code: Arc<CodeCache>,
    sigs: sigcache::SigCache,
    tip: RwLock<Tip>,
    apply_lock: Mutex<()>,
}

impl Executor {
    /// Open the store in `data_dir` for the chain of `genesis` (whose contract
    /// files are relative to `genesis_dir`), creating block 0 if the store is new.
    pub fn open(
        data_dir: &Path,
        genesis: Genesis,
        genesis_dir: &Path,
        opts: ExecutorOptions,
    ) -> Result<Arc<Self>, ExecError> {
        genesis.validate().map_err(|e| ExecError::Genesis(e.to_string()))?;
        let db = Arc::new(if opts.read_only {
            StateDb::open_read_only(data_dir)?
        } else {
            StateDb::open(data_dir, opts.store.clone())?
        });
        let vm = Vm::new(VmConfig {
            memory_limit_bytes: genesis.params.memory_limit_bytes as usize,
            max_instances: opts.max_instances,
            cache_dir: opts.compile_cache.clone(),
            max_code_bytes: genesis.params.max_code_bytes as usize,
            fuel_table: genesis.params.fuel_table,
        })?;
        let code = CodeCache::new(vm.clone());
        let applied = match db.applied()? {
            Some(m) => m,
            None => genesis::commit_genesis(&db, &code, &genesis, genesis_dir)?,
        };
        if applied.genesis_hash != genesis.hash() {
            return Err(ExecError::WrongChain { stored: applied.genesis_hash, configured: genesis.hash() });
        }
        if opts.verify_store {
            let started = std::time::Instant::now();
            let c = verify::verify_store(&db)?;
            tracing::info!(
                blocks = c.blocks,
                txs = c.txs,
                keys = c.keys,
                versions = c.versions,
                ms = started.elapsed().as_millis() as u64,
                "verified the store against its hashes"
            );
        }
        genesis::load_contracts(&db, &code)?;
        let tip = Tip {
            height: applied.height,
            block_hash: applied.block_hash,
            time_ms: applied.time_ms,
            state_root: applied.state_root,
            receipts_root: applied.receipts_root,
        };
        Ok(Arc::new(Executor {
            db,
            genesis,
            code,
            sigs: sigcache::SigCache::new(200_000),
            tip: RwLock::new(tip),
            apply_lock: Mutex::new(()),
        }))
    }

    /// The last committed block.
    pub fn tip(&self) -> Tip {
        self.tip.read().clone()
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn db(&self) -> &Arc<StateDb> {
        &self.db
    }

    /// Re-read the store after it was replaced under the executor (a snapshot
    /// was installed): the tip and the contracts serving each name.
    pub fn reload(&self) -> Result<(), ExecError> {
        let _serial = self.apply_lock.lock();
        let applied = self.db.applied()?.ok_or_else(|| ExecError::Corrupt("the store holds no chain".into()))?;
        if applied.genesis_hash != self.genesis.hash() {
            return Err(ExecError::WrongChain { stored: applied.genesis_hash, configured: self.genesis.hash() });
        }
        // A snapshot comes from a peer: check it like a store read from disk.
        verify::verify_store(&self.db)?;
        genesis::load_contracts(&self.db, &self.code)?;
        *self.tip.write() = Tip {
            height: applied.height,
            block_hash: applied.block_hash,
            time_ms: applied.time_ms,
            state_root: applied.state_root,
            receipts_root: applied.receipts_root,
        };
        Ok(())
    }

    /// The contract records on chain: which code serves each contract.
    pub fn contracts(&self) -> Result<Vec<ContractRecord>, ExecError> {
        genesis::contract_records(&self.db)
    }

    /// Compiled code by hash (shared with block execution).
    pub fn code_cache(&self) -> &Arc<CodeCache> {
        &self.code
    }
}
