//! Who computed the right results: the voters' majority decides.
//!
//! Every node compares its results for a block (hash, state root, receipts
//! root: an [`Attestation`]) with the voters'. A batch carries the leader's
//! results for the previous block; a follower whose results differ asks the
//! voters before it does anything ([`Witness::poll`]), and every node asks them
//! on its own schedule too, so that a node that diverged on an idle chain, or a
//! leader (which never checks a batch against anyone but itself), finds out.
//!
//! The rule ([`judge`]): a node whose results a majority of the voters share
//! goes on; a node whose results differ from a value a majority of the voters
//! share is the one that diverged, and halts. Without a majority either way (a
//! two-voter group split in two, peers not answering) no node can know who is
//! right; what each does then is up to its caller (see `state_machine.rs` and
//! `sequencer.rs`).

use super::client::PeerNetwork;
use super::state_machine::MEMBERSHIP;
use super::types::{decode, encode, Membership, PeerNode};
use phr_ledger::Attestation;
use phr_state::StateDb;
use std::sync::Arc;
use std::time::Duration;

/// What the voters say of this node's results for one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A majority of the voters computed what this node computed.
    Agreed,
    /// A majority of the voters (named) computed `majority`, which differs from
    /// this node's results: this node diverged.
    Outvoted { majority: Attestation, voters: Vec<String> },
    /// No value has a majority. `complete` is true when every voter answered
    /// (so waiting will not help): the voters are split.
    NoMajority { complete: bool },
}

/// Judge `mine` against the `answers` of the voters for the same height.
/// `voters` is the number of voters; `me_voter` whether this node is one of
/// them (a learner's own results do not count towards a majority).
pub fn judge(mine: &Attestation, me_voter: bool, answers: &[(String, Attestation)], voters: usize) -> Verdict {
    let majority = voters / 2 + 1;
    let agreeing = answers.iter().filter(|(_, a)| a == mine).count() + usize::from(me_voter);
    if agreeing >= majority {
        return Verdict::Agreed;
    }
    for (_, candidate) in answers.iter().filter(|(_, a)| a != mine) {
        let with: Vec<String> = answers.iter().filter(|(_, a)| a == candidate).map(|(n, _)| n.clone()).collect();
        if with.len() >= majority {
            return Verdict::Outvoted { majority: candidate.clone(), voters: with };
        }
    }
    let answered = answers.len() + usize::from(me_voter);
    Verdict::NoMajority { complete: answered >= voters }
}

/// Which of the three results differ, for a message: "state root", ...
pub fn what_differs(mine: &Attestation, theirs: &Attestation) -> Vec<&'static str> {
    let mut out = Vec::new();
    if mine.block_hash != theirs.block_hash {
        out.push("block hash");
    }
    if mine.state_root != theirs.state_root {
        out.push("state root");
    }
    if mine.receipts_root != theirs.receipts_root {
        out.push("receipts root");
    }
    out
}

/// One of the three results by the name [`what_differs`] gives it.
pub fn field(a: &Attestation, name: &str) -> phr_ledger::Hash32 {
    match name {
        "block hash" => a.block_hash,
        "state root" => a.state_root,
        _ => a.receipts_root,
    }
}

/// Asks the voters of the applied membership for their results.
pub struct Witness {
    db: Arc<StateDb>,
    net: PeerNetwork,
    me: String,
}

/// How long a voter has to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

impl Witness {
    pub fn new(db: Arc<StateDb>, net: PeerNetwork, me: String) -> Self {
        Witness { db, net, me }
    }

    /// The voters of the membership this node applied last.
    fn voters(&self) -> Result<Vec<PeerNode>, String> {
        let m: Membership = match self.db.raft_meta(MEMBERSHIP).map_err(|e| e.to_string())? {
            Some(b) => decode(&b).map_err(|e| e.to_string())?,
            None => return Ok(Vec::new()),
        };
        let m = m.membership();
        Ok(m.voter_ids().filter_map(|id| m.get_node(&id).cloned()).collect())
    }

    /// Ask every other voter for its results at `mine.height` and judge.
    /// Voters that cannot be reached, answer badly or have not applied that
    /// height yet are left out of the count.
    pub async fn poll(&self, mine: &Attestation) -> Result<Verdict, String> {
        let voters = self.voters()?;
        if voters.is_empty() {
            return Ok(Verdict::Agreed);
        }
        let me_voter = voters.iter().any(|v| v.name == self.me);
        let asks = voters.iter().filter(|v| v.name != self.me).map(|v| async move {
            let body = self.net.request(v, "attest", encode(&mine.height), ASK_TIMEOUT).await.ok()?;
            let theirs: Option<Attestation> = decode(&body).ok()?;
            theirs.filter(|a| a.height == mine.height).map(|a| (v.name.clone(), a))
        });
        let answers: Vec<(String, Attestation)> = futures::future::join_all(asks).await.into_iter().flatten().collect();
        Ok(judge(mine, me_voter, &answers, voters.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phr_ledger::Hash32;

    fn att(x: u8) -> Attestation {
        Attestation {
            height: 7,
            block_hash: Hash32([x; 32]),
            state_root: Hash32([x; 32]),
            receipts_root: Hash32([0; 32]),
        }
    }

    fn named(xs: &[(&str, u8)]) -> Vec<(String, Attestation)> {
        xs.iter().map(|(n, x)| (n.to_string(), att(*x))).collect()
    }

    #[test]
    fn a_node_the_majority_agrees_with_goes_on() {
        assert_eq!(judge(&att(1), true, &named(&[("b", 1), ("c", 2)]), 3), Verdict::Agreed);
        assert_eq!(judge(&att(1), true, &named(&[("b", 1)]), 3), Verdict::Agreed);
        // Five voters: three agree.
        assert_eq!(judge(&att(1), true, &named(&[("b", 1), ("c", 1), ("d", 2), ("e", 2)]), 5), Verdict::Agreed);
    }

    #[test]
    fn the_node_the_majority_disagrees_with_is_outvoted_and_told_by_whom() {
        let v = judge(&att(1), true, &named(&[("b", 2), ("c", 2)]), 3);
        assert_eq!(v, Verdict::Outvoted { majority: att(2), voters: vec!["b".into(), "c".into()] });
        // A learner's own results do not count; two of three voters outvote it.
        let v = judge(&att(1), false, &named(&[("a", 2), ("b", 2), ("c", 1)]), 3);
        assert!(matches!(v, Verdict::Outvoted { .. }), "{v:?}");
    }

    #[test]
    fn a_split_or_a_silence_is_no_majority_and_says_whether_waiting_helps() {
        // Two voters that disagree: nobody can tell who is right.
        assert_eq!(judge(&att(1), true, &named(&[("b", 2)]), 2), Verdict::NoMajority { complete: true });
        // Three voters, one silent, one disagreeing: wait for the third.
        assert_eq!(judge(&att(1), true, &named(&[("b", 2)]), 3), Verdict::NoMajority { complete: false });
        // Three voters, each with its own result.
        assert_eq!(judge(&att(1), true, &named(&[("b", 2), ("c", 3)]), 3), Verdict::NoMajority { complete: true });
        // One disagreeing voter never outvotes two that are silent.
        assert_eq!(judge(&att(1), true, &named(&[]), 3), Verdict::NoMajority { complete: false });
    }

    #[test]
    fn what_differs_names_each_result() {
        let mut b = att(1);
        b.receipts_root = Hash32([9; 32]);
        assert_eq!(what_differs(&att(1), &b), vec!["receipts root"]);
        assert_eq!(what_differs(&att(1), &att(2)), vec!["block hash", "state root"]);
    }
}
