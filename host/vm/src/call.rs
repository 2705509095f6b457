//! Running one contract call in a fresh instance.

use crate::compile::{CompiledContract, Pre};
use crate::host::{HostEnv, HostState, HostTrap};
use crate::{limits, Vm, VmFault};
use phr_ledger::{Caller, Event};
use std::sync::Arc;
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// Which export to call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Invoke,
    Query,
    /// `migrate(from_code_hash)`; a contract without the export succeeds at once.
    Migrate(String),
}

/// What the call runs in: whose namespace, who called, which transaction and block.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The contract running; its name is its state namespace.
    pub contract: String,
    pub caller: Caller,
    /// Hex id of the transaction; empty for a query.
    pub tx_id: String,
    pub height: u64,
    pub time_ms: u64,
    /// Writes trap; events trap unless this is a client's query.
    pub read_only: bool,
    /// A client's query (and the calls it makes): events are collected and
    /// returned with the result, never committed.
    pub client_query: bool,
    /// The contract whose nested `call` this is; `None` at depth 0.
    pub invoker: Option<String>,
    /// 0 for the transaction's own call, +1 per nested `call`.
    pub depth: u32,
}

impl CallContext {
    /// A transaction's call of `contract` by `caller`.
    pub fn invoke(contract: &str, caller: Caller, tx_id: String, height: u64, time_ms: u64) -> Self {
        CallContext {
            contract: contract.to_string(),
            caller,
            tx_id,
            height,
            time_ms,
            read_only: false,
            client_query: false,
            invoker: None,
            depth: 0,
        }
    }

    /// A client's read-only query of `contract` by `caller` (anonymous when the
    /// request was unsigned) at the given block.
    pub fn query(contract: &str, caller: Caller, height: u64, time_ms: u64) -> Self {
        CallContext {
            contract: contract.to_string(),
            caller,
            tx_id: String::new(),
            height,
            time_ms,
            read_only: true,
            client_query: true,
            invoker: None,
            depth: 0,
        }
    }

    /// The context of a nested read-only call of `contract`, made by this one.
    pub(crate) fn nested(&self, contract: &str) -> Self {
        CallContext {
            contract: contract.to_string(),
            read_only: true,
            invoker: Some(self.contract.clone()),
            depth: self.depth + 1,
            ..self.clone()
        }
    }
}

/// How a call ended. Every variant is deterministic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// JSON text returned by the contract.
    Ok(String),
    /// The contract's typed error (`code` in WIT kebab-case).
    Err {
        code: String,
        message: String,
    },
    OutOfFuel,
    /// A trap, with a reason that is the same on every machine.
    Trapped {
        reason: String,
    },
}

/// A finished call: its result, the fuel it burnt, the events it emitted (kept
/// by the caller only if the result is `Ok`).
#[derive(Clone, Debug)]
pub struct CallOutcome {
    pub result: CallResult,
    pub fuel_used: u64,
    pub events: Vec<Event>,
}

/// The error code of a WIT error, in kebab-case.
fn code_name(c: crate::bindings::types::ErrorCode) -> &'static str {
    use crate::bindings::types::ErrorCode as C;
    match c {
        C::BadRequest => "bad-request",
        C::Unauthorized => "unauthorized",
        C::NotFound => "not-found",
        C::Conflict => "conflict",
        C::UnknownMethod => "unknown-method",
        C::Denied => "denied",
    }
}

/// Cut a message to `max` bytes on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The reason shown for a wasm trap. Fixed strings, not wasmtime's messages.
fn trap_reason(t: &Trap) -> &'static str {
    match t {
        Trap::StackOverflow => "call stack exhausted",
        Trap::MemoryOutOfBounds => "out-of-bounds memory access",
        Trap::TableOutOfBounds => "out-of-bounds table access",
        Trap::IndirectCallToNull => "call of a null table entry",
        Trap::BadSignature => "indirect call signature mismatch",
        Trap::IntegerOverflow => "integer overflow",
        Trap::IntegerDivisionByZero => "integer division by zero",
        Trap::BadConversionToInteger => "invalid conversion to integer",
        Trap::UnreachableCodeReached => "unreachable executed (a panic or abort in the contract)",
        Trap::OutOfFuel => "out of fuel",
        _ => "wasm trap",
    }
}

type Raw = wasmtime::Result<Result<String, crate::bindings::types::Error>>;

/// How long a call waits for a pooled instance before it is a node fault.
const POOL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// A validated contract failed to instantiate. A trap (fuel, memory) is the
/// contract's, and deterministic; anything else (an exhausted instance pool) is
/// the node's and must not become a receipt.
fn instantiation_failed(e: wasmtime::Error) -> Result<Raw, VmFault> {
    if e.downcast_ref::<Trap>().is_some() {
        Ok(Err(e))
    } else {
        Err(VmFault::Instantiate(e.to_string()))
    }
}

/// Instantiate, waiting while every pooled instance is in use: a full pool is
/// the node's momentary state, and must decide neither a receipt nor whether
/// code compiles. The node's own calls find room (clients cannot take the
/// reserve, capacity.rs), so waiting is brief; after `patience` (if any) it
/// gives up with an error the caller treats as a node fault.
pub(crate) fn pooled<T>(
    patience: Option<std::time::Duration>,
    mut instantiate: impl FnMut() -> wasmtime::Result<T>,
) -> wasmtime::Result<T> {
    let mut waited = std::time::Duration::ZERO;
    loop {
        match instantiate() {
            Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() && patience.is_none_or(|p| waited < p) => {
                let pause = std::time::Duration::from_millis(5);
                std::thread::sleep(pause);
                waited += pause;
            }
            other => return other,
        }
    }
}

