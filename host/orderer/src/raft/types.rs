//! The openraft type configuration of PHR Ledger.

use phr_ledger::Batch;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What applying an entry returns to the proposer: the height of the block it
/// became (none for membership and blank entries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub height: Option<u64>,
}

/// A member of the Raft group as the membership records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The node id of the genesis or of the admin command that added it (`node3`).
    pub name: String,
    pub org: String,
    /// Compressed secp256k1 public key, hex: peer messages from this node are
    /// signed with it.
    pub public_key: String,
    /// Where its peer protocol listens, `host:port`.
    pub peer_addr: String,
    /// Where its HTTP API listens, `host:port`.
    pub api_addr: String,
    /// SHA-256 of its TLS certificate (hex), pinned by the genesis or by the
    /// signed command that added it: peers accept no other certificate from it.
    #[serde(default)]
    pub tls_cert_sha256: String,
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.peer_addr)
    }
}

openraft::declare_raft_types!(
    /// The Raft type configuration of PHR Ledger.
    pub PhrRaft:
        D = Batch,
        R = Applied,
        NodeId = u64,
        Node = PeerNode,
        SnapshotData = tokio::fs::File,
);

/// The Raft node id of a node name: the first 8 bytes of its SHA-256, so that
/// every node derives the same id from the same name.
pub fn node_id(name: &str) -> u64 {
    let h = phr_ledger::sha256(&[b"phr/raft-node-id/v1\0", name.as_bytes()]);
    u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"))
}

pub type Entry = openraft::Entry<PhrRaft>;
pub type LogId = openraft::LogId<u64>;
pub type StorageError = openraft::StorageError<u64>;
pub type Membership = openraft::StoredMembership<u64, PeerNode>;

/// Serialize a raft value for storage or the wire (bincode 1, fixed-width).
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("raft values serialize")
}

/// Deserialize a raft value.
pub fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phr_ledger::{Keypair, TxBody};

    #[test]
    fn a_batch_round_trips_through_the_binary_encoding_and_still_verifies() {
        let k = Keypair::generate();
        let tx = TxBody {
            chain_id: "c".into(),
            contract: "consent".into(),
            method: "create".into(),
            args: r#"{"decision":"permit"}"#.into(),
            nonce: 1,
            expiry_height: 9,
            signer: k.public_key(),
        }
        .sign(&k);
        let batch = Batch { proposer: "node0".into(), time_ms: 5, attestation: None, txs: vec![tx.clone()] };
        let bytes = encode(&batch);
        let back: Batch = decode(&bytes).unwrap();
        assert_eq!(back, batch);
        assert_eq!(back.txs[0].id(), tx.id());
        back.txs[0].verify_signature().unwrap();
        // Keys and signatures travel as bytes, not hex text.
        assert!(bytes.len() < tx.body.args.len() + 33 + 64 + 200, "{} bytes", bytes.len());
        // A corrupted key is refused on decoding.
        let mut bad = bytes.clone();
        let at = bytes.windows(33).position(|w| w == tx.body.signer.0).unwrap();
        bad[at] = 0x07;
        assert!(decode::<Batch>(&bad).is_err());
    }
}
