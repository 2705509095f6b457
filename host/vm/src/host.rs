//! The host side of `phr:chaincode/host`: what a contract may ask of the node.

use crate::bindings::types;
use crate::call::{CallContext, CallResult, Entry};
use crate::compile::CompiledContract;
use crate::{fuel, limits, Vm, VmFault};
use phr_ledger::Event;
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime::{Engine, StoreContextMut, StoreLimits};

/// A failure of the node's own state while serving a contract (for example a
/// storage error). It is never a contract's fault and stops the node.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HostFault(pub String);

/// One committed version of a key, as `history` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryItem {
    pub height: u64,
    pub tx_index: u32,
    pub value: Option<Vec<u8>>,
}

/// Keys and values, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// The state a contract call reads and writes, supplied by the executor.
///
/// Reads must see the writes made earlier in the same transaction and block.
/// `ns` is the namespace of the contract running, chosen by the VM: an
/// implementation must keep namespaces apart. The VM enforces read-only calls,
/// limits and fuel; the environment only stores.
pub trait HostEnv: Send + Sized + 'static {
    fn get(&mut self, ns: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostFault>;
    fn put(&mut self, ns: &str, key: &[u8], value: &[u8]) -> Result<(), HostFault>;
    fn delete(&mut self, ns: &str, key: &[u8]) -> Result<(), HostFault>;
    /// Keys in `[start, end)` (empty `end`: unbounded), ascending, at most `limit`.
    fn scan(&mut self, ns: &str, start: &[u8], end: &[u8], limit: u32) -> Result<Rows, HostFault>;
    /// Committed versions, newest first, at most `limit`.
    fn history(&mut self, ns: &str, key: &[u8], limit: u32) -> Result<Vec<HistoryItem>, HostFault>;
    /// The compiled contract serving `name` at this point of the chain (seeing
    /// an upgrade committed earlier in the same block), for a nested `call`.
    /// `None` when no contract has that name.
    fn resolve(&mut self, name: &str) -> Result<Option<Arc<CompiledContract<Self>>>, HostFault>;
}

/// Why a host function stopped the contract.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostTrap {
    #[error("out of fuel")]
    OutOfFuel,
    #[error("{0}")]
    Broke(String),
    #[error("nested call trapped: {0}")]
    Nested(String),
    #[error("node fault: {0}")]
    Fault(HostFault),
}

fn broke(msg: String) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap::Broke(msg))
}

/// What a store carries for one call.
pub(crate) struct HostState<E: HostEnv> {
    /// Taken out while a nested call runs with it.
    pub env: Option<E>,
    pub ctx: CallContext,
    pub limits: StoreLimits,
    pub events: Vec<Event>,
    pub writes: usize,
    pub vm: Arc<Vm<E>>,
}

impl<E: HostEnv> HostState<E> {
    fn env(&mut self) -> wasmtime::Result<&mut E> {
        self.env.as_mut().ok_or_else(|| wasmtime::Error::new(HostTrap::Fault(HostFault("environment lost".into()))))
    }
}

fn charge<E: HostEnv>(cx: &mut StoreContextMut<'_, HostState<E>>, cost: u64) -> wasmtime::Result<()> {
    let left = cx.get_fuel()?;
    if left < cost {
        cx.set_fuel(0)?;
        return Err(wasmtime::Error::new(HostTrap::OutOfFuel));
    }
    cx.set_fuel(left - cost)
}

fn fault(f: HostFault) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap::Fault(f))
}

fn check_key(key: &[u8]) -> wasmtime::Result<()> {
    if key.is_empty() || key.len() > limits::MAX_KEY_BYTES {
        return Err(broke(format!("state keys must be 1 to {} bytes, got {}", limits::MAX_KEY_BYTES, key.len())));
    }
    Ok(())
}

fn check_writable<E: HostEnv>(st: &mut HostState<E>, what: &str) -> wasmtime::Result<()> {
    if st.ctx.read_only {
        return Err(broke(format!("`{what}` is not allowed in a read-only call")));
    }
    st.writes += 1;
    if st.writes > limits::MAX_WRITES {
        return Err(broke(format!("more than {} writes in one transaction", limits::MAX_WRITES)));
    }
    Ok(())
}

fn error_code(code: &str) -> types::ErrorCode {
    use types::ErrorCode as C;
    match code {
        "unauthorized" => C::Unauthorized,
        "not-found" => C::NotFound,
        "conflict" => C::Conflict,
        "unknown-method" => C::UnknownMethod,
        "denied" => C::Denied,
        _ => C::BadRequest,
    }
}

/// The linker with every host function of `phr:chaincode/host@0.2.0`.
pub(crate) fn linker<E: HostEnv>(engine: &Engine) -> Result<Linker<HostState<E>>, VmFault> {
    let mut linker = Linker::<HostState<E>>::new(engine);
    define(&mut linker).map_err(|e| VmFault::Setup(e.to_string()))?;
    Ok(linker)
}

