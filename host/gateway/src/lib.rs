//! The PHR gateway: where a node holds the content of the records its
//! organisation saves, encrypted at rest, and from which it serves them only
//! as the chain decides.
//!
//! Only this crate holds record content or data keys. Content is sealed under
//! a fresh key per record version, wrapped by the node's key-encryption key
//! ([`crypto`]), in a store of its own beside the chain's ([`store`]).
//!
//! ```
//! use phr_gateway::{crypto::Kek, store::{Meta, RecordStore, SaveState}};
//! let dir = tempfile::tempdir().unwrap();
//! let store = RecordStore::open(dir.path(), Kek::generate()).unwrap();
//! let meta = Meta { record_id: "stmarys/lab/1".into(), version: 1, patient: "ab".repeat(20),
//!     media_type: "text/plain".into(), size: 3, sha256: "00".repeat(32),
//!     state: SaveState::Pending, saved_at_ms: 0, anchor_expiry_height: None };
//! store.stage(&meta, b"CBC").unwrap();
//! store.confirm("stmarys/lab/1", 1).unwrap();
//! assert_eq!(store.read("stmarys/lab/1", 1).unwrap().unwrap().1.as_slice(), b"CBC");
//! ```

pub mod crypto;
pub mod fhir;
pub mod store;
