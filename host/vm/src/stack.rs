//! The native stack contract execution runs on.
//!
//! Wasm runs on the thread that calls it, and each contract call (the
//! transaction's own and every nested `call`) is a fresh `Store` that may use up
//! to [`MAX_WASM_STACK`](crate::config) of native stack below the point it was
//! entered. A call tree at the nesting limit may therefore need
//! `(MAX_CALL_DEPTH + 1) ×` that, plus the host's frames between the levels:
//! more than the 2 MiB threads get by default. Running out of a thread's stack
//! is not a trap but a crash of the whole node, on every node at once.
//!
//! So every top-level call runs on a thread whose stack holds the worst case,
//! [`CONTRACT_THREAD_STACK`]: inline when the calling thread was built with it
//! and says so ([`mark_contract_stack`]), otherwise on a scoped thread spawned
//! for the call. The node builds its runtimes' threads with that stack, so the
//! spawn is only a fallback (tests, tools).

use crate::config::MAX_WASM_STACK;
use crate::limits::MAX_CALL_DEPTH;
use std::cell::Cell;

/// Native stack one level of a call tree may use besides its wasm stack: the
/// host function making the nested call, wasmtime's entry and exit
/// trampolines, and lifting and lowering the arguments (a generous bound; the
/// stack is only reserved address space until it is touched).
const HOST_STACK_PER_LEVEL: usize = 512 * 1024;

/// The host's frames below the top-level call (the executor, the runtime).
const BASE_STACK: usize = 2 * 1024 * 1024;

/// The stack a thread running contracts must have: enough for a call tree at
/// the nesting limit with every level at its wasm stack limit.
pub const CONTRACT_THREAD_STACK: usize =
    (MAX_CALL_DEPTH as usize + 1) * (MAX_WASM_STACK + HOST_STACK_PER_LEVEL) + BASE_STACK;

thread_local! {
    static HAS_CONTRACT_STACK: Cell<bool> = const { Cell::new(false) };
}

/// Declare that the current thread was built with at least
/// [`CONTRACT_THREAD_STACK`] bytes of stack (for a thread builder's start hook,
/// e.g. tokio's `on_thread_start`, of threads built with that `stack_size`).
/// Declaring it of a smaller thread would let a hostile contract crash it.
pub fn mark_contract_stack() {
    HAS_CONTRACT_STACK.with(|c| c.set(true));
}

/// Run `f` (a top-level contract call) on a stack of [`CONTRACT_THREAD_STACK`]
/// bytes: here if this thread has one, else on a thread spawned for it.
pub(crate) fn on_contract_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if HAS_CONTRACT_STACK.with(Cell::get) {
        return f();
    }
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("phr-contract".into())
            .stack_size(CONTRACT_THREAD_STACK)
            .spawn_scoped(s, || {
                mark_contract_stack();
                f()
            })
            .expect("spawning a thread for a contract call");
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_run_on_a_big_enough_stack_whatever_thread_asks() {
        // This test thread has no contract stack: the call moves to one.
        assert!(!HAS_CONTRACT_STACK.with(Cell::get));
        assert!(on_contract_stack(|| HAS_CONTRACT_STACK.with(Cell::get)));
        // A marked thread runs it in place.
        let here = std::thread::current().id();
        std::thread::Builder::new()
            .stack_size(CONTRACT_THREAD_STACK)
            .spawn(move || {
                mark_contract_stack();
                assert_eq!(on_contract_stack(|| std::thread::current().id()), std::thread::current().id());
                assert_ne!(std::thread::current().id(), here);
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(CONTRACT_THREAD_STACK >= (MAX_CALL_DEPTH as usize + 1) * MAX_WASM_STACK);
    }
}