type Cx<'a, E> = StoreContextMut<'a, HostState<E>>;

fn define<E: HostEnv>(linker: &mut Linker<HostState<E>>) -> wasmtime::Result<()> {
    linker.instance("phr:chaincode/types@0.2.0")?;
    let mut host = linker.instance("phr:chaincode/host@0.2.0")?;

    host.func_wrap("get", |mut cx: Cx<'_, E>, (key,): (Vec<u8>,)| {
        check_key(&key)?;
        charge(&mut cx, fuel::GET + key.len() as u64 * fuel::PER_BYTE_READ)?;
        let st = cx.data_mut();
        let ns = st.ctx.contract.clone();
        let value = st.env()?.get(&ns, &key).map_err(fault)?;
        if let Some(v) = &value {
            charge(&mut cx, v.len() as u64 * fuel::PER_BYTE_READ)?;
        }
        Ok((value,))
    })?;

    host.func_wrap("put", |mut cx: Cx<'_, E>, (key, value): (Vec<u8>, Vec<u8>)| {
        check_key(&key)?;
        if value.len() > limits::MAX_VALUE_BYTES {
            return Err(broke(format!(
                "state values may be at most {} bytes, got {}",
                limits::MAX_VALUE_BYTES,
                value.len()
            )));
        }
        charge(&mut cx, fuel::PUT + (key.len() + value.len()) as u64 * fuel::PER_BYTE_WRITTEN)?;
        let st = cx.data_mut();
        check_writable(st, "put")?;
        let ns = st.ctx.contract.clone();
        st.env()?.put(&ns, &key, &value).map_err(fault)?;
        Ok(())
    })?;

    host.func_wrap("delete", |mut cx: Cx<'_, E>, (key,): (Vec<u8>,)| {
        check_key(&key)?;
        charge(&mut cx, fuel::DELETE + key.len() as u64 * fuel::PER_BYTE_WRITTEN)?;
        let st = cx.data_mut();
        check_writable(st, "delete")?;
        let ns = st.ctx.contract.clone();
        st.env()?.delete(&ns, &key).map_err(fault)?;
        Ok(())
    })?;

    host.func_wrap("scan", |mut cx: Cx<'_, E>, (start, end, limit): (Vec<u8>, Vec<u8>, u32)| {
        if start.len() > limits::MAX_KEY_BYTES || end.len() > limits::MAX_KEY_BYTES {
            return Err(broke("scan bounds longer than a key".to_string()));
        }
        let limit = limit.min(limits::MAX_SCAN_ENTRIES);
        charge(&mut cx, fuel::SCAN)?;
        let st = cx.data_mut();
        let ns = st.ctx.contract.clone();
        let rows = st.env()?.scan(&ns, &start, &end, limit).map_err(fault)?;
        let bytes: usize = rows.iter().map(|(k, v)| k.len() + v.len()).sum();
        charge(&mut cx, rows.len() as u64 * fuel::PER_ENTRY + bytes as u64 * fuel::PER_BYTE_READ)?;
        let out: Vec<types::Entry> = rows.into_iter().map(|(key, value)| types::Entry { key, value }).collect();
        Ok((out,))
    })?;

    host.func_wrap("history", |mut cx: Cx<'_, E>, (key, limit): (Vec<u8>, u32)| {
        check_key(&key)?;
        let limit = limit.min(limits::MAX_SCAN_ENTRIES);
        charge(&mut cx, fuel::SCAN)?;
        let st = cx.data_mut();
        let ns = st.ctx.contract.clone();
        let rows = st.env()?.history(&ns, &key, limit).map_err(fault)?;
        let bytes: usize = rows.iter().map(|h| h.value.as_ref().map_or(0, |v| v.len())).sum();
        charge(&mut cx, rows.len() as u64 * fuel::PER_ENTRY + bytes as u64 * fuel::PER_BYTE_READ)?;
        let out: Vec<types::Version> = rows
            .into_iter()
            .map(|h| types::Version { height: h.height, tx_index: h.tx_index, value: h.value })
            .collect();
        Ok((out,))
    })?;

    host.func_wrap("emit", |mut cx: Cx<'_, E>, (event,): (types::Event,)| {
        let size = event.name.len() + event.payload.len() + event.topics.iter().map(|t| t.len()).sum::<usize>();
        charge(&mut cx, fuel::EMIT + size as u64 * fuel::PER_BYTE_WRITTEN)?;
        let st = cx.data_mut();
        if st.ctx.read_only && !st.ctx.client_query {
            return Err(broke("`emit` is not allowed in a read-only call".to_string()));
        }
        if event.name.is_empty() || event.name.len() > limits::MAX_EVENT_NAME {
            return Err(broke(format!("event names must be 1 to {} bytes", limits::MAX_EVENT_NAME)));
        }
        if event.payload.len() > limits::MAX_EVENT_PAYLOAD {
            return Err(broke(format!("event payloads may be at most {} bytes", limits::MAX_EVENT_PAYLOAD)));
        }
        if event.topics.len() > limits::MAX_TOPICS || event.topics.iter().any(|t| t.len() > limits::MAX_TOPIC_BYTES) {
            return Err(broke(format!(
                "an event may have at most {} topics of at most {} bytes",
                limits::MAX_TOPICS,
                limits::MAX_TOPIC_BYTES
            )));
        }
        let max = if st.ctx.client_query { limits::MAX_QUERY_EVENTS } else { limits::MAX_EVENTS };
        if st.events.len() >= max {
            return Err(broke(format!("more than {max} events in one call")));
        }
        let contract = st.ctx.contract.clone();
        st.events.push(Event { contract, name: event.name, topics: event.topics, payload: event.payload });
        Ok(())
    })?;

    host.func_wrap("caller", |mut cx: Cx<'_, E>, (): ()| {
        charge(&mut cx, fuel::CONTEXT)?;
        let c = &cx.data().ctx.caller;
        use phr_ledger::CallerKind as K;
        let kind = match c.kind {
            K::Anonymous => types::CallerKind::Anonymous,
            K::Patient => types::CallerKind::Patient,
            K::Practitioner => types::CallerKind::Practitioner,
            K::OrgAdmin => types::CallerKind::OrgAdmin,
            K::Auditor => types::CallerKind::Auditor,
            K::Node => types::CallerKind::Node,
        };
        Ok((types::CallerInfo { id: c.id.clone(), kind, org: c.org.clone(), roles: c.roles.clone() },))
    })?;

    host.func_wrap("invoker", |mut cx: Cx<'_, E>, (): ()| {
        charge(&mut cx, fuel::CONTEXT)?;
        Ok((cx.data().ctx.invoker.clone(),))
    })?;

    host.func_wrap("tx-id", |mut cx: Cx<'_, E>, (): ()| {
        charge(&mut cx, fuel::CONTEXT)?;
        Ok((cx.data().ctx.tx_id.clone(),))
    })?;

    host.func_wrap("block", |mut cx: Cx<'_, E>, (): ()| {
        charge(&mut cx, fuel::CONTEXT)?;
        let c = &cx.data().ctx;
        Ok((types::BlockInfo { height: c.height, time_ms: c.time_ms },))
    })?;

    host.func_wrap("log", |mut cx: Cx<'_, E>, (level, message): (types::LogLevel, String)| {
        charge(&mut cx, fuel::LOG + message.len() as u64)?;
        let contract = &cx.data().ctx.contract;
        let mut end = message.len().min(limits::MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let line = &message[..end];
        match level {
            types::LogLevel::Debug => tracing::debug!(target: "contract", contract = %contract, "{line}"),
            types::LogLevel::Info => tracing::info!(target: "contract", contract = %contract, "{line}"),
            types::LogLevel::Warn => tracing::warn!(target: "contract", contract = %contract, "{line}"),
        }
        Ok(())
    })?;

    host.func_wrap("call", |mut cx: Cx<'_, E>, (contract, method, args): (String, String, String)| {
        charge(&mut cx, fuel::CALL + args.len() as u64 * fuel::PER_BYTE_WRITTEN)?;
        let st = cx.data_mut();
        if st.ctx.depth + 1 > limits::MAX_CALL_DEPTH {
            return Err(broke(format!("calls may nest at most {} deep", limits::MAX_CALL_DEPTH)));
        }
        let Some(callee) = st.env()?.resolve(&contract).map_err(fault)? else {
            let e = types::Error { code: types::ErrorCode::NotFound, message: format!("no contract `{contract}`") };
            return Ok((Err(e),));
        };
        let vm = st.vm.clone();
        let ctx = st.ctx.nested(&contract);
        let env = st.env.take().expect("env present: checked by resolve above");
        let budget = cx.get_fuel()?;
        let (outcome, env) = vm.call(&callee, Entry::Query, &method, &args, ctx, env, budget).map_err(|f| match f {
            VmFault::Host(h) => fault(h),
            other => fault(HostFault(other.to_string())),
        })?;
        let st = cx.data_mut();
        st.env = Some(env);
        // A client's query collects what its nested calls announce (`audit.read`).
        if st.ctx.client_query {
            let room = limits::MAX_QUERY_EVENTS.saturating_sub(st.events.len());
            if outcome.events.len() > room {
                return Err(broke(format!("more than {} events in one call", limits::MAX_QUERY_EVENTS)));
            }
            st.events.extend(outcome.events);
        }
        cx.set_fuel(budget.saturating_sub(outcome.fuel_used))?;
        match outcome.result {
            CallResult::Ok(out) => Ok((Ok(out),)),
            CallResult::Err { code, message } => Ok((Err(types::Error { code: error_code(&code), message }),)),
            CallResult::OutOfFuel => Err(wasmtime::Error::new(HostTrap::OutOfFuel)),
            CallResult::Trapped { reason } => {
                Err(wasmtime::Error::new(HostTrap::Nested(format!("{contract}.{method}: {reason}"))))
            }
        }
    })?;
    Ok(())
}
