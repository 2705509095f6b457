//! The rules of the system contracts and of the three PHR contracts, checked
//! through the executor on a real RocksDB store and the real wasm components.

mod access;
mod block_rules;
mod capacity;
mod component_fuzz;
mod components;
mod consent;
mod explain;
mod identity;
mod lifecycle;
mod reads;
mod record;
mod runaway;
mod support;
mod tamper;
mod validation;
mod vectors;
