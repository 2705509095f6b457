//! Snapshots of the chain: every key of the chain's column families as they are
//! at one instant, for a node that catches up or joins.
//!
//! Format (version 1): the magic `PHRSNAP1`, then records
//! `cf:u8 key_len:u32be key value_len:u32be value`, then the byte `0xFF`, then the
//! SHA-256 of everything before it. `cf` indexes [`CHAIN_CFS`]. The raft log and
//! its metadata are not part of a snapshot.

use crate::meta::APPLIED;
use crate::{AppliedMeta, Result, StateDb, StateError, CF_META, CF_RAFT_META, CHAIN_CFS};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

const MAGIC: &[u8; 8] = b"PHRSNAP1";
const END: u8 = 0xFF;

/// The longest key a snapshot record may carry (state keys are far shorter).
const MAX_KEY_BYTES: usize = 64 * 1024;
/// The largest value a snapshot record may carry: a block of the largest size
/// the chain allows is well under it.
const MAX_VALUE_BYTES: usize = 256 * 1024 * 1024;

/// What a snapshot holds, read from the same instant as its contents.
#[derive(Clone, Debug)]
pub struct SnapshotInfo {
    pub applied: AppliedMeta,
    /// The requested raft metadata values at that instant.
    pub raft_meta: Vec<(String, Option<Vec<u8>>)>,
    pub bytes: u64,
}

fn corrupt(detail: impl Into<String>) -> StateError {
    StateError::Corrupt { what: "snapshot", detail: detail.into() }
}

/// A writer that hashes what it writes.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(e: std::io::Error) -> StateError {
    corrupt(format!("i/o: {e}"))
}

