//! Admission: the checks a transaction passes before it may wait for a block.

use crate::identity::{self, IdentityRecord, IDENTITY};
use crate::lifecycle::LIFECYCLE;
use crate::system::{contract_key, SYSTEM_NS};
use crate::{ExecError, Executor};
use phr_ledger::{KeyError, SignedTx, TxError, TxId};

/// Why a transaction is refused at the door. Nothing changes; the client can
/// fix the transaction and send it again.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Malformed(String),
    #[error("transaction is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("transaction is for chain {got:?}; this node serves {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("signature rejected: {0}")]
    BadSignature(KeyError),
    #[error("signer {0} is not enrolled (patients enrol with identity.enrol_patient; practitioners are enrolled by their organisation's admin)")]
    UnknownSigner(String),
    #[error("signer {0} was revoked by their organisation")]
    RevokedSigner(String),
    #[error("transaction {0} is already committed")]
    Duplicate(TxId),
    #[error("transaction expired: valid up to height {expiry}, the next block is {next}")]
    Expired { expiry: u64, next: u64 },
    #[error("no contract named {0:?} on this chain")]
    UnknownContract(String),
    #[error("node fault: {0}")]
    Fault(String),
}

impl Rejection {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::TooLarge { .. } => "too-large",
            Rejection::WrongChain { .. } => "wrong-chain",
            Rejection::BadSignature(KeyError::HighS) => "high-s-signature",
            Rejection::BadSignature(_) => "bad-signature",
            Rejection::UnknownSigner(_) => "unknown-signer",
            Rejection::RevokedSigner(_) => "revoked-signer",
            Rejection::Duplicate(_) => "duplicate",
            Rejection::Expired { .. } => "expired",
            Rejection::UnknownContract(_) => "unknown-contract",
            Rejection::Fault(_) => "node-fault",
        }
    }
}

impl From<TxError> for Rejection {
    fn from(e: TxError) -> Self {
        match e {
            TxError::TooLarge { size, max } => Rejection::TooLarge { size, max },
            TxError::WrongChain { expected, got } => Rejection::WrongChain { expected, got },
            TxError::Signature(k) => Rejection::BadSignature(k),
            other => Rejection::Malformed(other.to_string()),
        }
    }
}

impl From<ExecError> for Rejection {
    fn from(e: ExecError) -> Self {
        Rejection::Fault(e.to_string())
    }
}

impl Executor {
    /// Verify the signatures of transactions about to be applied (in
    /// parallel), so that applying their block does not check them again. A
    /// replay calls it on blocks ahead of the one it applies.
    pub fn preverify(&self, txs: &[SignedTx]) {
        use rayon::prelude::*;
        txs.par_iter().for_each(|tx| {
            if tx.verify_signature().is_ok() {
                self.sigs.insert(tx.id());
            }
        });
    }

    /// Check a transaction against the chain's rules and the committed state.
    /// On success its signature is remembered as verified, so that applying its
    /// block does not check it again.
    pub fn admit(&self, tx: &SignedTx) -> Result<TxId, Rejection> {
        let params = &self.genesis.params;
        tx.check_shape(&self.genesis.chain_id, params.max_tx_bytes_for(&tx.body.contract, &tx.body.method))?;
        let id = tx.id();
        let next = self.tip().height + 1;
        if tx.body.expiry_height < next {
            return Err(Rejection::Expired { expiry: tx.body.expiry_height, next });
        }
        if self.db.has_tx(&id).map_err(|e| Rejection::Fault(e.to_string()))? {
            return Err(Rejection::Duplicate(id));
        }
        tx.verify_signature()?;
        let signer = tx.body.signer.id().to_hex();
        let record = self
            .db
            .get(IDENTITY, &identity::record_key(&signer))
            .map_err(|e| Rejection::Fault(e.to_string()))?
            .map(|v| serde_json::from_slice::<IdentityRecord>(&v.value))
            .transpose()
            .map_err(|e| Rejection::Fault(format!("corrupt identity record: {e}")))?;
        match record {
            Some(r) if r.revoked => return Err(Rejection::RevokedSigner(signer)),
            Some(_) => {}
            None if identity::open_to_unknown(&tx.body.contract, &tx.body.method) => {}
            None => return Err(Rejection::UnknownSigner(signer)),
        }
        let system = tx.body.contract == IDENTITY || tx.body.contract == LIFECYCLE;
        if !system
            && self
                .db
                .get(SYSTEM_NS, &contract_key(&tx.body.contract))
                .map_err(|e| Rejection::Fault(e.to_string()))?
                .is_none()
        {
            return Err(Rejection::UnknownContract(tx.body.contract.clone()));
        }
        self.sigs.insert(id);
        Ok(id)
    }
}
