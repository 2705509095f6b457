//! Authenticated peer messages.
//!
//! Every message between nodes, request or response, travels in an envelope
//! signed with the sender's node key: `SHA-256`-ECDSA (low-S) over
//! `"phr/peer-message/v2" 0x00 || borsh(chain, from, to, kind, sent_ms, reply_to, SHA-256(body))`,
//! where `reply_to` is zero in a request and, in a response, the SHA-256 of
//! the request envelope it answers: a recorded response cannot be passed off
//! as the answer to another request.
//! A receiver accepts it only if the sender is a member of the Raft group (or,
//! before the group has a membership, a genesis node or a configured peer; or a
//! node the leader is adding now), the signature verifies,
//! it is addressed to the receiver on this chain, of the expected kind, and
//! sent within a minute of the receiver's clock, and (over mutual TLS) came on
//! a connection whose client certificate is the one pinned for the sender.
//! Anything else is rejected and logged.

use borsh::{BorshDeserialize, BorshSerialize};
use parking_lot::RwLock;
use phr_ledger::{sha256, Hash32, Keypair, PublicKey, Signature};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

const DOMAIN: &[u8] = b"phr/peer-message/v2\0";
/// How far a message's send time may be from the receiver's clock.
pub const MAX_SKEW_MS: u64 = 60_000;

#[derive(BorshSerialize, BorshDeserialize)]
struct Envelope {
    chain: String,
    from: u64,
    to: u64,
    kind: String,
    sent_ms: u64,
    /// Zero in a request; in a response, the digest of the request envelope.
    reply_to: [u8; 32],
    body: Vec<u8>,
    signature: [u8; 64],
}

impl Envelope {
    fn signing_bytes(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        (&self.chain, self.from, self.to, &self.kind, self.sent_ms, self.reply_to, sha256(&[&self.body]).0)
            .serialize(&mut out)
            .expect("writing to a Vec");
        out
    }
}

/// The digest a response names: the SHA-256 of the request envelope's bytes.
pub fn request_digest(envelope: &[u8]) -> Hash32 {
    sha256(&[envelope])
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
    #[error("the response does not answer this request")]
    NotMyRequest,
    #[error("node {0} connected with a TLS certificate other than the one pinned for it")]
    WrongCertificate(String),
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

    /// A request envelope carrying `body` of `kind` to node `to`.
    pub fn seal(&self, to: u64, kind: &str, body: Vec<u8>) -> Vec<u8> {
        self.seal_reply(to, kind, body, Hash32([0; 32]))
    }

    /// A response envelope answering the request whose envelope digest is
    /// `request` ([`request_digest`]).
    pub fn seal_reply(&self, to: u64, kind: &str, body: Vec<u8>, request: Hash32) -> Vec<u8> {
        let mut env = Envelope {
            chain: self.chain.clone(),
            from: self.id,
            to,
            kind: kind.to_string(),
            sent_ms: now_ms(),
            reply_to: request.0,
            body,
            signature: [0; 64],
        };
        env.signature = self.key.sign(&env.signing_bytes()).0;
        borsh::to_vec(&env).expect("writing to a Vec")
    }
}

/// A node this node accepts messages from: its name, key, and the fingerprint
/// of its pinned TLS certificate (if the membership names one).
#[derive(Clone, Debug)]
pub struct Accepted {
    pub name: String,
    pub key: PublicKey,
    pub cert: Option<Hash32>,
}

type KeySet = HashMap<u64, Accepted>;

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
    fn get(&self, id: &u64) -> Option<&Accepted> {
        self.members.get(id).or_else(|| self.extra.get(id)).or_else(|| {
            if self.members.is_empty() {
                self.bootstrap.get(id)
            } else {
                None
            }
        })
    }

    /// Every node accepted now.
    fn accepted(&self) -> impl Iterator<Item = &Accepted> {
        let boot = if self.members.is_empty() { Some(self.bootstrap.values()) } else { None };
        self.members.values().chain(self.extra.values()).chain(boot.into_iter().flatten())
    }
}

