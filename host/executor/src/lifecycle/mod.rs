//! `lifecycle`: the built-in contract through which the consortium installs,
//! approves and commits contract code (Fabric's chaincode lifecycle, with the
//! code hash pinned on chain).
//!
//! 1. `install` — an organisation admin sends a component; every node checks it
//!    the same way ([`phr_vm::Vm::inspect`]: size, Wasm features, compile-cost
//!    limits, only our imports, the contract exports) and stores it by SHA-256.
//!    It is compiled in the background once its block commits.
//! 2. `approve` — each organisation's admin approves (name, code hash, sequence).
//! 3. `commit` — once the genesis lifecycle policy (by default a majority of the
//!    organisations) approved the same triple, any admin commits it: `migrate`
//!    runs if the code exports it (its failure aborts the commit), and from the
//!    next transaction on the code serves the contract, its state kept.
//!
//! Sequence 1 deploys a new contract; each upgrade raises it by exactly one.
//! Every version stays in the history of `system/contract/<name>`.

mod commit;
mod install;
mod query;

pub use query::query;

use crate::env::TxEnv;
use crate::native::{self, err, NativeOutcome};
use crate::system::{ContractRecord, SYSTEM_NS};
use phr_ledger::{Caller, CallerKind, Event, Genesis, Hash32};
use phr_vm::HostFault;
use serde::{Deserialize, Serialize};

/// The contract name.
pub const LIFECYCLE: &str = "lifecycle";

/// The transaction calling the lifecycle.
pub struct LifecycleCall<'a> {
    pub caller: Option<&'a Caller>,
    pub tx_id: String,
    pub time_ms: u64,
    /// Fuel for a `migrate` the commit runs.
    pub fuel: u64,
    pub genesis: &'a Genesis,
}

impl LifecycleCall<'_> {
    /// The organisation of an admin caller.
    fn admin_org(&self) -> Option<&str> {
        match self.caller {
            Some(c) if c.kind == CallerKind::OrgAdmin => c.org.as_deref(),
            _ => None,
        }
    }
}

/// What `approve` and `commit` name.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Triple {
    pub name: String,
    pub code_hash: Hash32,
    pub sequence: u64,
}

pub(crate) fn event(name: &str, topics: Vec<String>, payload: &impl Serialize) -> Event {
    native::event(LIFECYCLE, name, topics, payload)
}

/// What `approve` and `commit` have checked: the triple, the admin's
/// organisation and the record now serving the contract.
pub(crate) struct Checked {
    pub triple: Triple,
    pub org: String,
    pub current: Option<ContractRecord>,
}

/// Checks `approve` and `commit` share: arguments naming a triple, an admin,
/// a contract name that is not a system contract, the next sequence,
/// installed code. `Err` holds the rejection.
pub(crate) fn check_triple(
    env: &mut TxEnv,
    call: &LifecycleCall<'_>,
    args: &str,
    what: &str,
) -> Result<Result<Checked, NativeOutcome>, HostFault> {
    let t: Triple = match native::parse(what, args) {
        Ok(t) => t,
        Err(m) => return err("bad-request", m).map(Err),
    };
    let Some(org) = call.admin_org() else {
        return err("unauthorized", format!("only an organisation admin may {what} contract code")).map(Err);
    };
    if !phr_ledger::is_valid_name(&t.name) {
        return err(
            "bad-request",
            format!("contract name {:?} must be 1-40 characters of a-z, 0-9 and -, starting with a letter", t.name),
        )
        .map(Err);
    }
    if Genesis::RESERVED.contains(&t.name.as_str()) {
        return err(
            "bad-request",
            format!("{} is a system contract built into the node; it cannot be replaced", t.name),
        )
        .map(Err);
    }
    let current = env.contract_record(&t.name)?;
    let next = current.as_ref().map_or(1, |c| c.sequence + 1);
    if t.sequence != next {
        let why = match &current {
            Some(c) => format!("{} is at sequence {}, so the next is {next}", t.name, c.sequence),
            None => format!("{} is not deployed yet, so its first sequence is 1", t.name),
        };
        return err("wrong-sequence", format!("cannot {what} sequence {}: {why}", t.sequence)).map(Err);
    }
    if native::read::<crate::system::CodeRecord>(env, SYSTEM_NS, &crate::system::code_key(&t.code_hash))?.is_none() {
        return err("not-found", format!("no code {} is installed; install it first (lifecycle.install)", t.code_hash))
            .map(Err);
    }
    Ok(Ok(Checked { triple: t, org: org.to_string(), current }))
}

/// Execute a state-changing lifecycle method.
pub fn invoke(env: &mut TxEnv, call: LifecycleCall<'_>, method: &str, args: &str) -> Result<NativeOutcome, HostFault> {
    match method {
        "install" => install::install(env, &call, args),
        "approve" => commit::approve(env, &call, args),
        "commit" => commit::commit(env, &call, args),
        other => err("unknown-method", format!("no method `{other}`; methods here: install, approve, commit")),
    }
}
