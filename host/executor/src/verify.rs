//! Store verification: the chain a store holds must be what its own hashes say,
//! so that a node whose RocksDB was edited refuses to start instead of serving
//! altered history.
//!
//! Checked, in one pass over each column family:
//! - every block decodes, has its height, links to the previous block's hash,
//!   and its transaction root and count match its transactions;
//! - every block's receipts are one per transaction, for that transaction, and
//!   hash to the receipts root the next header (or the applied metadata) holds;
//! - the state roots recomputed from the receipts' writes (block 0's from its
//!   versions) match the headers and the applied metadata;
//! - the key versions are exactly the writes the receipts record (compared as
//!   a multiset digest), and the latest values are the latest versions;
//! - the transaction index points at the transactions; stored code matches
//!   its hash.
//!
//! This is consistency, not truth: a store rewritten wholesale with fresh
//! hashes passes, and is caught by the divergence alarm or by an audit replay.

use crate::{roots, ExecError};
use phr_ledger::{display_slot, merkle_root, Hash32};
use phr_state::{StateDb, StateEntry, StateWrite, VersionEntry};
use sha2::{Digest, Sha256};
use std::iter::Peekable;

/// What a verified store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCheck {
    pub blocks: u64,
    pub txs: u64,
    pub versions: u64,
    pub keys: u64,
    pub codes: u64,
}

fn tampered(what: String) -> ExecError {
    ExecError::Tampered(what)
}

/// A 256-bit sum of write digests: equal sums mean (with overwhelming
/// probability) equal multisets of writes, whatever the order of the walk.
#[derive(Default, PartialEq, Eq)]
struct WriteSum([u64; 4]);

impl WriteSum {
    fn add(&mut self, ns: &str, key: &[u8], height: u64, tx_index: u32, value: Option<&[u8]>) {
        let mut h = Sha256::new();
        h.update(b"phr/write/v1\0");
        h.update((ns.len() as u32).to_be_bytes());
        h.update(ns.as_bytes());
        h.update((key.len() as u32).to_be_bytes());
        h.update(key);
        h.update(height.to_be_bytes());
        h.update(tx_index.to_be_bytes());
        match value {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                h.update(v);
            }
        }
        let d: [u8; 32] = h.finalize().into();
        let mut carry = 0u128;
        for i in (0..4).rev() {
            let limb = u64::from_be_bytes(d[i * 8..i * 8 + 8].try_into().expect("8 bytes")) as u128;
            let s = self.0[i] as u128 + limb + carry;
            self.0[i] = s as u64;
            carry = s >> 64;
        }
    }
}

/// The order of both the `state` and the `versions` column families.
fn order(ns: &str, key: &[u8]) -> (usize, String, Vec<u8>) {
    (ns.len(), ns.to_string(), key.to_vec())
}

/// The latest version of one key against the `state` column family.
fn check_latest(
    latest: &VersionEntry,
    states: &mut Peekable<impl Iterator<Item = phr_state::Result<StateEntry>>>,
) -> Result<u64, ExecError> {
    let want = order(&latest.namespace, &latest.key);
    match states.peek() {
        Some(Err(_)) => return Err(states.next().expect("peeked").expect_err("an error").into()),
        Some(Ok(s)) if order(&s.namespace, &s.key) < want => {
            return Err(tampered(format!(
                "state holds {} (as of {}:{}), which no committed version wrote",
                display_slot(&s.namespace, &s.key),
                s.version.0,
                s.version.1
            )))
        }
        _ => {}
    }
    let here = matches!(states.peek(), Some(Ok(s)) if order(&s.namespace, &s.key) == want);
    match (&latest.value, here) {
        (None, false) => Ok(0),
        (None, true) => Err(tampered(format!(
            "state holds {}, which was deleted at {}:{}",
            display_slot(&latest.namespace, &latest.key),
            latest.height,
            latest.tx_index
        ))),
        (Some(_), false) => Err(tampered(format!(
            "state lacks {}, written at {}:{}",
            display_slot(&latest.namespace, &latest.key),
            latest.height,
            latest.tx_index
        ))),
        (Some(v), true) => {
            let s = states.next().expect("peeked")?;
            if s.version != (latest.height, latest.tx_index) || &s.value != v {
                return Err(tampered(format!(
                    "the value of {} in state (SHA-256 {}, version {}:{}) is not the one written at {}:{} (SHA-256 {})",
                    display_slot(&s.namespace, &s.key),
                    phr_ledger::sha256(&[&s.value]),
                    s.version.0,
                    s.version.1,
                    latest.height,
                    latest.tx_index,
                    phr_ledger::sha256(&[v]),
                )));
            }
            Ok(1)
        }
    }
}

