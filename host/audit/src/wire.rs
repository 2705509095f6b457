//! The raw block format of `GET /v1/raw/blocks`: blocks and receipts as their
//! canonical bytes, so that an auditor reading a node over HTTP checks exactly
//! what the node stored.
//!
//! A body is a sequence of records, one per block:
//! `u32be(len) canonical(block)`, `u32be(n)`, then n × `u32be(len) canonical(receipt)`.

use crate::source::StoredBlock;
use phr_ledger::{Block, Canonical, Receipt};

/// Append one block's record to `out`.
pub fn encode_block(out: &mut Vec<u8>, block: &Block, receipts: &[Receipt]) {
    let mut put = |b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    };
    put(&block.to_canonical());
    out.extend_from_slice(&(receipts.len() as u32).to_be_bytes());
    for r in receipts {
        let bytes = r.to_canonical();
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
}

/// Decode a body of records; a malformed one is an error naming where.
pub fn decode_blocks(mut b: &[u8]) -> Result<Vec<StoredBlock>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err(format!("truncated {what}"));
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    fn len(b: &mut &[u8], what: &str) -> Result<usize, String> {
        Ok(u32::from_be_bytes(take(b, 4, what)?.try_into().expect("4 bytes")) as usize)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = len(&mut b, "block length")?;
        let block =
            Block::from_canonical(take(&mut b, n, "block")?).map_err(|e| format!("block {}: {e}", out.len()))?;
        let count = len(&mut b, "receipt count")?;
        let mut receipts = Vec::with_capacity(count.min(100_000));
        for i in 0..count {
            let n = len(&mut b, "receipt length")?;
            let r = Receipt::from_canonical(take(&mut b, n, "receipt")?)
                .map_err(|e| format!("receipt {i} of block {}: {e}", block.header.height))?;
            receipts.push(r);
        }
        out.push(StoredBlock { block, receipts });
    }
    Ok(out)
}
