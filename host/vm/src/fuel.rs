//! The pinned fuel cost table, version 1. Changing any number here changes
//! consensus: it must come with a new table version and a chain upgrade.
//!
//! Wasm operators cost what wasmtime 48.0.8's default table says (1 for most
//! operators, 0 for `nop`, `drop`, `block`, `loop`, `unreachable`, `return`,
//! `else`, `end`), plus 64 fuel per page requested by `memory.grow`. Host
//! functions cost a base plus a price per byte or entry moved.

use wasmtime::OperatorCost;

/// The operator cost table passed to the engine.
pub fn operator_costs() -> OperatorCost {
    let mut c = OperatorCost::new();
    c.variable.memory_grow_per_page = 64;
    c
}

/// Base cost of `get`.
pub const GET: u64 = 2_000;
/// Base cost of `put`.
pub const PUT: u64 = 3_000;
/// Base cost of `delete`.
pub const DELETE: u64 = 2_000;
/// Base cost of `scan` and `history`.
pub const SCAN: u64 = 5_000;
/// Cost of each entry a scan or history returns.
pub const PER_ENTRY: u64 = 1_000;
/// Base cost of `emit`.
pub const EMIT: u64 = 2_000;
/// Base cost of `call` (the callee's own fuel is charged as it runs).
pub const CALL: u64 = 20_000;
/// Cost of `caller`, `tx-id`, `block`.
pub const CONTEXT: u64 = 100;
/// Base cost of `log`.
pub const LOG: u64 = 500;
/// Cost of each byte read from state.
pub const PER_BYTE_READ: u64 = 2;
/// Cost of each byte written to state or to an event.
pub const PER_BYTE_WRITTEN: u64 = 4;