fn entry(a: &Accepted) -> (u64, Accepted) {
    (super::types::node_id(&a.name), a.clone())
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
    pub fn set_bootstrap(&self, nodes: &[Accepted]) {
        self.keys.write().bootstrap = nodes.iter().map(entry).collect();
    }

    /// The members of the group, replacing the previous ones.
    pub fn set_members(&self, nodes: &[Accepted]) {
        self.keys.write().members = nodes.iter().map(entry).collect();
    }

    /// Accept messages (and the certificate) of `node`, one being added,
    /// until [`PeerKeys::forget`].
    pub fn insert(&self, node: Accepted) {
        let (id, v) = entry(&node);
        self.keys.write().extra.insert(id, v);
    }

    /// Stop accepting `name` unless it is a member.
    pub fn forget(&self, name: &str) {
        self.keys.write().extra.remove(&super::types::node_id(name));
    }

    /// The name of node `id`, if accepted.
    pub fn name_of(&self, id: u64) -> Option<String> {
        self.keys.read().get(&id).map(|a| a.name.clone())
    }

    /// Open a request envelope of `kind` that came over a connection whose
    /// client certificate has fingerprint `conn_cert` (`None` on a plain
    /// link): the sender and the body, or why it is refused.
    pub fn open_request(
        &self,
        bytes: &[u8],
        kind: &str,
        conn_cert: Option<&Hash32>,
    ) -> Result<(u64, Vec<u8>), PeerAuthError> {
        let env = self.open(bytes, kind, None)?;
        if env.reply_to != [0; 32] {
            return Err(PeerAuthError::Malformed("a response sent as a request".into()));
        }
        if let Some(cert) = conn_cert {
            let accepted = self.keys.read().get(&env.from).cloned();
            if accepted.as_ref().and_then(|a| a.cert) != Some(*cert) {
                return Err(PeerAuthError::WrongCertificate(accepted.map(|a| a.name).unwrap_or_default()));
            }
        }
        Ok((env.from, env.body))
    }

    /// Open the response of `kind` from node `from` to the request whose
    /// envelope had digest `request`.
    pub fn open_response(
        &self,
        bytes: &[u8],
        kind: &str,
        from: u64,
        request: Hash32,
    ) -> Result<Vec<u8>, PeerAuthError> {
        let env = self.open(bytes, kind, Some(from))?;
        if env.reply_to != request.0 {
            return Err(PeerAuthError::NotMyRequest);
        }
        Ok(env.body)
    }

    fn open(&self, bytes: &[u8], kind: &str, from: Option<u64>) -> Result<Envelope, PeerAuthError> {
        let env: Envelope = borsh::from_slice(bytes).map_err(|e| PeerAuthError::Malformed(e.to_string()))?;
        if env.chain != self.chain {
            return Err(PeerAuthError::WrongChain(env.chain));
        }
        if env.to != self.me {
            return Err(PeerAuthError::NotForMe(env.to));
        }
        let a = self.keys.read().get(&env.from).cloned().ok_or(PeerAuthError::UnknownSender(env.from))?;
        a.key
            .verify(&env.signing_bytes(), &Signature(env.signature))
            .map_err(|_| PeerAuthError::BadSignature(a.name.clone()))?;
        if from.is_some_and(|f| f != env.from) {
            return Err(PeerAuthError::BadSignature(a.name));
        }
        if env.kind != kind {
            return Err(PeerAuthError::WrongKind { expected: kind.to_string(), got: env.kind });
        }
        let skew = now_ms().abs_diff(env.sent_ms);
        if skew > MAX_SKEW_MS {
            return Err(PeerAuthError::Stale(skew));
        }
        Ok(env)
    }
}

impl phr_tls::pinned::PeerCertPolicy for PeerKeys {
    fn node_with_cert(&self, fingerprint: &Hash32) -> Option<String> {
        self.keys.read().accepted().find(|a| a.cert.as_ref() == Some(fingerprint)).map(|a| a.name.clone())
    }
}

