//! Read-only queries against the committed state, run as their caller.

use crate::env::TxEnv;
use crate::identity::{self, Signer, IDENTITY};
use crate::lifecycle::{self, LIFECYCLE};
use crate::Executor;
use phr_ledger::{Caller, Event, PublicKey};
use phr_state::Point;
use phr_vm::{CallContext, CallResult, Entry, HostEnv};

/// Why a query could not run at all (a contract error is a [`CallResult`]).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no contract named {0:?} on this chain")]
    UnknownContract(String),
    #[error("node fault: {0}")]
    Fault(String),
    /// Every instance lent to clients is in use (`phr_vm::capacity`): retry.
    #[error("{0}")]
    Busy(#[from] phr_vm::capacity::Busy),
}

/// How long a client's call waits for a free call tree before it is told the
/// node is busy.
pub(crate) const CLIENT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A query's result, the block it read, who it ran as, and what it announced.
#[derive(Clone, Debug)]
pub struct QueryOutput {
    pub result: CallResult,
    pub fuel_used: u64,
    pub height: u64,
    /// The caller as the chain resolved it at `height` (anonymous for an
    /// unsigned query or a key nobody enrolled).
    pub caller: Caller,
    /// Events the query emitted (never committed), for example `audit.read`
    /// naming a patient whose data an auditor read. Empty unless the result is `Ok`.
    pub events: Vec<Event>,
}

impl Executor {
    /// Run `contract.query(method, args)` as the identity holding `signer`
    /// (anonymous when `None`, unenrolled or revoked) against the state of the
    /// last committed block; later commits do not affect it. The contract's
    /// read rules decide what the caller may see.
    pub fn query(
        &self,
        signer: Option<&PublicKey>,
        contract: &str,
        method: &str,
        args: &str,
    ) -> Result<QueryOutput, QueryError> {
        let _slot = self.code.vm().client_slot(CLIENT_WAIT)?;
        let tip = self.tip();
        let mut env = TxEnv::at(self.db.clone(), self.code.clone(), Point::end_of(tip.height));
        let fault = |e: phr_vm::HostFault| QueryError::Fault(e.to_string());
        let caller = match signer {
            None => Caller::anonymous(),
            Some(key) => match identity::resolve(&mut env, key).map_err(fault)? {
                Signer::Known(c) => c,
                Signer::Revoked | Signer::Unknown => Caller::anonymous(),
            },
        };
        if contract == IDENTITY || contract == LIFECYCLE {
            let out = if contract == IDENTITY {
                identity::query(&mut env, &caller, &self.genesis, method, args).map_err(fault)?
            } else {
                lifecycle::query(&mut env, method, args).map_err(fault)?
            };
            let events = if matches!(out.result, CallResult::Ok(_)) { out.events } else { Vec::new() };
            return Ok(QueryOutput { result: out.result, fuel_used: 0, height: tip.height, caller, events });
        }
        let compiled =
            env.resolve(contract).map_err(fault)?.ok_or_else(|| QueryError::UnknownContract(contract.to_string()))?;
        let ctx = CallContext::query(contract, caller.clone(), tip.height, tip.time_ms);
        let (out, _) = self
            .code
            .vm()
            .call(&compiled, Entry::Query, method, args, ctx, env, self.genesis.params.fuel_per_tx)
            .map_err(|e| QueryError::Fault(e.to_string()))?;
        Ok(QueryOutput { result: out.result, fuel_used: out.fuel_used, height: tip.height, caller, events: out.events })
    }
}

impl Executor {
    /// The consortium's approvals, at the last committed block, of `change`
    /// for `node` holding `public_key` under the membership at log index
    /// `membership_index` (see [`crate::voters`]).
    pub fn voter_approvals(
        &self,
        change: crate::voters::VoterChange,
        node: &str,
        public_key: &PublicKey,
        membership_index: u64,
    ) -> Result<crate::voters::VoterApprovals, QueryError> {
        let tip = self.tip();
        let mut env = TxEnv::at(self.db.clone(), self.code.clone(), Point::end_of(tip.height));
        crate::voters::approvals(&mut env, &self.genesis, change, node, public_key, membership_index)
            .map_err(|e| QueryError::Fault(e.to_string()))
    }

    /// The enrolled identity holding `key` at the last committed block, if
    /// any (a revoked one is not).
    pub fn caller_of(&self, key: &PublicKey) -> Result<Option<Caller>, QueryError> {
        let tip = self.tip();
        let mut env = TxEnv::at(self.db.clone(), self.code.clone(), Point::end_of(tip.height));
        match identity::resolve(&mut env, key).map_err(|e| QueryError::Fault(e.to_string()))? {
            Signer::Known(c) => Ok(Some(c)),
            Signer::Revoked | Signer::Unknown => Ok(None),
        }
    }
}
