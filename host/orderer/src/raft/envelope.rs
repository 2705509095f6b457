//! Authenticated peer messages.
//!
//! Every message between nodes, request or response, travels in an envelope
//! signed with the sender's node key: `SHA-256`-ECDSA (low-S) over
//! `"phr/peer-message/v1" 0x00 || borsh(chain, from, to, kind, sent_ms, SHA-256(body))`.
//! A receiver accepts it only if the sender is a member of the Raft group (or,
//! before the group has a membership, a genesis node or a configured peer; or a
//! node the leader is adding now), the signature verifies,
//! it is addressed to the receiver on this chain, of the expected kind, and
//! sent within a minute of the receiver's clock. Anything else is rejected and
//! logged.

use borsh::{BorshDeserialize, BorshSerialize};
use parking_lot::RwLock;
use phr_ledger::{sha256, Keypair, PublicKey, Signature};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

const DOMAIN: &[u8] = b"phr/peer-message/v1\0";
/// How far a message's send time may be from the receiver's clock.
pub const MAX_SKEW_MS: u64 = 60_000;

#[derive(BorshSerialize, BorshDeserialize)]
struct Envelope {
    chain: String,
    from: u64,
    to: u64,
    kind: String,
    sent_ms: u64,
    body: Vec<u8>,
    signature: [u8; 64],
}