impl std::fmt::Debug for PeerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerKeys(chain {}, node {})", self.chain, self.me)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::node_id;

    fn acc(name: &str, k: &Keypair, cert: u8) -> Accepted {
        Accepted { name: name.to_string(), key: k.public_key(), cert: Some(Hash32([cert; 32])) }
    }

    #[test]
    fn only_known_signers_addressing_us_are_accepted() {
        let (a, mallory) = (Keypair::generate(), Keypair::generate());
        let (ida, idb) = (node_id("node0"), node_id("node1"));
        let sa = Signer::new("c", ida, a.clone());
        let keys_b = PeerKeys::new("c", idb);
        keys_b.set_bootstrap(&[acc("node0", &a, 1)]);

        let msg = sa.seal(idb, "append", b"hello".to_vec());
        assert_eq!(keys_b.open_request(&msg, "append", None).unwrap(), (ida, b"hello".to_vec()));
        assert!(matches!(keys_b.open_request(&msg, "vote", None), Err(PeerAuthError::WrongKind { .. })));

        // Mallory signs as node0: the signature does not match node0's key.
        let forged = Signer::new("c", ida, mallory.clone()).seal(idb, "append", b"x".to_vec());
        assert_eq!(keys_b.open_request(&forged, "append", None), Err(PeerAuthError::BadSignature("node0".into())));
        // Mallory as an unknown node.
        let unknown = Signer::new("c", node_id("mallory"), mallory).seal(idb, "append", b"x".to_vec());
        assert!(matches!(keys_b.open_request(&unknown, "append", None), Err(PeerAuthError::UnknownSender(_))));
        // A message for another node or chain, or garbage.
        assert!(matches!(
            keys_b.open_request(&sa.seal(node_id("node2"), "append", vec![]), "append", None),
            Err(PeerAuthError::NotForMe(_))
        ));
        assert!(matches!(
            keys_b.open_request(&Signer::new("other", ida, a).seal(idb, "append", vec![]), "append", None),
            Err(PeerAuthError::WrongChain(_))
        ));
        assert!(matches!(keys_b.open_request(b"garbage", "append", None), Err(PeerAuthError::Malformed(_))));
        // A body changed in flight.
        let mut tampered = msg.clone();
        let n = tampered.len() - 70;
        tampered[n] ^= 1;
        assert!(keys_b.open_request(&tampered, "append", None).is_err());
    }

    #[test]
    fn a_request_must_come_over_the_senders_pinned_certificate() {
        let a = Keypair::generate();
        let keys = PeerKeys::new("c", node_id("me"));
        keys.set_bootstrap(&[acc("node0", &a, 7)]);
        let msg = Signer::new("c", node_id("node0"), a).seal(node_id("me"), "vote", vec![]);
        assert!(keys.open_request(&msg, "vote", Some(&Hash32([7; 32]))).is_ok());
        assert_eq!(
            keys.open_request(&msg, "vote", Some(&Hash32([8; 32]))),
            Err(PeerAuthError::WrongCertificate("node0".into()))
        );
        use phr_tls::pinned::PeerCertPolicy;
        assert_eq!(keys.node_with_cert(&Hash32([7; 32])).as_deref(), Some("node0"));
        assert_eq!(keys.node_with_cert(&Hash32([8; 32])), None);
    }

    #[test]
    fn a_response_is_bound_to_the_request_it_answers() {
        let (a, b) = (Keypair::generate(), Keypair::generate());
        let (ida, idb) = (node_id("node0"), node_id("node1"));
        let keys_a = PeerKeys::new("c", ida);
        keys_a.set_bootstrap(&[acc("node1", &b, 2)]);
        let sa = Signer::new("c", ida, a);
        let sb = Signer::new("c", idb, b);
        let req1 = sa.seal(idb, "vote", b"one".to_vec());
        let req2 = sa.seal(idb, "vote", b"two".to_vec());
        let resp1 = sb.seal_reply(ida, "vote/response", b"yes".to_vec(), request_digest(&req1));
        assert_eq!(keys_a.open_response(&resp1, "vote/response", idb, request_digest(&req1)).unwrap(), b"yes");
        // Replayed as the answer to another request: refused.
        assert_eq!(
            keys_a.open_response(&resp1, "vote/response", idb, request_digest(&req2)),
            Err(PeerAuthError::NotMyRequest)
        );
        // A response is not a request.
        assert!(keys_a.open_request(&resp1, "vote/response", None).is_err());
    }

    #[test]
    fn genesis_keys_count_only_until_the_group_has_members_and_removed_members_lose_access() {
        let (a, b) = (Keypair::generate(), Keypair::generate());
        let keys = PeerKeys::new("c", node_id("me"));
        let from_a = || Signer::new("c", node_id("node0"), a.clone()).seal(node_id("me"), "vote", vec![]);
        keys.set_bootstrap(&[acc("node0", &a, 1)]);
        assert!(keys.open_request(&from_a(), "vote", None).is_ok());
        keys.set_members(&[acc("node1", &b, 2)]);
        assert!(keys.open_request(&from_a(), "vote", None).is_err(), "node0 is not a member");
        use phr_tls::pinned::PeerCertPolicy;
        assert_eq!(keys.node_with_cert(&Hash32([1; 32])), None, "nor is its certificate");
        keys.set_members(&[acc("node0", &a, 1), acc("node1", &b, 2)]);
        assert!(keys.open_request(&from_a(), "vote", None).is_ok());
        keys.set_members(&[acc("node1", &b, 2)]);
        assert!(keys.open_request(&from_a(), "vote", None).is_err(), "removed");
        keys.insert(acc("node0", &a, 1));
        assert!(keys.open_request(&from_a(), "vote", None).is_ok(), "being added again");
        keys.forget("node0");
        assert!(keys.open_request(&from_a(), "vote", None).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Peer messages arrive from the network: arbitrary bytes, and genuine
        /// envelopes damaged anywhere, are refused without panicking; none is
        /// taken for another message (issue 11, point 10).
        #[test]
        fn damaged_or_arbitrary_peer_messages_are_refused(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            at in proptest::prelude::any::<usize>(), flip in 1u8.., cut in proptest::prelude::any::<bool>(),
        ) {
            let a = Keypair::from_secret(&[3u8; 32]).unwrap();
            let keys = PeerKeys::new("c", node_id("me"));
            keys.set_bootstrap(&[acc("node0", &a, 1)]);
            let _ = keys.open_request(&noise, "append", None);
            let _ = keys.open_response(&noise, "append", node_id("node0"), Hash32([0; 32]));
            let body = b"an append entries request".to_vec();
            let good = Signer::new("c", node_id("node0"), a).seal(node_id("me"), "append", body.clone());
            let mut bad = good.clone();
            let i = at % bad.len();
            if cut { bad.truncate(i) } else { bad[i] ^= flip }
            if let Ok((from, got)) = keys.open_request(&bad, "append", None) {
                // Only a change the signature does not cover could pass, and it
                // must not change who sent what.
                proptest::prop_assert_eq!((from, got), (node_id("node0"), body));
            }
            // The Raft payloads inside are decoded after the envelope: arbitrary
            // bytes there are refused too.
            let _ = crate::raft::types::decode::<crate::raft::types::Entry>(&noise);
            let _ = crate::raft::types::decode::<Vec<phr_ledger::SignedTx>>(&noise);
        }
    }
}
