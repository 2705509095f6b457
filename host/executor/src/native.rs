//! What the built-in (native) contracts share: their outcome, typed arguments,
//! results, events and JSON records in state.

use crate::env::TxEnv;
use phr_ledger::Event;
use phr_vm::{CallResult, HostEnv, HostFault};
use serde::{de::DeserializeOwned, Serialize};

/// Result of a native call: like a contract's, with its events and the fuel
/// of any contract code it ran (a `migrate`).
pub struct NativeOutcome {
    pub result: CallResult,
    pub events: Vec<Event>,
    pub fuel_used: u64,
}

/// A rejection with `code` and `message`.
pub fn err(code: &str, message: impl Into<String>) -> Result<NativeOutcome, HostFault> {
    Ok(NativeOutcome {
        result: CallResult::Err { code: code.to_string(), message: message.into() },
        events: Vec::new(),
        fuel_used: 0,
    })
}

/// A success returning `v` as JSON, with `events`.
pub fn ok<T: Serialize>(v: &T, events: Vec<Event>) -> Result<NativeOutcome, HostFault> {
    Ok(NativeOutcome {
        result: CallResult::Ok(serde_json::to_string(v).expect("results serialize")),
        events,
        fuel_used: 0,
    })
}

/// An event of native contract `contract`.
pub fn event(contract: &str, name: &str, topics: Vec<String>, payload: &impl Serialize) -> Event {
    Event {
        contract: contract.to_string(),
        name: name.to_string(),
        topics,
        payload: serde_json::to_string(payload).expect("events serialize"),
    }
}

/// Parse the JSON arguments of `method` (empty text means `{}`).
pub fn parse<T: DeserializeOwned>(method: &str, args: &str) -> Result<T, String> {
    let args = if args.trim().is_empty() { "{}" } else { args };
    serde_json::from_str(args).map_err(|e| format!("invalid arguments for `{method}`: {e}"))
}

/// Read a JSON record (the read is recorded).
pub fn read<T: DeserializeOwned>(env: &mut TxEnv, ns: &str, key: &[u8]) -> Result<Option<T>, HostFault> {
    match env.get(ns, key)? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| HostFault(format!("corrupt {ns} record {}: {e}", String::from_utf8_lossy(key)))),
    }
}

/// Write a JSON record.
pub fn write<T: Serialize>(env: &mut TxEnv, ns: &str, key: &[u8], v: &T) -> Result<(), HostFault> {
    env.put(ns, key, &serde_json::to_vec(v).expect("records serialize"))
}

/// Read every JSON record in `[start, end)`, in key order, at most `limit`.
pub fn read_range<T: DeserializeOwned>(
    env: &mut TxEnv,
    ns: &str,
    start: &[u8],
    end: &[u8],
    limit: u32,
) -> Result<Vec<T>, HostFault> {
    env.scan(ns, start, end, limit)?
        .into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v)
                .map_err(|e| HostFault(format!("corrupt {ns} record {}: {e}", String::from_utf8_lossy(&k))))
        })
        .collect()
}
