//! Applying a batch: the block apply loop.

use crate::env::TxEnv;
use crate::identity::{self, IdentityCall, Signer, IDENTITY};
use crate::lifecycle::{self, LifecycleCall, LIFECYCLE};
use crate::system::native_code_hash;
use crate::{roots, ExecError, Executor, Tip};
use phr_ledger::{
    Attestation, Batch, Block, BlockHeader, Caller, CallerKind, Hash32, Receipt, SignedTx, TxId, TxStatus,
};
use phr_state::{AppliedMeta, BlockCommit, StateWrite};
use phr_vm::{CallContext, CallResult, Entry, HostEnv};
use rayon::prelude::*;
use std::collections::HashSet;

/// A committed block and what it produced.
#[derive(Clone, Debug)]
pub struct AppliedBlock {
    pub block: Block,
    pub hash: Hash32,
    pub receipts: Vec<Receipt>,
    pub tx_ids: Vec<TxId>,
    pub state_root: Hash32,
    pub receipts_root: Hash32,
}

fn receipt(id: TxId, tx: &SignedTx, status: TxStatus) -> Receipt {
    Receipt {
        tx_id: id,
        status,
        contract: tx.body.contract.clone(),
        method: tx.body.method.clone(),
        code_hash: Hash32::ZERO,
        fuel_used: 0,
        output: String::new(),
        events: Vec::new(),
        reads: Vec::new(),
        writes: Vec::new(),
    }
}

pub(crate) fn invalid(id: TxId, tx: &SignedTx, reason: impl Into<String>) -> Receipt {
    receipt(id, tx, TxStatus::Invalid { reason: reason.into() })
}

impl Executor {
    /// Apply `batch` as the next block and commit it with `orderer_position`.
    /// Returns the committed block, or a fault (storage, divergence) after
    /// which the node must stop applying.
    pub fn apply(&self, batch: &Batch, orderer_position: Vec<u8>) -> Result<AppliedBlock, ExecError> {
        let _serial = self.apply_lock.lock();
        let tip = self.tip();
        if let Some(a) = &batch.attestation {
            self.check_attestation(&tip, a)?;
        }
        let height = tip.height + 1;
        let time_ms = batch.time_ms.max(tip.time_ms);

        let ids: Vec<TxId> = batch.txs.par_iter().map(|t| t.id()).collect();
        let sig_ok: Vec<Result<(), String>> = batch
            .txs
            .par_iter()
            .zip(ids.par_iter())
            .map(
                |(tx, id)| {
                    if self.sigs.contains(id) {
                        Ok(())
                    } else {
                        tx.verify_signature().map_err(|e| e.to_string())
                    }
                },
            )
            .collect();

        let mut env = TxEnv::for_block(self.db.clone(), self.code.clone(), height);
        let mut receipts = Vec::with_capacity(batch.txs.len());
        let mut indexed = Vec::with_capacity(batch.txs.len());
        let mut seen = HashSet::with_capacity(batch.txs.len());
        for (i, tx) in batch.txs.iter().enumerate() {
            let i = i as u32;
            let id = ids[i as usize];
            env.begin(i);
            let duplicate = !seen.insert(id) || self.db.has_tx(&id)?;
            if !duplicate {
                indexed.push((id, i));
            }
            let r = if duplicate {
                invalid(id, tx, "duplicate: this transaction id is already committed")
            } else if let Err(e) = &sig_ok[i as usize] {
                invalid(id, tx, format!("signature: {e}"))
            } else if let Err(e) = tx.check_shape(
                &self.genesis.chain_id,
                self.genesis.params.max_tx_bytes_for(&tx.body.contract, &tx.body.method),
            ) {
                invalid(id, tx, e.to_string())
            } else if height > tx.body.expiry_height {
                invalid(id, tx, format!("expired: valid up to height {}", tx.body.expiry_height))
            } else {
                let (r, e) = self.execute(env, tx, id, height, time_ms)?;
                env = e;
                r
            };
            receipts.push(r);
        }
        let effects = env.into_block();
        let writes: Vec<StateWrite> = effects.writes;
        let state_root = roots::state_root(&tip.state_root, height, &writes);
        let receipts_root = roots::receipts_root(&receipts);
        let header = BlockHeader {
            chain_id: self.genesis.chain_id.clone(),
            height,
            prev_hash: tip.block_hash,
            time_ms,
            proposer: batch.proposer.clone(),
            tx_root: phr_ledger::merkle_root(&ids),
            tx_count: batch.txs.len() as u32,
            prev_state_root: tip.state_root,
            prev_receipts_root: tip.receipts_root,
        };
        let block = Block { header, txs: batch.txs.clone() };
        let hash = block.hash();
        let meta = AppliedMeta {
            height,
            block_hash: hash,
            time_ms,
            state_root,
            receipts_root,
            genesis_hash: self.genesis.hash(),
            orderer_position,
        };
        self.db.commit(BlockCommit {
            block: &block,
            receipts: &receipts,
            writes: &writes,
            code: &effects.code,
            indexed_txs: &indexed,
            meta,
        })?;
        *self.tip.write() = Tip { height, block_hash: hash, time_ms, state_root, receipts_root };
        // Installed code is compiled now, off the apply loop, so that it is ready
        // by the time the consortium commits it.
        for (code_hash, bytes) in effects.code {
            self.code.prepare(code_hash, bytes);
        }
        Ok(AppliedBlock { block, hash, receipts, tx_ids: ids, state_root, receipts_root })
    }

