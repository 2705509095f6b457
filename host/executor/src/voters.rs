//! Consortium approval of Raft voter changes, kept by the `identity` contract.
//!
//! Who votes in the Raft group decides what the ledger commits, so no single
//! organisation may change it: making a node a voter, or removing a voter,
//! needs the approval of a majority of the organisations on chain first (the
//! same policy as contract code and auditors). Each organisation's admin calls
//! `identity.approve_voter` naming the node and its public key; the node's own
//! admin then sends the signed membership command, which the leader carries out
//! only once [`approvals`] counts a majority. Adding a learner (which cannot
//! vote) stays with the node's own organisation.
//!
//! An approval names the node's public key and the membership it was given
//! under (`raft.membership_index`), so it cannot be reused for another node
//! given the same name, nor again once the membership changed (after the
//! change it approved, or after the node was removed and added back).

use crate::env::TxEnv;
use crate::identity::IDENTITY;
use crate::native::{self, err, ok, parse, NativeOutcome};
use phr_ledger::{Caller, CallerKind, Genesis, PublicKey};
use phr_vm::HostFault;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A change of the Raft group's voters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoterChange {
    /// A learner becomes a voter.
    Promote,
    /// A voter leaves the group.
    Remove,
}

impl VoterChange {
    fn as_str(self) -> &'static str {
        match self {
            VoterChange::Promote => "promote",
            VoterChange::Remove => "remove",
        }
    }
}

/// The approvals of one change, as stored and returned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoterApprovals {
    pub change: VoterChange,
    pub node: String,
    pub public_key: PublicKey,
    /// The membership (its Raft log index) the approvals were given under.
    pub membership_index: u64,
    /// The organisations whose admins approved.
    pub orgs: BTreeSet<String>,
    /// How many organisations must approve: a majority of the genesis's.
    pub needed: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    change: VoterChange,
    node: String,
    public_key: PublicKey,
    membership_index: u64,
}

/// How many organisations make a majority of `genesis`'s.
pub fn needed(genesis: &Genesis) -> usize {
    genesis.orgs.len() / 2 + 1
}

fn key(change: VoterChange, node: &str, public_key: &PublicKey, membership_index: u64) -> Vec<u8> {
    format!("voter-approvals/{}/{node}/{}/{membership_index:020}", change.as_str(), public_key.id().to_hex())
        .into_bytes()
}

/// The approvals recorded so far for `change` of `node` holding `public_key`,
/// under the membership at log index `membership_index`.
pub fn approvals(
    env: &mut TxEnv,
    genesis: &Genesis,
    change: VoterChange,
    node: &str,
    public_key: &PublicKey,
    membership_index: u64,
) -> Result<VoterApprovals, HostFault> {
    let stored: Option<VoterApprovals> = native::read(env, IDENTITY, &key(change, node, public_key, membership_index))?;
    Ok(VoterApprovals {
        change,
        node: node.to_string(),
        public_key: *public_key,
        membership_index,
        orgs: stored.map(|s| s.orgs).unwrap_or_default(),
        needed: needed(genesis),
    })
}

/// `identity.approve_voter {change, node, public_key, membership_index}`: the signing admin's
/// organisation approves the change. Refused for anyone but an organisation
/// admin, for an invalid node name, and when the organisation approved already.
pub fn approve(
    env: &mut TxEnv,
    caller: Option<&Caller>,
    genesis: &Genesis,
    args: &str,
) -> Result<NativeOutcome, HostFault> {
    let org = match caller {
        Some(c) if c.kind == CallerKind::OrgAdmin => c.org.clone(),
        _ => None,
    };
    let Some(org) = org else {
        return err("unauthorized", "only organisation admins approve changes of the Raft voters");
    };
    let a: Args = match parse("approve_voter", args) {
        Ok(a) => a,
        Err(m) => return err("bad-request", m),
    };
    if !phr_ledger::is_valid_name(&a.node) {
        return err("bad-request", format!("{:?} is not a valid node name", a.node));
    }
    let mut ap = approvals(env, genesis, a.change, &a.node, &a.public_key, a.membership_index)?;
    if !ap.orgs.insert(org.clone()) {
        return err("conflict", format!("{org} has approved to {} {} already", a.change.as_str(), a.node));
    }
    native::write(env, IDENTITY, &key(a.change, &a.node, &a.public_key, a.membership_index), &ap)?;
    let e = native::event(IDENTITY, "identity.voter-change-approved", vec![format!("node:{}", a.node)], &ap);
    ok(&ap, vec![e])
}

/// `identity.voter_approvals {change, node, public_key, membership_index}` (query): the approvals
/// so far. Open to every enrolled caller, like the consortium's directory.
pub fn query(env: &mut TxEnv, caller: &Caller, genesis: &Genesis, args: &str) -> Result<NativeOutcome, HostFault> {
    if caller.kind == CallerKind::Anonymous || caller.kind == CallerKind::Patient {
        return err("unauthorized", "the consortium's voter approvals are read by its members' identities");
    }
    let a: Args = match parse("voter_approvals", args) {
        Ok(a) => a,
        Err(m) => return err("bad-request", m),
    };
    ok(&approvals(env, genesis, a.change, &a.node, &a.public_key, a.membership_index)?, Vec::new())
}
