//! The node around the contract: block, transaction, events, cross-contract calls.
//!
//! `sys` is the one place that talks to the host: through the WIT imports on
//! `wasm32`, through [`crate::native`] elsewhere.

use crate::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};

/// Time of the block being executed, in milliseconds since the Unix epoch.
/// The only clock a contract has: the same on every node and on replay.
pub fn now_ms() -> u64 {
    sys::block().1
}

/// Height of the block being executed.
pub fn block_height() -> u64 {
    sys::block().0
}

/// Hex id of the transaction being executed (empty in a query).
pub fn tx_id() -> String {
    sys::tx_id()
}

/// Publish an event with this transaction's receipt. `topics` should name
/// everyone the event concerns (the patient's id first), so they can follow it.
pub fn emit<T: Serialize>(name: &str, topics: &[&str], payload: &T) {
    let json = serde_json::to_string(payload).expect("event payloads serialize");
    sys::emit(name, topics, &json);
}

/// A read-only call of another contract's query method with typed arguments
/// and result. Errors of the callee come back as they are.
pub fn call<A: Serialize, R: DeserializeOwned>(contract: &str, method: &str, args: &A) -> Result<R> {
    let args = serde_json::to_string(args).expect("call arguments serialize");
    let out = sys::call(contract, method, &args)?;
    serde_json::from_str(&out)
        .map_err(|e| Error::bad_request(format!("{contract}.{method} returned an unexpected result: {e}")))
}

/// The contract whose read-only `call` is running this query, if any: `None`
/// for a transaction's own call and for a client's query.
pub fn invoker() -> Option<String> {
    sys::invoker()
}

/// A diagnostic line in the node's log. Not part of consensus.
pub fn log_info(message: &str) {
    sys::log(message);
}

#[cfg(target_arch = "wasm32")]
pub(crate) mod sys {
    use crate::bindings::{from_wit, host, kind_from_wit, types};
    use crate::{Caller, Result, Version};

    pub fn get(key: &[u8]) -> Option<Vec<u8>> {
        host::get(key)
    }
    pub fn put(key: &[u8], value: &[u8]) {
        host::put(key, value)
    }
    pub fn delete(key: &[u8]) {
        host::delete(key)
    }
    pub fn scan(start: &[u8], end: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        host::scan(start, end, limit).into_iter().map(|e| (e.key, e.value)).collect()
    }
    pub fn history(key: &[u8], limit: u32) -> Vec<Version> {
        host::history(key, limit)
            .into_iter()
            .map(|v| Version { height: v.height, tx_index: v.tx_index, value: v.value })
            .collect()
    }
    pub fn emit(name: &str, topics: &[&str], payload: &str) {
        host::emit(&types::Event {
            name: name.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            payload: payload.to_string(),
        })
    }
    pub fn caller() -> Caller {
        let c = host::caller();
        Caller { id: c.id, kind: kind_from_wit(c.kind), org: c.org, roles: c.roles }
    }
    pub fn tx_id() -> String {
        host::tx_id()
    }
    pub fn invoker() -> Option<String> {
        host::invoker()
    }
    pub fn block() -> (u64, u64) {
        let b = host::block();
        (b.height, b.time_ms)
    }
    pub fn call(contract: &str, method: &str, args: &str) -> Result<String> {
        host::call(contract, method, args).map_err(from_wit)
    }
    pub fn log(message: &str) {
        host::log(types::LogLevel::Info, message)
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::native::sys;
