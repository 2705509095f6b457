//! Read-only lifecycle methods: which code serves each contract, its history,
//! installed code and pending approvals.

use super::commit::approvals;
use crate::env::TxEnv;
use crate::native::{self, err, ok, parse, NativeOutcome};
use crate::system::{
    code_key, contract_key, Approval, CodeRecord, ContractRecord, CODES_END, CODES_START, CONTRACTS_END,
    CONTRACTS_START, SYSTEM_NS,
};
use phr_ledger::Hash32;
use phr_vm::{HostEnv, HostFault};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameArgs {
    name: String,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeArgs {
    code_hash: Hash32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A contract as `list` and `get` show it: the code serving it and the
/// approvals gathered for its next sequence.
#[derive(Serialize)]
struct ContractView {
    #[serde(flatten)]
    record: ContractRecord,
    pending: Vec<Approval>,
}

/// One version in a contract's history.
#[derive(Serialize)]
struct VersionView {
    /// Where the record was written (the commit transaction).
    height: u64,
    tx_index: u32,
    #[serde(flatten)]
    record: ContractRecord,
}

fn view(env: &mut TxEnv, record: ContractRecord) -> Result<ContractView, HostFault> {
    let pending = approvals(env, &record.name, record.sequence + 1)?;
    Ok(ContractView { record, pending })
}

/// Execute a read-only lifecycle method.
pub fn query(env: &mut TxEnv, method: &str, args: &str) -> Result<NativeOutcome, HostFault> {
    macro_rules! args {
        ($t:ty) => {
            match parse::<$t>(method, args) {
                Ok(a) => a,
                Err(m) => return err("bad-request", m),
            }
        };
    }
    match method {
        "list" => {
            let _: Empty = args!(Empty);
            let records: Vec<ContractRecord> =
                native::read_range(env, SYSTEM_NS, CONTRACTS_START, CONTRACTS_END, 1000)?;
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                out.push(view(env, r)?);
            }
            ok(&serde_json::json!({ "contracts": out }), Vec::new())
        }
        "get" | "history" => {
            let a = args!(NameArgs);
            let Some(current) = env.contract_record(&a.name)? else {
                let pending = approvals(env, &a.name, 1)?;
                if pending.is_empty() {
                    return err("not-found", format!("no contract {} is deployed", a.name));
                }
                return ok(&serde_json::json!({ "name": a.name, "versions": [], "pending": pending }), Vec::new());
            };
            if method == "get" {
                let v = view(env, current)?;
                return ok(&v, Vec::new());
            }
            let limit = a.limit.unwrap_or(100).clamp(1, 1000);
            let mut versions = Vec::new();
            for h in env.history(SYSTEM_NS, &contract_key(&a.name), limit)? {
                let Some(value) = h.value else { continue };
                let record: ContractRecord = serde_json::from_slice(&value)
                    .map_err(|e| HostFault(format!("corrupt contract record of {}: {e}", a.name)))?;
                versions.push(VersionView { height: h.height, tx_index: h.tx_index, record });
            }
            let pending = approvals(env, &a.name, current.sequence + 1)?;
            ok(&serde_json::json!({ "name": a.name, "versions": versions, "pending": pending }), Vec::new())
        }
        "code" => {
            let a = args!(CodeArgs);
            match native::read::<CodeRecord>(env, SYSTEM_NS, &code_key(&a.code_hash))? {
                Some(r) => ok(&r, Vec::new()),
                None => err("not-found", format!("no code {} is installed", a.code_hash)),
            }
        }
        "installed" => {
            let _: Empty = args!(Empty);
            let codes: Vec<CodeRecord> = native::read_range(env, SYSTEM_NS, CODES_START, CODES_END, 1000)?;
            ok(&serde_json::json!({ "codes": codes }), Vec::new())
        }
        other => {
            err("unknown-method", format!("no query `{other}`; queries here: list, get, history, code, installed"))
        }
    }
}
