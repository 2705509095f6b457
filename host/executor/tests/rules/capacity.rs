//! The node's own calls never wait for clients' (issue 11, point 2): clients
//! can fill only what the instance pool lends them, never the reserve that
//! block apply and the install check's trial instantiation need.

use crate::support::*;
use phr_executor::QueryError;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn blocks_apply_and_code_compiles_while_clients_hold_every_instance_they_may() {
    // The smallest pool (the node's reserve and one client call tree), and
    // enough fuel that a client's spinning query holds its instance a while;
    // more clients than the pool has instances.
    let fuel = 500 * phr_ledger::ChainParams::default().fuel_per_tx;
    let mut c = Chain::with_pool(&["stmarys"], phr_vm::capacity::MIN_INSTANCES, fuel);
    let p = c.patient();
    let exec = c.exec.clone();
    let vm = exec.code_cache().vm().clone();
    // Client calls that ran to their end, and those that gave up waiting (busy).
    let (finished, busy) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let clients = 16;
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                // Each spins until out of fuel, holding its instances meanwhile.
                match exec.query(Some(&p.public_key()), "runaway", "spin", "{}") {
                    Ok(out) => {
                        assert_eq!(out.result, phr_vm::CallResult::OutOfFuel);
                        finished.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(QueryError::Busy(_)) => {
                        busy.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("a client's query failed: {e}"),
                }
            });
        }
        // Once the clients hold everything they may (no client slot left) ...
        while vm.client_slot(Duration::ZERO).is_ok() {
            std::thread::yield_now();
        }
        // ... the node still executes transactions and compiles code, without
        // waiting for any client's call to end.
        for i in 0..5 {
            c.ok(&p, "runaway", "write", json!({ "i": i }));
        }
        let compiled = vm.compile(phr_contracts::RUNAWAY);
        assert!(compiled.is_ok(), "the install check under load: {:?}", compiled.err());
        assert_eq!(finished.load(Ordering::SeqCst), 0, "the node's work waited for a client's call to end");
    });
    // Every client was served in turn or told the node is busy; none failed.
    assert_eq!(finished.load(Ordering::SeqCst) + busy.load(Ordering::SeqCst), clients);
    assert!(finished.load(Ordering::SeqCst) > 0, "at least one client was served");
    assert_eq!(c.query(&p, "runaway", "read", json!({})), json!({ "i": 4 }));
}

#[test]
fn a_pool_too_small_for_the_reserve_is_refused_at_start() {
    let vm = phr_vm::Vm::<phr_executor::TxEnv>::new(phr_vm::VmConfig {
        max_instances: phr_vm::capacity::MIN_INSTANCES - 1,
        ..Default::default()
    });
    assert!(vm.is_err());
}
