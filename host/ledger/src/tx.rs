//! Signed transactions.

use crate::encoding::{Canonical, DecodeError};
use crate::hash::Hash32;
use crate::identity::{KeyError, Keypair, PublicKey, Signature};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A transaction id: the digest of the canonical signed transaction.
pub type TxId = Hash32;

/// What a transaction asks for, as its signer signed it.
///
/// `args` is JSON text kept byte for byte as signed (it is never re-serialized).
/// The transaction is valid for blocks up to and including `expiry_height`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxBody {
    pub chain_id: String,
    pub contract: String,
    pub method: String,
    pub args: String,
    pub nonce: u64,
    pub expiry_height: u64,
    pub signer: PublicKey,
}

/// A transaction and its signer's low-S ECDSA signature over
/// [`TxBody::signing_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTx {
    pub body: TxBody,
    pub signature: Signature,
}

/// Why a transaction is not acceptable on its own (before any state is consulted).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    #[error("transaction bytes: {0}")]
    Decode(#[from] DecodeError),
    #[error("transaction is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("transaction is for chain {got:?}, this is {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("signature: {0}")]
    Signature(#[from] KeyError),
    #[error("field `{field}`: {reason}")]
    BadField { field: &'static str, reason: String },
}

impl TxBody {
    /// The domain that separates transaction signatures from every other signature.
    pub const SIGNING_DOMAIN: &'static [u8] = b"phr/tx-signature/v1";

    /// The bytes a signer signs: the domain, a zero byte, the canonical body.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Self::SIGNING_DOMAIN.to_vec();
        out.push(0);
        out.push(crate::ENCODING_VERSION);
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Sign with `key`. The body's `signer` should be `key`'s public key, or the
    /// signature will not verify.
    pub fn sign(self, key: &Keypair) -> SignedTx {
        let signature = key.sign(&self.signing_bytes());
        SignedTx { body: self, signature }
    }
}

impl Canonical for SignedTx {
    const DOMAIN: &'static [u8] = b"phr/tx/v1";
    const WHAT: &'static str = "transaction";
}

impl SignedTx {
    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.digest()
    }

    /// Decode canonical bytes of at most `max` bytes.
    pub fn decode_limited(bytes: &[u8], max: usize) -> Result<Self, TxError> {
        if bytes.len() > max {
            return Err(TxError::TooLarge { size: bytes.len(), max });
        }
        Ok(Self::from_canonical(bytes)?)
    }

    /// Check the signature against the signer's key (low-S only).
    pub fn verify_signature(&self) -> Result<(), TxError> {
        self.body.signer.verify(&self.body.signing_bytes(), &self.signature)?;
        Ok(())
    }

    /// Check everything that needs no state: size, chain, names and JSON args.
    /// The signature is checked separately by [`SignedTx::verify_signature`].
    pub fn check_shape(&self, chain_id: &str, max_bytes: usize) -> Result<usize, TxError> {
        let size = self.to_canonical().len();
        if size > max_bytes {
            return Err(TxError::TooLarge { size, max: max_bytes });
        }
        if self.body.chain_id != chain_id {
            return Err(TxError::WrongChain { expected: chain_id.to_string(), got: self.body.chain_id.clone() });
        }
        if !crate::is_valid_name(&self.body.contract) {
            return Err(TxError::BadField {
                field: "contract",
                reason: "must be 1-40 characters of a-z, 0-9 and -, starting with a letter".into(),
            });
        }
        let m = self.body.method.as_bytes();
        if m.is_empty() || m.len() > 64 || !m.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        {
            return Err(TxError::BadField {
                field: "method",
                reason: "must be 1-64 characters of a-z, 0-9 and _".into(),
            });
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&self.body.args) {
            return Err(TxError::BadField { field: "args", reason: format!("not valid JSON: {e}") });
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(key: &Keypair) -> TxBody {
        TxBody {
            chain_id: "c".into(),
            contract: "consent".into(),
            method: "create".into(),
            args: "{}".into(),
            nonce: 7,
            expiry_height: 10,
            signer: key.public_key(),
        }
    }

    #[test]
    fn signed_tx_verifies_and_any_change_breaks_it() {
        let k = Keypair::generate();
        let tx = body(&k).sign(&k);
        tx.verify_signature().unwrap();
        let mut changed = tx.clone();
        changed.body.nonce += 1;
        assert!(matches!(changed.verify_signature(), Err(TxError::Signature(KeyError::BadSignature))));
        assert_ne!(changed.id(), tx.id());
    }

    #[test]
    fn shape_checks_name_the_problem() {
        let k = Keypair::generate();
        let mut tx = body(&k).sign(&k);
        assert!(tx.check_shape("c", 1 << 16).is_ok());
        assert!(matches!(tx.check_shape("other", 1 << 16), Err(TxError::WrongChain { .. })));
        assert!(matches!(tx.check_shape("c", 10), Err(TxError::TooLarge { .. })));
        tx.body.args = "{not json".into();
        assert!(matches!(tx.check_shape("c", 1 << 16), Err(TxError::BadField { field: "args", .. })));
        tx.body.args = "{}".into();
        tx.body.contract = "Bad Name".into();
        assert!(matches!(tx.check_shape("c", 1 << 16), Err(TxError::BadField { field: "contract", .. })));
    }

    #[test]
    fn decoding_rejects_trailing_bytes_wrong_version_and_truncation() {
        let k = Keypair::generate();
        let bytes = body(&k).sign(&k).to_canonical();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SignedTx::from_canonical(&trailing).is_err());
        let mut wrong = bytes.clone();
        wrong[0] = 2;
        assert_eq!(SignedTx::from_canonical(&wrong), Err(DecodeError::Version(2)));
        assert!(SignedTx::from_canonical(&bytes[..bytes.len() - 1]).is_err());
        assert!(matches!(SignedTx::decode_limited(&bytes, 10), Err(TxError::TooLarge { .. })));
    }

    proptest! {
        #[test]
        fn canonical_encoding_round_trips(
            chain in "[a-z]{1,8}", args in ".{0,64}", nonce: u64, expiry: u64, sig in prop::array::uniform32(any::<u8>())
        ) {
            let k = Keypair::from_secret(&[7u8; 32]).unwrap();
            let mut s = [0u8; 64];
            s[..32].copy_from_slice(&sig);
            let tx = SignedTx {
                body: TxBody { chain_id: chain, contract: "x".into(), method: "m".into(), args, nonce, expiry_height: expiry, signer: k.public_key() },
                signature: Signature(s),
            };
            let bytes = tx.to_canonical();
            let back = SignedTx::from_canonical(&bytes).unwrap();
            prop_assert_eq!(&back, &tx);
            prop_assert_eq!(back.to_canonical(), bytes);
        }

        #[test]
        fn any_accepted_bytes_re_encode_identically(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(tx) = SignedTx::from_canonical(&bytes) {
                prop_assert_eq!(tx.to_canonical(), bytes);
            }
        }
    }
}
