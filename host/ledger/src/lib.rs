//! Types of PHR Ledger: transactions, blocks, receipts, identities, the genesis,
//! their one canonical encoding and their hashes. No I/O, no engines.
//!
//! ```
//! use phr_ledger::{Keypair, TxBody, Canonical};
//!
//! let key = Keypair::generate();
//! let tx = TxBody {
//!     chain_id: "phr-demo".into(),
//!     contract: "consent".into(),
//!     method: "create".into(),
//!     args: r#"{"decision":"permit"}"#.into(),
//!     nonce: 1,
//!     expiry_height: 100,
//!     signer: key.public_key(),
//! }
//! .sign(&key);
//! assert!(tx.verify_signature().is_ok());
//! let bytes = tx.to_canonical();
//! assert_eq!(phr_ledger::SignedTx::from_canonical(&bytes).unwrap().id(), tx.id());
//! ```

mod admin;
mod batch;
mod block;
mod caller;
mod encoding;
mod genesis;
mod hash;
mod identity;
mod keytext;
mod receipt;
mod tx;

pub use admin::{AdminCommand, AdminCommandBody, NodeAction};
pub use batch::{Attestation, Batch};
pub use block::{Block, BlockHeader};
pub use caller::{Caller, CallerKind};
pub use encoding::{Canonical, DecodeError, ENCODING_VERSION};
pub use genesis::{ChainParams, Genesis, GenesisContract, GenesisError, NodeInfo, Org, OrgPolicy, Policies};
pub use hash::{merkle_root, sha256, Hash32};
pub use identity::{IdentityId, KeyError, KeyFile, Keypair, PublicKey, Signature};
pub use keytext::{display_key, display_slot, key_text};
pub use receipt::{Event, ReadEntry, Receipt, TxStatus, WriteEntry};
pub use tx::{SignedTx, TxBody, TxError, TxId};

/// Checks shared by names that end up in keys and URLs (organisations, contracts,
/// node ids): 1 to 40 characters of `a-z`, `0-9` and `-`, starting with a letter.
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}
