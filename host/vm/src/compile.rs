//! Validation and compilation of contract components.

use crate::bindings::{plain::ContractPre, upgradable::UpgradableContractPre};
use crate::call::CallContext;
use crate::host::{HostEnv, HostState};
use crate::{cache, Vm};
use phr_ledger::Hash32;
use std::sync::Arc;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder};

/// The only imports a contract may have.
pub const ALLOWED_IMPORTS: [&str; 2] = ["phr:chaincode/types@0.2.0", "phr:chaincode/host@0.2.0"];

/// Why a component cannot be a contract. Deterministic: every node rejects the
/// same bytes with the same error.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    #[error("component is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error("import `{0}` is not allowed: a contract may import only {allowed}", allowed = ALLOWED_IMPORTS.join(" and "))]
    ForbiddenImport(String),
    #[error("does not match the phr:chaincode `contract` world: {0}")]
    WrongWorld(String),
    /// The engine could not link it against the host (its message).
    #[error("cannot be linked as a phr:chaincode contract: {0}")]
    Unlinkable(String),
    #[error("cannot be instantiated within the VM's limits: {0}")]
    WontInstantiate(String),
    #[error("over a limit: {0}")]
    OverLimit(String),
}

impl CompileError {
    /// What a receipt says: the project's own words, never a parser's or the
    /// engine's message (which an upgrade could change), so that the receipt of
    /// an install or commit of the same bytes stays the same bytes. The full
    /// error (`Display`) is for logs and the node's answers.
    pub fn receipt_message(&self) -> String {
        match self {
            CompileError::Invalid(_) => "not a valid WebAssembly component".to_string(),
            CompileError::Unlinkable(_) => "cannot be linked as a phr:chaincode contract".to_string(),
            CompileError::WontInstantiate(_) => "cannot be instantiated within the VM's limits".to_string(),
            // The project's own text, with numbers and names from the bytes.
            CompileError::TooLarge { .. }
            | CompileError::ForbiddenImport(_)
            | CompileError::WrongWorld(_)
            | CompileError::OverLimit(_) => self.to_string(),
        }
    }
}

pub(crate) enum Pre<E: HostEnv> {
    Plain(ContractPre<HostState<E>>),
    Upgradable(UpgradableContractPre<HostState<E>>),
}

/// A validated, compiled, pre-instantiated contract. Instantiating it for a
/// call is cheap (pooled memory, copy-on-write data).
pub struct CompiledContract<E: HostEnv> {
    pub code_hash: Hash32,
    /// Size of the component in bytes.
    pub size: usize,
    /// Whether the component exports `migrate`.
    pub has_migrate: bool,
    pub(crate) pre: Pre<E>,
}

impl<E: HostEnv> std::fmt::Debug for CompiledContract<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledContract")
            .field("code_hash", &self.code_hash)
            .field("size", &self.size)
            .field("has_migrate", &self.has_migrate)
            .finish()
    }
}

impl<E: HostEnv> Vm<E> {
    /// Check ([`Vm::inspect`]) and compile a contract component. Compiled code is
    /// taken from and put into the on-disk cache when one is configured.
    pub fn compile(self: &Arc<Self>, bytes: &[u8]) -> Result<Arc<CompiledContract<E>>, CompileError> {
        let code_hash = self.inspect(bytes)?.code_hash;
        let component = match cache::load(self.config.cache_dir.as_deref(), &self.engine, &code_hash) {
            Some(c) => c,
            None => {
                let c = Component::new(&self.engine, bytes).map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
                cache::store(self.config.cache_dir.as_deref(), &c, &code_hash);
                c
            }
        };
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            if !ALLOWED_IMPORTS.contains(&name) {
                return Err(CompileError::ForbiddenImport(name.to_string()));
            }
        }
        let has_migrate = ty
            .exports(&self.engine)
            .any(|(n, item)| n == "migrate" && matches!(item.ty, ComponentItem::ComponentFunc(_)));
        let instance_pre =
            self.linker.instantiate_pre(&component).map_err(|e| CompileError::Unlinkable(format!("{e:#}")))?;
        let pre = if has_migrate {
            Pre::Upgradable(
                UpgradableContractPre::new(instance_pre).map_err(|e| CompileError::Unlinkable(format!("{e:#}")))?,
            )
        } else {
            Pre::Plain(ContractPre::new(instance_pre).map_err(|e| CompileError::Unlinkable(format!("{e:#}")))?)
        };
        let compiled = CompiledContract { code_hash, size: bytes.len(), has_migrate, pre };
        self.trial_instantiate(&compiled)?;
        Ok(Arc::new(compiled))
    }

    /// Instantiate once without calling anything, so that a contract whose
    /// initial memory or tables exceed the limits is rejected now rather than at
    /// its first call.
    fn trial_instantiate(self: &Arc<Self>, c: &CompiledContract<E>) -> Result<(), CompileError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.config.memory_limit_bytes)
            .instances(16)
            .memories(2)
            .tables(8)
            .build();
        let state = HostState {
            env: None,
            ctx: CallContext::query("", phr_ledger::Caller::anonymous(), 0, 0),
            limits,
            events: Vec::new(),
            writes: 0,
            vm: self.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_fuel(1_000_000).map_err(|e| CompileError::WontInstantiate(e.to_string()))?;
        // Wait as long as it takes for an instance: a busy pool must never look
        // like a property of the code (the reserve makes the wait short).
        let r = match &c.pre {
            Pre::Plain(p) => crate::call::pooled(None, || p.instantiate(&mut store)).map(|_| ()),
            Pre::Upgradable(p) => crate::call::pooled(None, || p.instantiate(&mut store)).map(|_| ()),
        };
        r.map_err(|e| CompileError::WontInstantiate(format!("{e:#}")))
    }
}
