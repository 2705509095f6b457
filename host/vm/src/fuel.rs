//! The fuel cost tables the project owns. A chain names its table in the
//! genesis (`params.fuel_table`); changing any number of a published table
//! changes consensus, so a new price list is a new table version and a new
//! chain (or a chain upgrade), never an edit.
//!
//! Table 1 prices every Wasm operator by the project's own rule, written out
//! here rather than taken from the engine: `nop`, `drop`, `block`, `loop`,
//! `unreachable`, `return`, `else` and `end` are free (they generate no code,
//! or only a jump), every other operator costs 1; bulk operators cost 1 more
//! per byte or element they move, and `memory.grow` 64 per page it asks for.
//! An operator an engine upgrade adds is priced by the same rule (1), and a new
//! kind of variable cost makes the engine refuse to start until a table prices
//! it, so the engine's defaults never decide a committed `fuel_used`. Host
//! functions cost a base plus a price per byte or entry moved (below).

use wasmtime::OperatorCost;

/// The fuel tables this build knows.
pub const TABLES: &[u32] = &[1];

/// Operators that cost nothing in table 1, by the engine's operator names.
const FREE_V1: &[&str] = &["Nop", "Drop", "Block", "Loop", "Unreachable", "Return", "Else", "End"];

/// Per-byte, per-element and per-page prices of table 1, by the engine's names.
const VARIABLE_V1: &[(&str, u8)] = &[
    ("memory_copy_per_byte", 1),
    ("memory_fill_per_byte", 1),
    ("memory_init_per_byte", 1),
    ("memory_grow_per_page", 64),
    ("table_copy_per_element", 1),
    ("table_fill_per_element", 1),
    ("table_init_per_element", 1),
    ("table_grow_per_element", 1),
    // GC proposals are off (config.rs); priced all the same.
    ("array_copy_per_element", 1),
    ("array_fill_per_element", 1),
    ("array_new_data_per_element", 1),
    ("array_init_data_per_element", 1),
    ("array_new_elem_per_element", 1),
    ("array_init_elem_per_element", 1),
    ("array_new_default_per_element", 1),
    ("array_new_per_element", 1),
];

/// Why a fuel table cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FuelTableError {
    #[error("the genesis asks for fuel table {0}, which this build does not know (it knows {TABLES:?}): run a release that does")]
    Unknown(u32),
    #[error("the engine has a cost the fuel table does not price: {0}; pricing it is a new table version")]
    Unpriced(String),
    #[error("the fuel table could not be given to the engine: {0}")]
    Engine(String),
}

/// The engine's operator cost table for fuel table `version`, every entry set
/// from the project's rule (the engine's own defaults are overwritten, field
/// by field).
pub fn operator_costs(version: u32) -> Result<OperatorCost, FuelTableError> {
    if !TABLES.contains(&version) {
        return Err(FuelTableError::Unknown(version));
    }
    let engine = |e: serde_json::Error| FuelTableError::Engine(e.to_string());
    let mut table = serde_json::to_value(OperatorCost::new()).map_err(engine)?;
    let fields = table.as_object_mut().ok_or_else(|| FuelTableError::Engine("not a table".into()))?;
    for (name, cost) in fields.iter_mut() {
        if name == "variable" {
            let variable = cost.as_object_mut().ok_or_else(|| FuelTableError::Engine("variable".into()))?;
            for (kind, price) in variable.iter_mut() {
                let ours = VARIABLE_V1
                    .iter()
                    .find(|(k, _)| k == kind)
                    .ok_or_else(|| FuelTableError::Unpriced(kind.clone()))?;
                *price = ours.1.into();
            }
        } else {
            *cost = u8::from(!FREE_V1.contains(&name.as_str())).into();
        }
    }
    serde_json::from_value(table).map_err(engine)
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::Operator;

    #[test]
    fn table_1_prices_operators_by_the_projects_rule() {
        let t = operator_costs(1).unwrap();
        for (op, cost) in [
            (Operator::Nop, 0),
            (Operator::Drop, 0),
            (Operator::End, 0),
            (Operator::I32Add, 1),
            (Operator::I64DivU, 1),
            (Operator::Call { function_index: 0 }, 1),
            (Operator::MemoryGrow { mem: 0 }, 1),
            (Operator::F64Sqrt, 1),
        ] {
            assert_eq!(t.cost(&op), cost, "{op:?}");
        }
        assert_eq!(t.variable.memory_grow_per_page, 64);
        assert_eq!(t.variable.memory_copy_per_byte, 1);
        // Every variable price the engine has is one the table names.
        let names: Vec<String> =
            serde_json::to_value(&t.variable).unwrap().as_object().unwrap().keys().cloned().collect();
        for n in &names {
            assert!(VARIABLE_V1.iter().any(|(k, _)| k == n), "{n} is not priced by table 1");
        }
        assert_eq!(names.len(), VARIABLE_V1.len(), "table 1 prices a cost the engine no longer has");
    }

    #[test]
    fn an_unknown_table_is_refused_with_what_this_build_knows() {
        let e = operator_costs(2).unwrap_err();
        assert_eq!(e, FuelTableError::Unknown(2));
        assert!(e.to_string().contains("knows [1]"), "{e}");
        assert!(operator_costs(0).is_err());
    }
}