/// Check the store as described in the module documentation.
pub fn verify_store(db: &StateDb) -> Result<StoreCheck, ExecError> {
    let meta = db.applied()?.ok_or_else(|| ExecError::Corrupt("the store holds no chain".into()))?;
    let mut check = StoreCheck::default();

    // Versions: their multiset digest, block 0's writes, and the latest values.
    let mut version_sum = WriteSum::default();
    let mut genesis_writes = Vec::new();
    let mut states = db.states().peekable();
    let mut latest: Option<VersionEntry> = None;
    for v in db.versions() {
        let v = v?;
        check.versions += 1;
        version_sum.add(&v.namespace, &v.key, v.height, v.tx_index, v.value.as_deref());
        if v.height == 0 {
            genesis_writes.push(StateWrite {
                namespace: v.namespace.clone(),
                key: v.key.clone(),
                value: v.value.clone(),
                tx_index: 0,
            });
        }
        if v.height > meta.height {
            return Err(tampered(format!(
                "{} has a version at height {}, above the last block {}",
                display_slot(&v.namespace, &v.key),
                v.height,
                meta.height
            )));
        }
        if let Some(l) = latest.take() {
            if l.namespace != v.namespace || l.key != v.key {
                check.keys += check_latest(&l, &mut states)?;
            } else if (l.height, l.tx_index) >= (v.height, v.tx_index) {
                return Err(tampered(format!("versions of {} are out of order", display_slot(&v.namespace, &v.key))));
            }
        }
        latest = Some(v);
    }
    if let Some(l) = latest {
        check.keys += check_latest(&l, &mut states)?;
    }
    if let Some(s) = states.next() {
        let s = s?;
        return Err(tampered(format!(
            "state holds {} (as of {}:{}), which no committed version wrote",
            display_slot(&s.namespace, &s.key),
            s.version.0,
            s.version.1
        )));
    }
    genesis_writes.sort_by(|a, b| (&a.namespace, &a.key).cmp(&(&b.namespace, &b.key)));

    // Blocks and receipts, in height order.
    let mut receipt_sum = WriteSum::default();
    for w in &genesis_writes {
        receipt_sum.add(&w.namespace, &w.key, 0, 0, w.value.as_deref());
    }
    let mut prev_hash = Hash32::ZERO;
    let mut state_root = roots::state_root(&Hash32::ZERO, 0, &genesis_writes);
    let mut receipts_root = roots::receipts_root(&[]);
    for h in 0..=meta.height {
        let block = db.block(h).map_err(|e| tampered(format!("block {h} cannot be read: {e}")))?;
        let block = block.ok_or_else(|| tampered(format!("block {h} is missing (the chain is at {})", meta.height)))?;
        let hd = &block.header;
        if hd.height != h {
            return Err(tampered(format!("block {h} says it is block {}", hd.height)));
        }
        if h > 0 {
            if hd.prev_hash != prev_hash {
                return Err(tampered(format!(
                    "block {} does not hash to the prev_hash block {h} records ({} vs {}): block {} was altered",
                    h - 1,
                    prev_hash,
                    hd.prev_hash,
                    h - 1
                )));
            }
            for (what, ours, theirs) in [
                ("state root", state_root, hd.prev_state_root),
                ("receipts root", receipts_root, hd.prev_receipts_root),
            ] {
                if ours != theirs {
                    return Err(tampered(format!(
                        "the {what} of block {} recomputed from the store is {ours}, but block {h} records {theirs}",
                        h - 1
                    )));
                }
            }
            let ids: Vec<Hash32> = block.txs.iter().map(|t| t.id()).collect();
            if hd.tx_count as usize != ids.len() || hd.tx_root != merkle_root(&ids) {
                return Err(tampered(format!(
                    "the transactions of block {h} do not match its header (tx root, count)"
                )));
            }
            let receipts =
                db.receipts(h).map_err(|e| tampered(format!("a receipt of block {h} cannot be read: {e}")))?;
            if receipts.len() != ids.len() {
                return Err(tampered(format!(
                    "block {h} has {} transactions but {} receipts",
                    ids.len(),
                    receipts.len()
                )));
            }
            let mut writes = Vec::new();
            for (i, (r, id)) in receipts.iter().zip(&ids).enumerate() {
                if r.tx_id != *id {
                    return Err(tampered(format!("receipt {h}:{i} is for transaction {}, not {id}", r.tx_id)));
                }
                match db.tx_location(id)? {
                    Some(at) if at <= (h, i as u32) => {}
                    other => {
                        return Err(tampered(format!(
                            "the transaction index puts {id} (block {h}, tx {i}) at {other:?}"
                        )))
                    }
                }
                for w in &r.writes {
                    receipt_sum.add(&w.namespace, &w.key, h, i as u32, w.value.as_deref());
                    writes.push(StateWrite {
                        namespace: w.namespace.clone(),
                        key: w.key.clone(),
                        value: w.value.clone(),
                        tx_index: i as u32,
                    });
                }
            }
            state_root = roots::state_root(&state_root, h, &writes);
            receipts_root = roots::receipts_root(&receipts);
            check.txs += ids.len() as u64;
        }
        prev_hash = block.hash();
        check.blocks += 1;
    }
    for (what, ours, theirs) in [
        ("hash", prev_hash, meta.block_hash),
        ("state root", state_root, meta.state_root),
        ("receipts root", receipts_root, meta.receipts_root),
    ] {
        if ours != theirs {
            return Err(tampered(format!(
                "the {what} of the last block {} recomputed from the store is {ours}, but the applied metadata records {theirs}",
                meta.height
            )));
        }
    }
    if version_sum != receipt_sum {
        return Err(tampered(
            "the key versions are not the writes the receipts record (a version was edited, added or removed)".into(),
        ));
    }
    let mut bad_code = None;
    db.for_each_code(|hash, bytes| {
        check.codes += 1;
        if phr_ledger::sha256(&[&bytes]) != hash {
            bad_code = Some(hash);
            return Ok(false);
        }
        Ok(true)
    })?;
    if let Some(h) = bad_code {
        return Err(tampered(format!("the code stored under {h} does not hash to it")));
    }
    Ok(check)
}
