//! Contract components are validated before use: anything that is not a
//! component of our world importing only our interface is refused, with a reason.

use phr_executor::TxEnv;
use phr_vm::{CompileError, Vm, VmConfig};

/// A component for `wit` (a package with one world), with a body that does nothing.
fn component(wit: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_str("chaincode.wit", include_str!("../../../../wit/chaincode.wit")).unwrap();
    let pkg = resolve.push_str("test.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], None).unwrap();
    let mut module = wit_component::dummy_module(
        &resolve,
        world,
        wit_parser::ManglingAndAbi::Legacy(wit_parser::LiftLowerAbi::Sync),
    );
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    wit_component::ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

const OUR_EXPORTS: &str = "
    use phr:chaincode/types@0.1.0.{error};
    export invoke: func(method: string, args: string) -> result<string, error>;
    export query: func(method: string, args: string) -> result<string, error>;
";

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
    let plain = component(&format!("package test:plain; world w {{ import phr:chaincode/host@0.1.0; {OUR_EXPORTS} }}"));
    assert!(!vm.compile(&plain).unwrap().has_migrate);
}

#[test]
fn a_wasi_import_is_refused_by_name() {
    let wasi = component(&format!(
        "package test:wasi;
         interface environment {{ get-environment: func() -> list<tuple<string, string>>; }}
         world w {{ import environment; {OUR_EXPORTS} }}"
    ));
    match vm().compile(&wasi) {
        Err(CompileError::ForbiddenImport(name)) => assert_eq!(name, "test:wasi/environment"),
        other => panic!("expected a forbidden import, got {other:?}"),
    }
}

#[test]
fn a_component_of_another_world_is_refused() {
    let other = component("package test:other; world w { export run: func(); }");
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
    let c = crate::support::Chain::with_cache(&["stmarys"], cache.path().to_path_buf());
    let out = c.query("consent", "list", serde_json::json!({"patient": "ab".repeat(20)}));
    assert_eq!(out["consents"], serde_json::json!([]));
}