    /// This node's results for block `height` (its hash, state root and receipts
    /// root), as a proposer attests them; `None` if this node has not applied it.
    pub fn attestation_at(&self, height: u64) -> Result<Option<Attestation>, ExecError> {
        self.results_at(&self.tip(), height)
    }

    fn results_at(&self, tip: &Tip, height: u64) -> Result<Option<Attestation>, ExecError> {
        let (block_hash, state_root, receipts_root) = if height == tip.height {
            (tip.block_hash, tip.state_root, tip.receipts_root)
        } else if height < tip.height {
            let next = self
                .db
                .block(height + 1)?
                .ok_or_else(|| ExecError::Corrupt(format!("block {} is missing", height + 1)))?;
            (next.header.prev_hash, next.header.prev_state_root, next.header.prev_receipts_root)
        } else {
            return Ok(None);
        };
        Ok(Some(Attestation { height, block_hash, state_root, receipts_root }))
    }

    /// Compare the proposer's results for an earlier block with ours.
    fn check_attestation(&self, tip: &Tip, a: &Attestation) -> Result<(), ExecError> {
        let ours = self.results_at(tip, a.height)?.ok_or_else(|| {
            ExecError::Corrupt(format!("a batch attests height {} but this node is only at {}", a.height, tip.height))
        })?;
        for (what, ours, theirs) in [
            ("block hash", ours.block_hash, a.block_hash),
            ("state root", ours.state_root, a.state_root),
            ("receipts root", ours.receipts_root, a.receipts_root),
        ] {
            if ours != theirs {
                return Err(ExecError::Divergence { height: a.height, what, ours, theirs });
            }
        }
        Ok(())
    }

    /// Execute one valid transaction, returning its receipt and the environment.
    pub(crate) fn execute(
        &self,
        mut env: TxEnv,
        tx: &SignedTx,
        id: TxId,
        height: u64,
        time_ms: u64,
    ) -> Result<(Receipt, TxEnv), ExecError> {
        let fault = |e: phr_vm::HostFault| ExecError::Corrupt(e.to_string());
        let caller = match identity::resolve(&mut env, &tx.body.signer).map_err(fault)? {
            Signer::Known(c) => Some(c),
            Signer::Revoked => return Ok((invalid(id, tx, "signer's enrolment was revoked"), env)),
            Signer::Unknown if identity::open_to_unknown(&tx.body.contract, &tx.body.method) => None,
            Signer::Unknown => {
                return Ok((invalid(id, tx, format!("unknown signer {}", tx.body.signer.id())), env));
            }
        };
        let contract = tx.body.contract.as_str();
        let fuel = self.genesis.params.fuel_per_tx;
        let (result, fuel_used, events, code_hash) = if contract == IDENTITY {
            let call =
                IdentityCall { caller: caller.as_ref(), signer: &tx.body.signer, height, genesis: &self.genesis };
            let out = identity::invoke(&mut env, call, &tx.body.method, &tx.body.args).map_err(fault)?;
            (out.result, 0, out.events, native_code_hash(IDENTITY))
        } else if contract == LIFECYCLE {
            let call =
                LifecycleCall { caller: caller.as_ref(), tx_id: id.to_hex(), time_ms, fuel, genesis: &self.genesis };
            let out = lifecycle::invoke(&mut env, call, &tx.body.method, &tx.body.args).map_err(fault)?;
            (out.result, out.fuel_used, out.events, native_code_hash(LIFECYCLE))
        } else if let Some(compiled) = env.resolve(contract).map_err(fault)? {
            let caller = caller.unwrap_or_else(|| Caller {
                id: tx.body.signer.id().to_hex(),
                kind: CallerKind::Anonymous,
                org: None,
                roles: Vec::new(),
            });
            let ctx = CallContext::invoke(contract, caller, id.to_hex(), height, time_ms);
            let (out, e) =
                self.code.vm().call(&compiled, Entry::Invoke, &tx.body.method, &tx.body.args, ctx, env, fuel)?;
            env = e;
            (out.result, out.fuel_used, out.events, compiled.code_hash)
        } else {
            return Ok((invalid(id, tx, format!("unknown contract {contract:?}")), env));
        };
        let reads = env.reads();
        let (status, output, writes, events) = match result {
            CallResult::Ok(out) => (TxStatus::Ok, out, env.keep(), events),
            other => {
                env.discard();
                let status = match other {
                    CallResult::Err { code, message } => TxStatus::Rejected { code, message },
                    CallResult::OutOfFuel => TxStatus::OutOfFuel,
                    CallResult::Trapped { reason } => TxStatus::Trapped { reason },
                    CallResult::Ok(_) => unreachable!("handled above"),
                };
                (status, String::new(), Vec::new(), Vec::new())
            }
        };
        let r = Receipt {
            tx_id: id,
            status,
            contract: contract.to_string(),
            method: tx.body.method.clone(),
            code_hash,
            fuel_used,
            output,
            events,
            reads,
            writes,
        };
        Ok((r, env))
    }
}