impl StateDb {
    /// Write a snapshot of the chain to `w`, returning its applied metadata and
    /// the raft metadata values named in `raft_keys`, all from the same instant.
    pub fn export_snapshot<W: Write>(&self, w: W, raft_keys: &[&str]) -> Result<SnapshotInfo> {
        let snap = self.db.snapshot();
        let applied_bytes = snap.get_cf(self.cf(CF_META), APPLIED)?.ok_or_else(|| corrupt("nothing applied yet"))?;
        let applied: AppliedMeta = borsh::from_slice(&applied_bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut raft_meta = Vec::new();
        for k in raft_keys {
            raft_meta.push((k.to_string(), snap.get_cf(self.cf(CF_RAFT_META), k)?));
        }
        let mut out = Hashing { inner: w, hash: Sha256::new(), bytes: 0 };
        out.write_all(MAGIC).map_err(io)?;
        for (i, name) in CHAIN_CFS.iter().enumerate() {
            for item in snap.iterator_cf(self.cf(name), IteratorMode::Start) {
                let (k, v) = item?;
                out.write_all(&[i as u8]).map_err(io)?;
                out.write_all(&(k.len() as u32).to_be_bytes()).map_err(io)?;
                out.write_all(&k).map_err(io)?;
                out.write_all(&(v.len() as u32).to_be_bytes()).map_err(io)?;
                out.write_all(&v).map_err(io)?;
            }
        }
        out.write_all(&[END]).map_err(io)?;
        let digest = out.hash.clone().finalize();
        out.inner.write_all(&digest).map_err(io)?;
        out.inner.flush().map_err(io)?;
        Ok(SnapshotInfo { applied, raft_meta, bytes: out.bytes + 32 })
    }

    /// Replace the chain with the snapshot read from `r`, and set the raft
    /// metadata values `raft_meta`, in one atomic write. The snapshot's digest
    /// is checked before anything is written.
    pub fn import_snapshot<R: Read>(&self, r: R, raft_meta: &[(&str, &[u8])]) -> Result<AppliedMeta> {
        let mut r = std::io::BufReader::new(r);
        let mut hash = Sha256::new();
        // Memory grows with the bytes that actually arrive, never with a length
        // the (untrusted) snapshot merely claims.
        let mut read = |n: usize, hash: &mut Sha256| -> Result<Vec<u8>> {
            let mut buf = Vec::with_capacity(n.min(64 * 1024));
            (&mut r).take(n as u64).read_to_end(&mut buf).map_err(io)?;
            if buf.len() != n {
                return Err(corrupt(format!("truncated: a record needs {n} bytes, {} remain", buf.len())));
            }
            hash.update(&buf);
            Ok(buf)
        };
        if read(8, &mut hash)? != MAGIC {
            return Err(corrupt("not a PHR snapshot (bad magic)"));
        }
        let mut batch = WriteBatch::default();
        // Clear the chain first; the records below re-create it.
        for name in CHAIN_CFS {
            for item in self.db.iterator_cf(self.cf(name), IteratorMode::Start) {
                let (k, _) = item?;
                batch.delete_cf(self.cf(name), k);
            }
        }
        let mut applied = None;
        loop {
            let cf = read(1, &mut hash)?[0];
            if cf == END {
                break;
            }
            let name = *CHAIN_CFS.get(cf as usize).ok_or_else(|| corrupt(format!("unknown column family {cf}")))?;
            let klen = u32::from_be_bytes(read(4, &mut hash)?.try_into().expect("4 bytes")) as usize;
            if klen > MAX_KEY_BYTES {
                return Err(corrupt(format!("a key of {klen} bytes (at most {MAX_KEY_BYTES})")));
            }
            let k = read(klen, &mut hash)?;
            let vlen = u32::from_be_bytes(read(4, &mut hash)?.try_into().expect("4 bytes")) as usize;
            if vlen > MAX_VALUE_BYTES {
                return Err(corrupt(format!("a value of {vlen} bytes (at most {MAX_VALUE_BYTES})")));
            }
            let v = read(vlen, &mut hash)?;
            if name == CF_META && k == APPLIED {
                applied = Some(borsh::from_slice::<AppliedMeta>(&v).map_err(|e| corrupt(e.to_string()))?);
            }
            batch.put_cf(self.cf(name), k, v);
        }
        let mut digest = [0u8; 32];
        r.read_exact(&mut digest).map_err(io)?;
        let computed: [u8; 32] = hash.finalize().into();
        if computed != digest {
            return Err(corrupt("digest mismatch: the snapshot is damaged"));
        }
        let applied = applied.ok_or_else(|| corrupt("no applied metadata"))?;
        for (k, v) in raft_meta {
            batch.put_cf(self.cf(CF_RAFT_META), k, v);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use crate::{AppliedMeta, BlockCommit, StateDb, StateWrite, StoreOptions};
    use phr_ledger::{Block, BlockHeader, Hash32};

    fn commit(db: &StateDb, h: u64, v: &[u8]) {
        let b = Block {
            header: BlockHeader {
                chain_id: "t".into(),
                height: h,
                prev_hash: Hash32::ZERO,
                time_ms: h,
                proposer: "p".into(),
                tx_root: Hash32::ZERO,
                tx_count: 0,
                prev_state_root: Hash32::ZERO,
                prev_receipts_root: Hash32::ZERO,
            },
            txs: vec![],
        };
        let meta = AppliedMeta {
            height: h,
            block_hash: b.hash(),
            time_ms: h,
            state_root: Hash32([h as u8; 32]),
            receipts_root: Hash32::ZERO,
            genesis_hash: Hash32::ZERO,
            orderer_position: vec![h as u8],
        };
        let w = [StateWrite { namespace: "n".into(), key: vec![h as u8], value: Some(v.to_vec()), tx_index: 0 }];
        db.commit(BlockCommit { block: &b, receipts: &[], writes: &w, code: &[], indexed_txs: &[], meta }).unwrap();
    }

    #[test]
    fn a_snapshot_recreates_the_chain_and_a_damaged_one_is_refused() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let opts = StoreOptions { sync_writes: false, ..Default::default() };
        let a = StateDb::open(d1.path(), opts.clone()).unwrap();
        for h in 0..5 {
            commit(&a, h, b"value");
        }
        a.set_raft_meta("membership", b"m1").unwrap();
        let mut buf = Vec::new();
        let info = a.export_snapshot(&mut buf, &["membership"]).unwrap();
        assert_eq!(info.applied.height, 4);
        assert_eq!(info.raft_meta[0].1.as_deref(), Some(&b"m1"[..]));

        // The receiver had a different, shorter chain: it is replaced entirely.
        let b = StateDb::open(d2.path(), opts).unwrap();
        commit(&b, 0, b"other");
        commit(&b, 1, b"other");
        let mut damaged = buf.clone();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 1;
        assert!(b.import_snapshot(&damaged[..], &[]).is_err());
        assert_eq!(b.applied().unwrap().unwrap().height, 1, "a refused snapshot changes nothing");
        let applied = b.import_snapshot(&buf[..], &[("membership", b"m1")]).unwrap();
        assert_eq!(applied, a.applied().unwrap().unwrap());
        assert_eq!(b.get("n", &[0]).unwrap().unwrap().value, b"value");
        assert_eq!(b.get("n", &[4]).unwrap().unwrap().value, b"value");
        assert_eq!(b.block(3).unwrap(), a.block(3).unwrap());
        assert_eq!(b.raft_meta("membership").unwrap().unwrap(), b"m1");
        // The chain goes on from the snapshot.
        commit(&b, 5, b"next");
        assert_eq!(b.applied().unwrap().unwrap().height, 5);
    }

    /// A snapshot comes from a peer: damaged or hostile bytes are refused
    /// without panicking, without allocating what they merely claim, and
    /// without changing the receiver (issue 11, point 10).
    mod fuzz {
        use super::commit;
        use crate::{StateDb, StoreOptions};
        use proptest::prelude::*;

        fn snapshot() -> Vec<u8> {
            let d = tempfile::tempdir().unwrap();
            let a = StateDb::open(d.path(), StoreOptions { sync_writes: false, ..Default::default() }).unwrap();
            for h in 0..3 {
                commit(&a, h, b"value");
            }
            let mut buf = Vec::new();
            a.export_snapshot(&mut buf, &[]).unwrap();
            buf
        }

        fn receiver() -> (tempfile::TempDir, StateDb) {
            let d = tempfile::tempdir().unwrap();
            let b = StateDb::open(d.path(), StoreOptions { sync_writes: false, ..Default::default() }).unwrap();
            commit(&b, 0, b"mine");
            (d, b)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn damaged_or_arbitrary_snapshots_are_refused_and_change_nothing(
                at in any::<usize>(), flip in 1u8.., cut in any::<bool>(),
                noise in prop::collection::vec(any::<u8>(), 0..64),
            ) {
                let good = snapshot();
                let mut bad = good.clone();
                let i = at % bad.len();
                if cut { bad.truncate(i) } else { bad[i] ^= flip }
                let mut arbitrary = b"PHRSNAP1".to_vec();
                arbitrary.extend_from_slice(&noise);
                let (_d, b) = receiver();
                for bytes in [&bad, &noise, &arbitrary] {
                    prop_assert!(b.import_snapshot(&bytes[..], &[]).is_err());
                    prop_assert_eq!(b.applied().unwrap().unwrap().height, 0);
                    prop_assert_eq!(b.get("n", &[0]).unwrap().unwrap().value, b"mine".to_vec());
                }
            }
        }

        #[test]
        fn lengths_claiming_gigabytes_are_refused_before_reading() {
            let (_d, b) = receiver();
            for claim in [u32::MAX, 64 * 1024 + 1] {
                let mut bytes = b"PHRSNAP1".to_vec();
                bytes.push(0);
                bytes.extend_from_slice(&claim.to_be_bytes());
                let e = b.import_snapshot(&bytes[..], &[]).unwrap_err().to_string();
                prop_assert_contains(&e, "bytes (at most");
            }
            // A value claiming 200 MiB, with 10 bytes following: truncated, never allocated.
            let mut bytes = b"PHRSNAP1".to_vec();
            bytes.push(0);
            bytes.extend_from_slice(&1u32.to_be_bytes());
            bytes.push(b'k');
            bytes.extend_from_slice(&(200u32 * 1024 * 1024).to_be_bytes());
            bytes.extend_from_slice(&[0; 10]);
            let e = b.import_snapshot(&bytes[..], &[]).unwrap_err().to_string();
            prop_assert_contains(&e, "truncated");
        }

        fn prop_assert_contains(text: &str, part: &str) {
            assert!(text.contains(part), "{text:?} does not say {part:?}");
        }
    }
}