impl<E: HostEnv> Vm<E> {
    /// Call `entry` of `contract` with `method` and JSON `args`, in the context
    /// `ctx`, against `env`, with at most `fuel`. The environment comes back with
    /// the call's writes in it; discarding them on failure is the caller's job.
    ///
    /// A top-level call runs on a native stack that holds the deepest call tree
    /// the limits allow ([`crate::stack`]), so a contract exhausting its stack at
    /// every nesting level ends in a `trapped` result, never a crash.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        self: &Arc<Self>,
        contract: &CompiledContract<E>,
        entry: Entry,
        method: &str,
        args: &str,
        ctx: CallContext,
        env: E,
        fuel: u64,
    ) -> Result<(CallOutcome, E), VmFault> {
        if ctx.depth > 0 {
            return self.call_here(contract, entry, method, args, ctx, env, fuel);
        }
        crate::stack::on_contract_stack(move || self.call_here(contract, entry, method, args, ctx, env, fuel))
    }

    #[allow(clippy::too_many_arguments)]
    fn call_here(
        self: &Arc<Self>,
        contract: &CompiledContract<E>,
        entry: Entry,
        method: &str,
        args: &str,
        ctx: CallContext,
        env: E,
        fuel: u64,
    ) -> Result<(CallOutcome, E), VmFault> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.config.memory_limit_bytes)
            .instances(16)
            .memories(2)
            .tables(8)
            .trap_on_grow_failure(false)
            .build();
        let state = HostState { env: Some(env), ctx, limits, events: Vec::new(), writes: 0, vm: self.clone() };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_fuel(fuel).map_err(|e| VmFault::Setup(e.to_string()))?;

        let raw: Raw = match &contract.pre {
            Pre::Plain(pre) => match pooled(Some(POOL_PATIENCE), || pre.instantiate(&mut store)) {
                Err(e) => instantiation_failed(e)?,
                Ok(inst) => match &entry {
                    Entry::Invoke => inst.call_invoke(&mut store, method, args),
                    Entry::Query => inst.call_query(&mut store, method, args),
                    Entry::Migrate(_) => Ok(Ok(String::new())),
                },
            },
            Pre::Upgradable(pre) => match pooled(Some(POOL_PATIENCE), || pre.instantiate(&mut store)) {
                Err(e) => instantiation_failed(e)?,
                Ok(inst) => match &entry {
                    Entry::Invoke => inst.call_invoke(&mut store, method, args),
                    Entry::Query => inst.call_query(&mut store, method, args),
                    Entry::Migrate(from) => inst.call_migrate(&mut store, from).map(|r| r.map(|()| String::new())),
                },
            },
        };

        let left = store.get_fuel().unwrap_or(0);
        let mut fuel_used = fuel.saturating_sub(left);
        let state = store.into_data();
        let result = match raw {
            Ok(Ok(out)) if out.len() > limits::MAX_OUTPUT_BYTES => {
                CallResult::Trapped { reason: format!("result larger than {} bytes", limits::MAX_OUTPUT_BYTES) }
            }
            Ok(Ok(out)) => CallResult::Ok(out),
            Ok(Err(e)) => CallResult::Err { code: code_name(e.code).to_string(), message: cut(e.message, 4096) },
            Err(e) => {
                if let Some(h) = e.downcast_ref::<HostTrap>() {
                    match h {
                        HostTrap::Fault(f) => return Err(VmFault::Host(f.clone())),
                        HostTrap::OutOfFuel => CallResult::OutOfFuel,
                        HostTrap::Broke(m) => CallResult::Trapped { reason: m.clone() },
                        HostTrap::Nested(m) => CallResult::Trapped { reason: format!("nested call trapped: {m}") },
                    }
                } else if let Some(t) = e.downcast_ref::<Trap>() {
                    match t {
                        Trap::OutOfFuel => CallResult::OutOfFuel,
                        Trap::StackOverflow => {
                            // How deep the native stack reaches depends on the machine
                            // code, so the fuel burnt until then is not the same on every
                            // machine. Charge everything instead.
                            fuel_used = fuel;
                            CallResult::Trapped { reason: trap_reason(t).to_string() }
                        }
                        _ => CallResult::Trapped { reason: trap_reason(t).to_string() },
                    }
                } else if state.env.is_none() {
                    return Err(VmFault::Host(crate::HostFault("environment lost in a failed call".into())));
                } else {
                    // Not a trap: the guest broke the canonical ABI (bad string,
                    // bad pointer from realloc) or could not be instantiated.
                    // The engine's message goes to the log only: receipts hold the
                    // project's words (an engine upgrade must not change them).
                    tracing::debug!(target: "contract", "a call broke the component ABI: {:#}", e);
                    CallResult::Trapped { reason: "contract broke the component ABI".to_string() }
                }
            }
        };
        let env = state.env.ok_or_else(|| VmFault::Host(crate::HostFault("environment lost".into())))?;
        let events = if matches!(result, CallResult::Ok(_)) { state.events } else { Vec::new() };
        Ok((CallOutcome { result, fuel_used, events }, env))
    }
}
