//! An in-memory host for running contract logic natively, outside the VM.
//!
//! It exists so that the benchmark can measure the same contract code compiled
//! for the host CPU against the same code in the VM. It implements the host
//! interface faithfully enough for that (ordered keys, read-your-writes, events,
//! cross-contract queries), but it is not the node: no fuel, no limits, no
//! history, no persistence.

use crate::{Caller, CallerKind, Result};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A query entry point of a natively linked contract, for cross-contract calls.
pub type QueryFn = fn(&str, &str) -> Result<String>;

/// The state and context one native call sees.
pub struct Host {
    /// All keys, by contract namespace then key.
    pub state: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    /// The contract whose namespace the current call uses.
    pub contract: String,
    pub caller: Caller,
    pub tx_id: String,
    pub height: u64,
    pub time_ms: u64,
    /// Events emitted so far: (name, topics, payload).
    pub events: Vec<(String, Vec<String>, String)>,
    /// Contracts reachable through `call`.
    pub contracts: BTreeMap<String, QueryFn>,
    /// The contract making the current nested call, if any.
    pub invoker: Option<String>,
}

impl Host {
    /// An empty host calling as `caller` into `contract`.
    pub fn new(contract: &str, caller: Caller) -> Self {
        Host {
            state: BTreeMap::new(),
            contract: contract.to_string(),
            caller,
            tx_id: String::new(),
            height: 1,
            time_ms: 0,
            events: Vec::new(),
            contracts: BTreeMap::new(),
            invoker: None,
        }
    }

    /// An anonymous caller.
    pub fn anonymous() -> Caller {
        Caller { id: String::new(), kind: CallerKind::Anonymous, org: None, roles: Vec::new() }
    }
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
}

/// Install `host` for this thread, run `f`, and hand the host back.
pub fn with_host<R>(host: Host, f: impl FnOnce() -> R) -> (R, Host) {
    HOST.with(|h| *h.borrow_mut() = Some(host));
    let r = f();
    let host = HOST.with(|h| h.borrow_mut().take()).expect("host installed");
    (r, host)
}

fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(h.borrow_mut().as_mut().expect("no native host installed: use phr_sdk::native::with_host")))
}

pub(crate) mod sys {
    use super::with;
    use crate::{Caller, Error, Result, Version};

    pub fn get(key: &[u8]) -> Option<Vec<u8>> {
        with(|h| h.state.get(&(h.contract.clone(), key.to_vec())).cloned())
    }
    pub fn put(key: &[u8], value: &[u8]) {
        with(|h| h.state.insert((h.contract.clone(), key.to_vec()), value.to_vec()));
    }
    pub fn delete(key: &[u8]) {
        with(|h| h.state.remove(&(h.contract.clone(), key.to_vec())));
    }
    pub fn scan(start: &[u8], end: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        with(|h| {
            let ns = h.contract.clone();
            h.state
                .range((ns.clone(), start.to_vec())..)
                .take_while(|((n, k), _)| *n == ns && (end.is_empty() || k.as_slice() < end))
                .take(limit as usize)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect()
        })
    }
    pub fn history(_key: &[u8], _limit: u32) -> Vec<Version> {
        Vec::new()
    }
    pub fn emit(name: &str, topics: &[&str], payload: &str) {
        with(|h| {
            h.events.push((name.to_string(), topics.iter().map(|t| t.to_string()).collect(), payload.to_string()))
        });
    }
    pub fn caller() -> Caller {
        with(|h| h.caller.clone())
    }
    pub fn tx_id() -> String {
        with(|h| h.tx_id.clone())
    }
    pub fn block() -> (u64, u64) {
        with(|h| (h.height, h.time_ms))
    }
    pub fn call(contract: &str, method: &str, args: &str) -> Result<String> {
        let (f, outer) = with(|h| (h.contracts.get(contract).copied(), h.contract.clone()));
        let f = f.ok_or_else(|| Error::not_found(format!("no contract `{contract}`")))?;
        let outer_invoker = with(|h| {
            h.contract = contract.to_string();
            h.invoker.replace(outer.clone())
        });
        let r = f(method, args);
        with(|h| {
            h.contract = outer;
            h.invoker = outer_invoker;
        });
        r
    }
    pub fn invoker() -> Option<String> {
        with(|h| h.invoker.clone())
    }
    pub fn log(_message: &str) {}
}
