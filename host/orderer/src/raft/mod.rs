//! The Raft orderer: openraft with its log, vote and state machine in the
//! node's RocksDB, one log entry per block, and authenticated HTTP between peers.
//!
//! - [`types`]: the type configuration (an entry's payload is a [`phr_ledger::Batch`]).
//! - [`log_store`] and [`state_machine`]: openraft's storage, over [`phr_state::StateDb`];
//!   applying an entry is the executor's atomic block commit.
//! - [`envelope`]: every peer message, both ways, signed with the node's key and
//!   checked against the keys of the genesis and the membership.
//! - [`client`] and [`server`]: the peer protocol over HTTP.
//! - [`witness`]: the voters' majority decides whose results are right when
//!   nodes disagree; the node outvoted halts.
//! - [`sequencer`]: [`RaftSequencer`], the [`crate::Sequencer`] of a Raft node.

pub mod client;
pub mod envelope;
pub mod log_store;
pub mod sequencer;
pub mod server;
pub mod state_machine;
pub mod types;
pub mod witness;

pub use envelope::{PeerKeys, Signer};
pub use sequencer::{AdminOp, Member, RaftParams, RaftSequencer, RaftSettings, RaftStatus};
pub use types::{node_id, PeerNode, PhrRaft};
