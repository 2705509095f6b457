//! The compiled contracts serving each contract name.

use crate::env::TxEnv;
use parking_lot::RwLock;
use phr_vm::CompiledContract;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Contract name → compiled code now serving it. Filled at start-up from the
/// chain's contract records; code is compiled before it is registered, never
/// while a block is applied.
#[derive(Default)]
pub struct Registry {
    by_name: RwLock<BTreeMap<String, Arc<CompiledContract<TxEnv>>>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<Arc<CompiledContract<TxEnv>>> {
        self.by_name.read().get(name).cloned()
    }

    pub fn insert(&self, name: &str, contract: Arc<CompiledContract<TxEnv>>) {
        self.by_name.write().insert(name.to_string(), contract);
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.read().keys().cloned().collect()
    }
}
