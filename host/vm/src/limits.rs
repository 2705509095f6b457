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
