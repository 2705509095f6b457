//! Audit of a PHR Ledger chain, from the chain alone.
//!
//! - [`replay`]: a fresh state, every block executed again from the genesis
//!   (or from a trusted snapshot) with the code that was live at its height,
//!   every receipt and every committed root compared; the first divergence is
//!   pinned to its height, transaction and field or key.
//! - [`disclosures`]: a patient's accounting of disclosures — every access
//!   request, grant, denial, refusal, break-glass, review and disclosure —
//!   built from the *replayed* receipts, so every line is checked by replay.
//! - [`fhir`]: that accounting as a FHIR R5 `AuditEvent` bundle.
//!
//! The chain comes from a [`ChainSource`]: a node's data directory
//! ([`StoreSource`]) or, in the node crate, its HTTP API.
//!
//! ```no_run
//! # fn demo() -> Result<(), phr_audit::AuditError> {
//! use phr_audit::{replay, ReplayOptions, StoreSource};
//! let source = StoreSource::open("mynet/node0/data".as_ref(), "mynet/genesis.json".as_ref())?;
//! let report = replay(&source, &ReplayOptions::default(), &mut |_| {}, None)?;
//! assert!(report.divergence.is_none(), "{:?}", report.divergence);
//! # Ok(()) }
//! ```

pub mod disclosures;
pub mod fhir;
mod replay;
mod source;
pub mod wire;

pub use replay::{replay, CodeUse, Divergence, Progress, ReplayOptions, ReplayReport, Visit};
pub use source::{ChainSource, StoreSource, StoredBlock, TipInfo};

/// Why an audit could not be carried out (a divergence is a finding, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("source: {0}")]
    Source(String),
    #[error("{0}")]
    Exec(#[from] phr_executor::ExecError),
    #[error("store: {0}")]
    State(#[from] phr_state::StateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}
