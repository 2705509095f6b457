//! The contracts of PHR Ledger as WebAssembly components, ready to install.
//!
//! Built from `contracts/` by this crate's build script: each contract is
//! compiled for `wasm32-unknown-unknown` and encoded as a component that imports
//! only `phr:chaincode/host@0.2.0`.
//!
//! ```
//! assert!(phr_contracts::CONSENT.starts_with(b"\0asm"));
//! assert_eq!(phr_contracts::STANDARD.len(), 3);
//! assert_ne!(phr_contracts::CONSENT, phr_contracts::CONSENT_V2);
//! ```

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// Components built into `phr` that a network may install later, by the name
/// `phr contract builtin` knows them by.
pub const BUILTIN: [(&str, &[u8]); 5] = [
    ("consent", CONSENT),
    ("consent-v2", CONSENT_V2),
    ("access-grant", ACCESS_GRANT),
    ("record-anchor", RECORD_ANCHOR),
    ("runaway", RUNAWAY),
];

/// The three contracts every network starts with: (name, component).
pub const STANDARD: [(&str, &[u8]); 3] =
    [("consent", CONSENT), ("access-grant", ACCESS_GRANT), ("record-anchor", RECORD_ANCHOR)];
