//! Contract components are validated before use: anything that is not a
//! component of our world importing only our interface is refused, with a reason.

use crate::components::*;
use phr_executor::TxEnv;
use phr_vm::{CompileError, Vm, VmConfig};

fn vm() -> std::sync::Arc<Vm<TxEnv>> {
    Vm::new(VmConfig::default()).unwrap()
}

#[test]
fn the_real_contracts_are_accepted() {
    let vm = vm();
    for (name, bytes) in phr_contracts::STANDARD {
        let c = vm.compile(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(c.has_migrate, "{name} is built with the SDK, which exports migrate");
    }
    // A minimal component of the plain world (no migrate) is a contract too.
    let plain = component(&format!("package test:plain; world w {{ import phr:chaincode/host@0.2.0; {OUR_EXPORTS} }}"));
    assert!(!vm.compile(&plain).unwrap().has_migrate);
}

#[test]
fn a_wasi_import_is_refused_by_name() {
    let wasi = wasi_importer();
    assert_eq!(vm().inspect(&wasi).unwrap_err(), CompileError::ForbiddenImport("test:wasi/environment".into()));
    match vm().compile(&wasi) {
        Err(CompileError::ForbiddenImport(name)) => assert_eq!(name, "test:wasi/environment"),
        other => panic!("expected a forbidden import, got {other:?}"),
    }
}

#[test]
fn a_component_of_another_world_is_refused() {
    let other = other_world();
    let err = vm().compile(&other).unwrap_err();
    assert!(matches!(err, CompileError::WrongWorld(_)), "{err}");
    assert!(err.to_string().contains("invoke"), "the reason names what is missing: {err}");
}

#[test]
fn garbage_core_modules_and_oversized_bytes_are_refused() {
    let vm = vm();
    assert!(matches!(vm.compile(b"definitely not wasm"), Err(CompileError::Invalid(_))));
    let core_module = b"\0asm\x01\0\0\0";
    let err = vm.compile(core_module).unwrap_err();
    assert!(matches!(err, CompileError::Invalid(_)), "{err}");
    let huge = vec![0u8; phr_vm::limits::MAX_COMPONENT_BYTES + 1];
    assert!(matches!(vm.compile(&huge), Err(CompileError::TooLarge { .. })));
}

#[test]
fn a_compiled_code_cache_entry_filed_under_another_code_hash_is_ignored() {
    let cache = tempfile::tempdir().unwrap();
    let c = crate::support::Chain::with_cache(&["stmarys"], cache.path().to_path_buf());
    drop(c);
    let hex = |b: &[u8]| phr_ledger::sha256(&[b]).to_hex();
    let (consent, runaway) = (hex(phr_contracts::CONSENT), hex(phr_contracts::RUNAWAY));
    for ext in ["cwasm", "sha256"] {
        let from = cache.path().join(format!("{runaway}.{ext}"));
        std::fs::copy(from, cache.path().join(format!("{consent}.{ext}"))).unwrap();
    }
    // A fresh chain through the mixed-up cache still runs the real consent contract.
    let mut c = crate::support::Chain::with_cache(&["stmarys"], cache.path().to_path_buf());
    let auditor = c.auditor();
    let out = c.query(&auditor, "consent", "list", serde_json::json!({"patient": "ab".repeat(20)}));
    assert_eq!(out["consents"], serde_json::json!([]));
}

#[test]
fn components_over_a_compile_cost_limit_are_refused_without_compiling() {
    let vm = vm();
    // The same module without the extra function is a contract.
    assert!(vm.inspect(&contract_with("(func)")).is_ok());
    for (what, extra) in compile_bombs() {
        let err = vm.inspect(&contract_with(&extra)).unwrap_err();
        assert!(matches!(err, CompileError::OverLimit(_)), "{what}: {err}");
        assert!(err.to_string().contains(what), "{what}: the reason names the limit: {err}");
        assert_eq!(vm.compile(&contract_with(&extra)).unwrap_err(), err, "compile applies the same check");
    }
}

#[test]
fn inspect_reports_what_it_learnt_and_enforces_the_genesis_size_limit() {
    let facts = vm().inspect(phr_contracts::CONSENT).unwrap();
    assert_eq!(facts.code_hash, phr_ledger::sha256(&[phr_contracts::CONSENT]));
    assert_eq!(facts.size, phr_contracts::CONSENT.len());
    assert!(facts.has_migrate && facts.modules >= 1 && facts.functions > 10, "{facts:?}");
    let small = Vm::<TxEnv>::new(VmConfig { max_code_bytes: 1024, ..VmConfig::default() }).unwrap();
    assert!(matches!(small.inspect(phr_contracts::CONSENT), Err(CompileError::TooLarge { max: 1024, .. })));
}

#[test]
fn a_memory_larger_than_the_limit_at_start_is_refused_at_install() {
    // 1000 pages (64 MiB) initial memory against the 32 MiB default limit.
    let wit = format!("package test:plain; world w {{ import phr:chaincode/host@0.2.0; {OUR_EXPORTS} }}");
    let big = component_edited(&wit, |text| {
        let lines: Vec<String> = text
            .lines()
            .map(|l| if l.trim_start().starts_with("(memory") { "(memory 1000)".to_string() } else { l.to_string() })
            .collect();
        assert!(lines.iter().any(|l| l == "(memory 1000)"), "the dummy module has a memory");
        lines.join("\n")
    });
    let err = vm().inspect(&big).unwrap_err();
    assert!(matches!(err, CompileError::OverLimit(ref m) if m.contains("pages")), "{err}");
}
