use crate::support::*;
use phr_ledger::{Receipt, TxStatus};
use serde_json::json;

/// Run the hostile methods on a fresh chain and return their receipts.
fn run_hostile() -> Vec<Receipt> {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    ["spin", "hog", "recurse", "panic", "write_then_fail"].iter().map(|m| c.send(&p, "runaway", m, json!({}))).collect()
}

#[test]
fn runaway_contracts_end_in_failed_receipts_identically_on_every_run() {
    let a = run_hostile();
    let fuel = phr_ledger::ChainParams::default().fuel_per_tx;
    assert_eq!(a[0].status, TxStatus::OutOfFuel, "spin");
    assert_eq!(a[0].fuel_used, fuel);
    // Memory growth stops at the limit; the allocator then aborts.
    assert!(
        matches!(a[1].status, TxStatus::Trapped { ref reason } if reason.contains("unreachable")),
        "hog: {:?}",
        a[1].status
    );
    assert!(a[1].fuel_used < fuel);
    // The shadow stack runs off the bottom of linear memory.
    assert!(
        matches!(a[2].status, TxStatus::Trapped { ref reason } if reason.contains("out-of-bounds")),
        "recurse: {:?}",
        a[2].status
    );
    assert!(
        matches!(a[3].status, TxStatus::Trapped { ref reason } if reason.contains("unreachable")),
        "panic: {:?}",
        a[3].status
    );
    assert!(matches!(a[4].status, TxStatus::Rejected { ref code, .. } if code == "conflict"));
    for r in &a {
        assert!(r.writes.is_empty() && r.events.is_empty(), "a failed call keeps nothing: {r:?}");
    }
    // A second, independent run computes exactly the same receipts (tx ids differ:
    // fresh keys sign them; everything else must match).
    let b = run_hostile();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.status, x.fuel_used, &x.code_hash), (&y.status, y.fuel_used, &y.code_hash));
    }
}

#[test]
fn the_chain_goes_on_after_runaway_calls_and_failed_writes_leave_no_trace() {
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    c.send(&p, "runaway", "spin", json!({}));
    c.send(&p, "runaway", "write_then_fail", json!({}));
    assert_eq!(c.query(&p, "runaway", "read", json!({})), serde_json::Value::Null);
    c.ok(&p, "runaway", "write", json!({"v": 1}));
    assert_eq!(c.query(&p, "runaway", "read", json!({})), json!({"v": 1}));
    // A query that loops forever ends out of fuel, not hung.
    let q = c.query_out(Some(&p), "runaway", "spin", json!({}));
    assert_eq!(q.result, phr_vm::CallResult::OutOfFuel);
}

/// What `runaway.deep` with `frames` ends in, as a transaction and as a query.
fn deep(c: &mut Chain, p: &phr_ledger::Keypair, frames: u64) -> (TxStatus, u64, phr_vm::CallResult) {
    let r = c.send(p, "runaway", "deep", json!({ "frames": frames }));
    let q = c.query_out(Some(p), "runaway", "deep", json!({ "frames": frames }));
    (r.status, r.fuel_used, q.result)
}

#[test]
fn a_contract_exhausting_its_stack_at_every_nesting_level_traps_and_never_crashes() {
    // This test's own thread has the default 2 MiB stack, less than five nested
    // calls may use at 512 KiB of wasm stack each: the executor must still end
    // every depth in a trapped receipt (a stack overflow would abort the process).
    // About 3072 frames fill each level's 512 KiB on x86-64 today; the sweep
    // brackets that whatever the machine code.
    let sweep = [64, 256, 1024, 1536, 2048, 3072, 4096, 8192, 65536];
    let mut c = Chain::new(&["stmarys"]);
    let p = c.patient();
    let a: Vec<_> = sweep.iter().map(|&f| deep(&mut c, &p, f)).collect();
    for ((status, _, query), frames) in a.iter().zip(sweep) {
        let TxStatus::Trapped { reason } = status else { panic!("{frames} frames: {status:?}") };
        assert!(
            reason.contains("at most 4 deep") || reason.contains("call stack exhausted"),
            "{frames} frames: {reason}"
        );
        assert!(matches!(query, phr_vm::CallResult::Trapped { .. }), "{frames} frames, as a query: {query:?}");
    }
    // Shallow frames reach the nesting limit; deep ones exhaust the wasm stack.
    assert!(matches!(&a[0].0, TxStatus::Trapped { reason } if reason.contains("at most 4 deep")), "{:?}", a[0]);
    assert!(matches!(&a[8].0, TxStatus::Trapped { reason } if reason.contains("call stack exhausted")), "{:?}", a[8]);
    // The same on another chain, to the unit of fuel.
    let mut c2 = Chain::new(&["stmarys"]);
    let p2 = c2.patient();
    let b: Vec<_> = sweep.iter().map(|&f| deep(&mut c2, &p2, f)).collect();
    assert_eq!(a, b);
}
