//! Read-only queries against the committed state.

use crate::env::TxEnv;
use crate::identity::{self, IDENTITY};
use crate::lifecycle::{self, LIFECYCLE};
use crate::Executor;
use phr_state::Point;
use phr_vm::{CallContext, CallResult, Entry, HostEnv};

/// Why a query could not run at all (a contract error is a [`CallResult`]).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no contract named {0:?} on this chain")]
    UnknownContract(String),
    #[error("node fault: {0}")]
    Fault(String),
}

/// A query's result and the block it read.
#[derive(Clone, Debug)]
pub struct QueryOutput {
    pub result: CallResult,
    pub fuel_used: u64,
    pub height: u64,
}

impl Executor {
    /// Run `contract.query(method, args)` as an anonymous caller against the state
    /// of the last committed block; later commits do not affect it.
    pub fn query(&self, contract: &str, method: &str, args: &str) -> Result<QueryOutput, QueryError> {
        let tip = self.tip();
        let mut env = TxEnv::at(self.db.clone(), self.code.clone(), Point::end_of(tip.height));
        let fault = |e: phr_vm::HostFault| QueryError::Fault(e.to_string());
        if contract == IDENTITY || contract == LIFECYCLE {
            let out = if contract == IDENTITY {
                identity::query(&mut env, method, args).map_err(fault)?
            } else {
                lifecycle::query(&mut env, method, args).map_err(fault)?
            };
            return Ok(QueryOutput { result: out.result, fuel_used: 0, height: tip.height });
        }
        let compiled =
            env.resolve(contract).map_err(fault)?.ok_or_else(|| QueryError::UnknownContract(contract.to_string()))?;
        let ctx = CallContext::query(contract, tip.height, tip.time_ms);
        let (out, _) = self
            .code
            .vm()
            .call(&compiled, Entry::Query, method, args, ctx, env, self.genesis.params.fuel_per_tx)
            .map_err(|e| QueryError::Fault(e.to_string()))?;
        Ok(QueryOutput { result: out.result, fuel_used: out.fuel_used, height: tip.height })
    }
}
