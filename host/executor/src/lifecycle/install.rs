//! `lifecycle.install`: put contract code on the chain.

use super::{event, LifecycleCall};
use crate::env::TxEnv;
use crate::native::{self, err, ok, parse, NativeOutcome};
use crate::system::{code_key, ChainPoint, CodeRecord, SYSTEM_NS};
use base64::Engine as _;
use phr_vm::HostFault;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallArgs {
    /// The component, base64 (standard alphabet, padded).
    code: String,
}

/// Check the component and store it by hash. The checks are those of
/// [`phr_vm::Vm::inspect`]: deterministic and linear in the size, no compiling.
pub(super) fn install(env: &mut TxEnv, call: &LifecycleCall<'_>, args: &str) -> Result<NativeOutcome, HostFault> {
    let Some(org) = call.admin_org().map(str::to_string) else {
        return err("unauthorized", "only an organisation admin may install contract code");
    };
    let a: InstallArgs = match parse("install", args) {
        Ok(a) => a,
        Err(m) => return err("bad-request", m),
    };
    let bytes = match base64::engine::general_purpose::STANDARD.decode(a.code.as_bytes()) {
        Ok(b) => b,
        Err(e) => return err("bad-request", format!("`code` is not base64: {e}")),
    };
    let facts = match env.code_cache().vm().inspect(&bytes) {
        Ok(f) => f,
        Err(e) => {
            tracing::info!("an installed component is rejected: {e}");
            return err("invalid-code", format!("component rejected: {}", e.receipt_message()));
        }
    };
    let key = code_key(&facts.code_hash);
    if let Some(existing) = native::read::<CodeRecord>(env, SYSTEM_NS, &key)? {
        return err(
            "conflict",
            format!("code {} is installed already (at height {})", facts.code_hash, existing.installed_at.height),
        );
    }
    let rec = CodeRecord {
        code_hash: facts.code_hash,
        size: facts.size as u64,
        modules: facts.modules as u64,
        functions: facts.functions,
        has_migrate: facts.has_migrate,
        installed_at: ChainPoint { height: env.height(), tx_index: env.tx_index() },
        installed_tx: call.tx_id.clone(),
        installed_by: call.caller.map(|c| c.id.clone()).unwrap_or_default(),
        org: Some(org.clone()),
    };
    native::write(env, SYSTEM_NS, &key, &rec)?;
    env.add_code(facts.code_hash, bytes);
    let e = event("lifecycle.installed", vec!["lifecycle".into(), format!("org:{org}")], &rec);
    ok(&rec, vec![e])
}
