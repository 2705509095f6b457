//! SHA-256 digests and the Merkle root used for transaction and receipt roots.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A SHA-256 digest. Shown and parsed as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub const ZERO: Hash32 = Hash32([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl FromStr for Hash32 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| format!("expected 64 hex characters: {e}"))?;
        Ok(Hash32(out))
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <String as Deserialize>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            let b = bytes_de(d)?;
            Ok(Hash32(b.as_slice().try_into().map_err(|_| serde::de::Error::custom("a hash is 32 bytes"))?))
        }
    }
}

/// Bytes from a binary serde format (serialized with `serialize_bytes`).
pub(crate) fn bytes_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(V)
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Hash32(h.finalize().into())
}

/// The Merkle root of `leaves` (RFC 6962 shape): leaves are hashed as
/// `SHA-256(0x00 || leaf)`, inner nodes as `SHA-256(0x01 || left || right)`, an
/// odd node is carried up unchanged, and the root of no leaves is
/// `SHA-256("")`. The prefixes keep a leaf from posing as an inner node.
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return sha256(&[]);
    }
    let mut level: Vec<Hash32> = leaves.iter().map(|l| sha256(&[&[0x00], &l.0])).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => sha256(&[&[0x01], &l.0, &r.0]),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_root_depends_on_every_leaf_and_order() {
        let leaves: Vec<Hash32> = (0u8..5).map(|i| sha256(&[&[i]])).collect();
        let root = merkle_root(&leaves);
        for i in 0..leaves.len() {
            let mut changed = leaves.clone();
            changed[i] = sha256(&[b"other"]);
            assert_ne!(merkle_root(&changed), root, "leaf {i} not bound");
        }
        let mut swapped = leaves.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&swapped), root);
        assert_ne!(merkle_root(&leaves[..4]), root);
    }

    #[test]
    fn single_leaf_is_not_the_leaf_itself() {
        let leaf = sha256(&[b"x"]);
        assert_ne!(merkle_root(&[leaf]), leaf);
    }

    #[test]
    fn hex_round_trip() {
        let h = sha256(&[b"abc"]);
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(h.to_hex().parse::<Hash32>().unwrap(), h);
        assert!("zz".parse::<Hash32>().is_err());
    }
}
