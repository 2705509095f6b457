//! Signed commands of organisation admins that change the network (not the
//! chain): adding, promoting and removing nodes of the Raft group.

use crate::identity::{KeyError, Keypair, PublicKey, Signature};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What an admin asks for.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum NodeAction {
    /// Add a node of the admin's organisation as a learner (it catches up, then
    /// can be promoted). Auditors' nodes stay learners.
    Add {
        name: String,
        org: String,
        public_key: PublicKey,
        peer_addr: String,
        api_addr: String,
        /// SHA-256 of the node's TLS certificate: peers accept no other from it.
        tls_cert_sha256: crate::Hash32,
    },
    /// Make a learner of the admin's organisation a voter.
    Promote { name: String },
    /// Remove a node of the admin's organisation.
    Remove { name: String },
}

impl NodeAction {
    pub fn name(&self) -> &str {
        match self {
            NodeAction::Add { name, .. } | NodeAction::Promote { name } | NodeAction::Remove { name } => name,
        }
    }
}

/// The signed part of an admin command.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AdminCommandBody {
    pub chain_id: String,
    #[serde(flatten)]
    pub action: NodeAction,
    /// When it was signed (ms since the epoch); nodes refuse old commands.
    pub issued_ms: u64,
    /// The log index of the membership the admin saw (`raft.membership_index` in
    /// a node's status). The command is refused once the membership changed, so a
    /// captured command cannot be replayed later.
    pub membership_index: u64,
    pub admin: PublicKey,
}

/// An admin command and the admin's signature over
/// `"phr/admin-command/v1" 0x00 || 0x01 || borsh(body)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminCommand {
    pub body: AdminCommandBody,
    pub signature: Signature,
}

impl AdminCommandBody {
    fn signing_bytes(&self) -> Vec<u8> {
        let mut out = b"phr/admin-command/v1\0".to_vec();
        out.push(crate::ENCODING_VERSION);
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec");
        out
    }

    pub fn sign(self, key: &Keypair) -> AdminCommand {
        let signature = key.sign(&self.signing_bytes());
        AdminCommand { body: self, signature }
    }
}

impl AdminCommand {
    /// Check the signature against the admin key named in the body.
    pub fn verify(&self) -> Result<(), KeyError> {
        self.body.admin.verify(&self.body.signing_bytes(), &self.signature)
    }
}
