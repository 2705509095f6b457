//! Host limits, version 1. Breaking one traps the call; like the fuel table they
//! are consensus-critical.

/// Longest state key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest state value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Most entries one `scan` or `history` returns.
pub const MAX_SCAN_ENTRIES: u32 = 1_000;
/// Most writes (puts and deletes) of one transaction.
pub const MAX_WRITES: usize = 4_096;
/// Most events of one transaction.
pub const MAX_EVENTS: usize = 64;
/// Most events a client's query may hand back (never committed).
pub const MAX_QUERY_EVENTS: usize = 1_024;
/// Largest event payload, in bytes.
pub const MAX_EVENT_PAYLOAD: usize = 16 * 1024;
/// Most topics of one event, and the longest topic.
pub const MAX_TOPICS: usize = 8;
pub const MAX_TOPIC_BYTES: usize = 128;
/// Longest event name.
pub const MAX_EVENT_NAME: usize = 64;
/// Deepest chain of nested `call`s.
pub const MAX_CALL_DEPTH: u32 = 4;
/// Largest result a call may return, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Largest component accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 8 * 1024 * 1024;
/// Longest log line kept (longer lines are cut).
pub const MAX_LOG_BYTES: usize = 4 * 1024;

/// Limits a component must meet to be installed (version 1). They bound what
/// compiling it can cost, so that every node compiles every installed
/// component in bounded time without a clock (which nodes would not agree on).
pub mod install {
    /// Core modules in one component.
    pub const MAX_MODULES: usize = 16;
    /// Functions defined in one core module.
    pub const MAX_FUNCTIONS: u64 = 20_000;
    /// Size of one function body, in bytes.
    pub const MAX_FUNCTION_BODY_BYTES: usize = 256 * 1024;
    /// Locals of one function.
    pub const MAX_LOCALS: u64 = 4_096;
    /// Nesting depth of blocks, loops and ifs in one function.
    pub const MAX_NESTING: usize = 512;
    /// Targets of one `br_table`.
    pub const MAX_BR_TABLE_TARGETS: u32 = 8_192;
    /// Globals of one core module.
    pub const MAX_GLOBALS: u64 = 1_000;
    /// Elements of one table (initial and maximum).
    pub const MAX_TABLE_ELEMENTS: u64 = 100_000;
    /// Bytes of data segments in one core module.
    pub const MAX_DATA_BYTES: usize = 4 * 1024 * 1024;
    /// Estimated compile cost of one function: its body bytes plus
    /// (locals + 1) × (blocks, loops, ifs, branches, calls, br_table targets).
    pub const MAX_FUNCTION_COMPILE_COST: u64 = 1_000_000;
    /// Estimated compile cost of all functions of a component.
    pub const MAX_COMPILE_COST: u64 = 8_000_000;
}
