//! The one canonical binary encoding of everything hashed or signed.
//!
//! Encoding version 1 is a version byte (`0x01`) followed by the Borsh encoding
//! (<https://borsh.io>) of the value: little-endian fixed-width integers,
//! `u32`-length-prefixed strings and vectors, `0x00`/`0x01` option tags, one-byte
//! enum tags, no maps. Borsh has exactly one encoding per value, and decoding
//! here rejects a wrong version byte, malformed input and trailing bytes, so
//! `decode(encode(v)) == v` and `encode(decode(b)) == b` for every accepted `b`.
//! See `docs/encoding.md`.

use crate::hash::{sha256, Hash32};
use borsh::{BorshDeserialize, BorshSerialize};

/// The encoding version written before every canonical value.
pub const ENCODING_VERSION: u8 = 1;

/// Why bytes are not a canonical value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty input")]
    Empty,
    #[error("unsupported encoding version {0} (this node reads version {ENCODING_VERSION})")]
    Version(u8),
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// A value with a canonical encoding and a domain-separated digest.
pub trait Canonical: BorshSerialize + BorshDeserialize + Sized {
    /// Names the kind of value in its digest, so that no two kinds of value can
    /// share a hash (for example `b"phr/tx/v1"`).
    const DOMAIN: &'static [u8];
    /// A short name for error messages.
    const WHAT: &'static str;

    /// The canonical bytes: version byte, then Borsh.
    fn to_canonical(&self) -> Vec<u8> {
        let mut out = vec![ENCODING_VERSION];
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Decode canonical bytes, rejecting anything that is not exactly one value.
    fn from_canonical(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != ENCODING_VERSION {
            return Err(DecodeError::Version(version));
        }
        borsh::from_slice(rest).map_err(|e| DecodeError::Malformed { what: Self::WHAT, reason: e.to_string() })
    }

    /// SHA-256 of the domain, a zero byte, and the canonical bytes.
    fn digest(&self) -> Hash32 {
        sha256(&[Self::DOMAIN, &[0], &self.to_canonical()])
    }
}
