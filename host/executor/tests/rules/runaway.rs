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
