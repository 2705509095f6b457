//! `lifecycle.approve` and `lifecycle.commit`: the consortium agrees on a
//! (contract, code hash, sequence) and makes it live.

use super::{check_triple, event, LifecycleCall};
use crate::env::TxEnv;
use crate::native::{self, err, NativeOutcome};
use crate::system::{
    approval_key, approvals_prefix, contract_key, prefix_end, Approval, ChainPoint, ContractRecord, SYSTEM_NS,
};
use phr_vm::{CallContext, CallResult, Entry, HostEnv, HostFault};
use serde_json::json;

/// The approvals recorded for `name` at `sequence`, in organisation order.
pub(crate) fn approvals(env: &mut TxEnv, name: &str, sequence: u64) -> Result<Vec<Approval>, HostFault> {
    let prefix = approvals_prefix(name, sequence);
    native::read_range(env, SYSTEM_NS, &prefix, &prefix_end(&prefix), 1000)
}

/// Record this organisation's approval. Approving again for another code hash
/// replaces the organisation's earlier approval of that sequence.
pub(super) fn approve(env: &mut TxEnv, call: &LifecycleCall<'_>, args: &str) -> Result<NativeOutcome, HostFault> {
    let (t, org) = match check_triple(env, call, args, "approve")? {
        Ok(c) => (c.triple, c.org),
        Err(rejected) => return Ok(rejected),
    };
    let key = approval_key(&t.name, t.sequence, &org);
    let earlier = native::read::<Approval>(env, SYSTEM_NS, &key)?;
    if earlier.as_ref().is_some_and(|a| a.code_hash == t.code_hash) {
        return err(
            "conflict",
            format!("{org} has approved {} sequence {} with code {} already", t.name, t.sequence, t.code_hash),
        );
    }
    let approval = Approval {
        name: t.name.clone(),
        sequence: t.sequence,
        code_hash: t.code_hash,
        org: org.clone(),
        admin: call.caller.map(|c| c.id.clone()).unwrap_or_default(),
        at: ChainPoint { height: env.height(), tx_index: env.tx_index() },
        tx_id: call.tx_id.clone(),
    };
    native::write(env, SYSTEM_NS, &key, &approval)?;
    let all = approvals(env, &t.name, t.sequence)?;
    let agreeing: Vec<&str> = all.iter().filter(|a| a.code_hash == t.code_hash).map(|a| a.org.as_str()).collect();
    let orgs = call.genesis.orgs.len();
    let needed = call.genesis.policies.lifecycle.required(orgs);
    let out = json!({
        "approval": approval,
        "replaces": earlier.map(|a| a.code_hash),
        "approved_by": agreeing,
        "needed": needed,
        "ready_to_commit": agreeing.len() >= needed,
    });
    let e = event(
        "lifecycle.approved",
        vec!["lifecycle".into(), format!("contract:{}", t.name), format!("org:{org}")],
        &out,
    );
    native::ok(&out, vec![e])
}

/// Make the approved code live, running its `migrate` if it has one.
pub(super) fn commit(env: &mut TxEnv, call: &LifecycleCall<'_>, args: &str) -> Result<NativeOutcome, HostFault> {
    let (t, current) = match check_triple(env, call, args, "commit")? {
        Ok(c) => (c.triple, c.current),
        Err(rejected) => return Ok(rejected),
    };
    let all = approvals(env, &t.name, t.sequence)?;
    let (agreeing, other): (Vec<Approval>, Vec<Approval>) = all.into_iter().partition(|a| a.code_hash == t.code_hash);
    let orgs = call.genesis.orgs.len();
    let policy = call.genesis.policies.lifecycle;
    if agreeing.len() < policy.required(orgs) {
        let by = |list: &[Approval]| list.iter().map(|a| a.org.as_str()).collect::<Vec<_>>().join(", ");
        let mut why = format!(
            "committing {} sequence {} with code {} needs the approval of {}; approved by: {}",
            t.name,
            t.sequence,
            t.code_hash,
            policy.describe(orgs),
            if agreeing.is_empty() { "nobody".to_string() } else { by(&agreeing) }
        );
        for a in &other {
            why.push_str(&format!("; {} approved other code {}", a.org, a.code_hash));
        }
        return err("not-approved", why);
    }
    let cache = env.code_cache().clone();
    let compiled = match cache.get(&t.code_hash, || env.code_bytes(&t.code_hash))? {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            tracing::info!(code = %t.code_hash, "code cannot serve as a contract: {e}");
            return err(
                "code-rejected",
                format!("code {} cannot serve as a contract: {}", t.code_hash, e.receipt_message()),
            );
        }
        None => return Err(HostFault(format!("installed code {} is missing from the store", t.code_hash))),
    };
    let mut fuel_used = 0;
    let mut events = Vec::new();
    if compiled.has_migrate {
        let caller = call.caller.cloned().unwrap_or_else(phr_ledger::Caller::anonymous);
        let ctx = CallContext::invoke(&t.name, caller, call.tx_id.clone(), env.height(), call.time_ms);
        let from = current.as_ref().map(|c| c.code_hash.to_hex()).unwrap_or_default();
        let owned = std::mem::replace(env, env.placeholder());
        let (out, owned) = cache
            .vm()
            .call(&compiled, Entry::Migrate(from), "", "", ctx, owned, call.fuel)
            .map_err(|f| HostFault(format!("running migrate: {f}")))?;
        *env = owned;
        fuel_used = out.fuel_used;
        let failed = match out.result {
            CallResult::Ok(_) => None,
            CallResult::Err { code, message } => Some(format!("{code}: {message}")),
            CallResult::OutOfFuel => Some("out of fuel".to_string()),
            CallResult::Trapped { reason } => Some(format!("trapped: {reason}")),
        };
        if let Some(why) = failed {
            let mut o = err(
                "migrate-failed",
                format!("migrate of {} to code {} failed, so the commit is aborted: {why}", t.name, t.code_hash),
            )?;
            o.fuel_used = fuel_used;
            return Ok(o);
        }
        events = out.events;
    }
    for a in agreeing.iter().chain(&other) {
        env.delete(SYSTEM_NS, &approval_key(&t.name, t.sequence, &a.org))?;
    }
    let rec = ContractRecord {
        name: t.name.clone(),
        code_hash: t.code_hash,
        sequence: t.sequence,
        committed_at: ChainPoint { height: env.height(), tx_index: env.tx_index() },
        committed_tx: call.tx_id.clone(),
        previous_code_hash: current.map(|c| c.code_hash),
        approvals: agreeing,
        migrated: compiled.has_migrate,
    };
    native::write(env, SYSTEM_NS, &contract_key(&t.name), &rec)?;
    events.push(event("lifecycle.committed", vec!["lifecycle".into(), format!("contract:{}", t.name)], &rec));
    let mut o = native::ok(&rec, events)?;
    o.fuel_used = fuel_used;
    Ok(o)
}
