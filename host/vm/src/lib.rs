//! The contract VM: wasmtime's component model, configured so that the same
//! code, arguments and state give the same result on every machine.
//!
//! - [`Vm::new`] builds one engine with the determinism rules of DESIGN.md: NaN
//!   canonicalization, no SIMD, no threads, a fixed set of Wasm proposals, fuel
//!   metering by a pinned cost table ([`fuel`]), a fixed memory limit.
//! - [`Vm::compile`] validates a component (only our imports, the contract
//!   exports, size limits), compiles it once per code hash (optionally through an
//!   on-disk cache) and pre-instantiates it.
//! - [`Vm::call`] runs `invoke`, `query` or `migrate` in a fresh pooled instance
//!   against a [`HostEnv`] supplied by the executor. A trap, running out of fuel or
//!   a contract error is an ordinary [`CallResult`]; only a fault of the node
//!   itself (its storage) is an `Err`.
//!
//! ```no_run
//! # fn demo<E: phr_vm::HostEnv>(env: E, component: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use phr_vm::{Vm, VmConfig, Entry, CallContext};
//! let vm = Vm::<E>::new(VmConfig::default())?;
//! let contract = vm.compile(component)?;
//! let ctx = CallContext::query("consent", phr_ledger::Caller::anonymous(), 1, 0);
//! let (outcome, _env) = vm.call(&contract, Entry::Query, "list", r#"{"patient":"..."}"#, ctx, env, 10_000_000)?;
//! println!("{:?} used {} fuel", outcome.result, outcome.fuel_used);
//! # Ok(()) }
//! ```

mod bindings;
pub mod cache;
mod call;
pub mod capacity;
mod compile;
mod config;
pub mod fuel;
mod host;
mod inspect;
pub mod limits;
pub mod stack;

pub use call::{CallContext, CallOutcome, CallResult, Entry};
pub use compile::{CompileError, CompiledContract};
pub use config::{baseline_target, VmConfig};
pub use host::{HistoryItem, HostEnv, HostFault, Rows};
pub use inspect::CodeFacts;
pub use stack::{mark_contract_stack, CONTRACT_THREAD_STACK};

use std::sync::Arc;

/// The VM: one engine, one linker with the host functions, and the settings
/// every call uses. Cheap to share (`Arc`) across threads.
pub struct Vm<E: HostEnv> {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) linker: wasmtime::component::Linker<host::HostState<E>>,
    pub(crate) config: VmConfig,
    clients: capacity::ClientSlots,
}

/// A failure of the node, not of a contract: the caller must stop.
#[derive(Debug, thiserror::Error)]
pub enum VmFault {
    #[error("engine setup: {0}")]
    Setup(String),
    #[error("host state: {0}")]
    Host(#[from] HostFault),
    #[error("instantiating a validated contract failed: {0}")]
    Instantiate(String),
}

impl<E: HostEnv> Vm<E> {
    /// Build the engine and linker.
    pub fn new(config: VmConfig) -> Result<Arc<Self>, VmFault> {
        if config.max_instances < capacity::MIN_INSTANCES {
            return Err(VmFault::Setup(format!(
                "max_instances is {}; at least {} are needed (the node's reserve and one client call tree)",
                config.max_instances,
                capacity::MIN_INSTANCES
            )));
        }
        let engine = config::engine(&config)?;
        let linker = host::linker::<E>(&engine)?;
        let clients = capacity::ClientSlots::new(config.max_instances);
        Ok(Arc::new(Vm { engine, linker, config, clients }))
    }

    /// Claim one call tree's worth of instances for a client's call (a query,
    /// an explanation), waiting at most `wait`. Hold the slot for the whole
    /// call; the node's own calls (block apply, install checks) take none, and
    /// the pool keeps room for them whatever clients do ([`capacity`]).
    pub fn client_slot(&self, wait: std::time::Duration) -> Result<capacity::ClientSlot<'_>, capacity::Busy> {
        self.clients.take(wait)
    }

    /// The settings this VM runs with.
    pub fn config(&self) -> &VmConfig {
        &self.config
    }
}