fn signing_bytes(chain: &str, from: u64, to: u64, kind: &str, sent_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    (chain, from, to, kind, sent_ms, sha256(&[body]).0).serialize(&mut out).expect("writing to a Vec");
    out
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Why a peer message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerAuthError {
    #[error("not a peer envelope: {0}")]
    Malformed(String),
    #[error("message for chain {0:?}")]
    WrongChain(String),
    #[error("message addressed to node {0}, not this one")]
    NotForMe(u64),
    #[error("message from unknown node {0}")]
    UnknownSender(u64),
    #[error("bad signature on a message claiming to be from {0}")]
    BadSignature(String),
    #[error("message sent {0} ms away from this node's clock")]
    Stale(u64),
    #[error("expected a {expected} message, got {got}")]
    WrongKind { expected: String, got: String },
}

/// Seals messages from this node.
pub struct Signer {
    chain: String,
    id: u64,
    key: Keypair,
}

impl Signer {
    pub fn new(chain: &str, id: u64, key: Keypair) -> Self {
        Signer { chain: chain.to_string(), id, key }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// An envelope carrying `body` of `kind` to node `to`.
    pub fn seal(&self, to: u64, kind: &str, body: Vec<u8>) -> Vec<u8> {
        let sent_ms = now_ms();
        let sig = self.key.sign(&signing_bytes(&self.chain, self.id, to, kind, sent_ms, &body));
        let env = Envelope {
            chain: self.chain.clone(),
            from: self.id,
            to,
            kind: kind.to_string(),
            sent_ms,
            body,
            signature: sig.0,
        };
        borsh::to_vec(&env).expect("writing to a Vec")
    }
}

type KeySet = HashMap<u64, (String, PublicKey)>;

#[derive(Default)]
struct Keys {
    /// The current members of the Raft group.
    members: KeySet,
    /// The genesis nodes and configured peers: accepted only until the group has
    /// a membership.
    bootstrap: KeySet,
    /// Nodes the leader is adding now.
    extra: KeySet,
}

impl Keys {
    fn get(&self, id: &u64) -> Option<&(String, PublicKey)> {
        self.members.get(id).or_else(|| self.extra.get(id)).or_else(|| {
            if self.members.is_empty() {
                self.bootstrap.get(id)
            } else {
                None
            }
        })
    }
}

fn entry(name: &str, key: PublicKey) -> (u64, (String, PublicKey)) {
    (super::types::node_id(name), (name.to_string(), key))
}

/// The keys of the nodes this node accepts messages from: the members of the
/// group (a removed node loses access), the genesis nodes and configured peers
/// until the group has a membership, and nodes being added.
pub struct PeerKeys {
    chain: String,
    me: u64,
    keys: RwLock<Keys>,
}

impl PeerKeys {
    pub fn new(chain: &str, me: u64) -> Self {
        PeerKeys { chain: chain.to_string(), me, keys: RwLock::new(Keys::default()) }
    }

    /// The genesis nodes and configured peers, accepted until the group has a membership.
    pub fn set_bootstrap(&self, nodes: &[(String, PublicKey)]) {
        self.keys.write().bootstrap = nodes.iter().map(|(n, k)| entry(n, *k)).collect();
    }

    /// The members of the group, replacing the previous ones.
    pub fn set_members(&self, nodes: &[(String, PublicKey)]) {
        self.keys.write().members = nodes.iter().map(|(n, k)| entry(n, *k)).collect();
    }

    /// Accept messages signed by `key` as node `name` (one being added), until
    /// [`PeerKeys::forget`].
    pub fn insert(&self, name: &str, key: PublicKey) {
        let (id, v) = entry(name, key);
        self.keys.write().extra.insert(id, v);
    }

    /// Stop accepting `name` unless it is a member.
    pub fn forget(&self, name: &str) {
        self.keys.write().extra.remove(&super::types::node_id(name));
    }

    /// The name of node `id`, if accepted.
    pub fn name_of(&self, id: u64) -> Option<String> {
        self.keys.read().get(&id).map(|(n, _)| n.clone())
    }

    /// Open an envelope of `kind` (from `from`, when a particular sender is
    /// expected): the sender and the body, or why it is refused.
    pub fn open(&self, bytes: &[u8], kind: &str, from: Option<u64>) -> Result<(u64, Vec<u8>), PeerAuthError> {
        let env: Envelope = borsh::from_slice(bytes).map_err(|e| PeerAuthError::Malformed(e.to_string()))?;
        if env.chain != self.chain {
            return Err(PeerAuthError::WrongChain(env.chain));
        }
        if env.to != self.me {
            return Err(PeerAuthError::NotForMe(env.to));
        }
        let (name, key) = self.keys.read().get(&env.from).cloned().ok_or(PeerAuthError::UnknownSender(env.from))?;
        key.verify(
            &signing_bytes(&env.chain, env.from, env.to, &env.kind, env.sent_ms, &env.body),
            &Signature(env.signature),
        )
        .map_err(|_| PeerAuthError::BadSignature(name.clone()))?;
        if from.is_some_and(|f| f != env.from) {
            return Err(PeerAuthError::BadSignature(name));
        }
        if env.kind != kind {
            return Err(PeerAuthError::WrongKind { expected: kind.to_string(), got: env.kind });
        }
        let skew = now_ms().abs_diff(env.sent_ms);
        if skew > MAX_SKEW_MS {
            return Err(PeerAuthError::Stale(skew));
        }
        Ok((env.from, env.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::node_id;

    #[test]
    fn only_known_signers_addressing_us_are_accepted() {
        let (a, b, mallory) = (Keypair::generate(), Keypair::generate(), Keypair::generate());
        let (ida, idb) = (node_id("node0"), node_id("node1"));
        let sa = Signer::new("c", ida, a.clone());
        let keys_b = PeerKeys::new("c", idb);
        keys_b.set_bootstrap(&[("node0".to_string(), a.public_key())]);

        let msg = sa.seal(idb, "append", b"hello".to_vec());
        assert_eq!(keys_b.open(&msg, "append", Some(ida)).unwrap(), (ida, b"hello".to_vec()));
        assert!(matches!(keys_b.open(&msg, "vote", None), Err(PeerAuthError::WrongKind { .. })));

        // Mallory signs as node0: the signature does not match node0's key.
        let forged = Signer::new("c", ida, mallory.clone()).seal(idb, "append", b"x".to_vec());
        assert_eq!(keys_b.open(&forged, "append", None), Err(PeerAuthError::BadSignature("node0".into())));
        // Mallory as an unknown node.
        let unknown = Signer::new("c", node_id("mallory"), mallory).seal(idb, "append", b"x".to_vec());
        assert!(matches!(keys_b.open(&unknown, "append", None), Err(PeerAuthError::UnknownSender(_))));
        // A message for another node or chain, or garbage.
        assert!(matches!(
            keys_b.open(&sa.seal(node_id("node2"), "append", vec![]), "append", None),
            Err(PeerAuthError::NotForMe(_))
        ));
        assert!(matches!(
            keys_b.open(&Signer::new("other", ida, a).seal(idb, "append", vec![]), "append", None),
            Err(PeerAuthError::WrongChain(_))
        ));
        assert!(matches!(keys_b.open(b"garbage", "append", None), Err(PeerAuthError::Malformed(_))));
        // A body changed in flight.
        let mut tampered = msg.clone();
        let n = tampered.len() - 70;
        tampered[n] ^= 1;
        assert!(keys_b.open(&tampered, "append", None).is_err());
        let _ = b;
    }

    #[test]
    fn genesis_keys_count_only_until_the_group_has_members_and_removed_members_lose_access() {
        let (a, b) = (Keypair::generate(), Keypair::generate());
        let keys = PeerKeys::new("c", node_id("me"));
        let from_a = || Signer::new("c", node_id("node0"), a.clone()).seal(node_id("me"), "vote", vec![]);
        keys.set_bootstrap(&[("node0".to_string(), a.public_key())]);
        assert!(keys.open(&from_a(), "vote", None).is_ok());
        keys.set_members(&[("node1".to_string(), b.public_key())]);
        assert!(keys.open(&from_a(), "vote", None).is_err(), "node0 is not a member");
        keys.set_members(&[("node0".to_string(), a.public_key()), ("node1".to_string(), b.public_key())]);
        assert!(keys.open(&from_a(), "vote", None).is_ok());
        keys.set_members(&[("node1".to_string(), b.public_key())]);
        assert!(keys.open(&from_a(), "vote", None).is_err(), "removed");
        keys.insert("node0", a.public_key());
        assert!(keys.open(&from_a(), "vote", None).is_ok(), "being added again");
        keys.forget("node0");
        assert!(keys.open(&from_a(), "vote", None).is_err());
    }
}
