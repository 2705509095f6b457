//! The state root: a hash chain over every block's writes.
//!
//! `state_root(h) = SHA-256("phr/state-root/v1" 0x00 || state_root(h-1) ||
//! h:u64be || for each write in block order: tx_index:u32be ||
//! len(ns):u32be ns || len(key):u32be key || (0x00 | 0x01 len(value):u32be value))`.
//! Writes are in transaction order and, within a transaction, sorted by
//! namespace and key. A block that writes nothing keeps the previous root, so
//! an unchanged root means unchanged state. The root binds the full write
//! history: replaying the chain must reproduce it block by block.

use phr_ledger::{merkle_root, Canonical, Hash32, Receipt};
use phr_state::StateWrite;
use sha2::{Digest, Sha256};

pub fn state_root(prev: &Hash32, height: u64, writes: &[StateWrite]) -> Hash32 {
    if writes.is_empty() {
        return *prev;
    }
    let mut h = Sha256::new();
    h.update(b"phr/state-root/v1\0");
    h.update(prev.as_bytes());
    h.update(height.to_be_bytes());
    let lp = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u32).to_be_bytes());
        h.update(b);
    };
    for w in writes {
        h.update(w.tx_index.to_be_bytes());
        lp(&mut h, w.namespace.as_bytes());
        lp(&mut h, &w.key);
        match &w.value {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                lp(&mut h, v);
            }
        }
    }
    Hash32(h.finalize().into())
}

/// Merkle root of the receipts' digests, in transaction order.
pub fn receipts_root(receipts: &[Receipt]) -> Hash32 {
    let leaves: Vec<Hash32> = receipts.iter().map(|r| r.digest()).collect();
    merkle_root(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(ns: &str, key: &[u8], value: Option<&[u8]>, tx_index: u32) -> StateWrite {
        StateWrite { namespace: ns.into(), key: key.to_vec(), value: value.map(|v| v.to_vec()), tx_index }
    }

    #[test]
    fn root_binds_previous_root_height_and_every_write_detail() {
        let base = vec![w("a", b"k", Some(b"v"), 0), w("b", b"k2", None, 1)];
        let r = state_root(&Hash32::ZERO, 5, &base);
        assert_ne!(r, state_root(&Hash32([1; 32]), 5, &base));
        assert_ne!(r, state_root(&Hash32::ZERO, 6, &base));
        let variants = [
            vec![w("a", b"k", Some(b"v2"), 0), w("b", b"k2", None, 1)],
            vec![w("a", b"k", None, 0), w("b", b"k2", None, 1)],
            vec![w("a", b"k", Some(b"v"), 1), w("b", b"k2", None, 1)],
            vec![w("ab", b"", Some(b"v"), 0), w("b", b"k2", None, 1)],
            vec![w("b", b"k2", None, 1), w("a", b"k", Some(b"v"), 0)],
            vec![w("a", b"k", Some(b"v"), 0)],
        ];
        for v in variants {
            assert_ne!(r, state_root(&Hash32::ZERO, 5, &v), "{v:?}");
        }
    }

    #[test]
    fn a_block_without_writes_keeps_the_root() {
        let prev = Hash32([7; 32]);
        assert_eq!(state_root(&prev, 9, &[]), prev);
    }
}
