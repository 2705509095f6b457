//! The store against a model: every value as of every point, scans, history,
//! order of commits, persistence.

use crate::{AppliedMeta, BlockCommit, Point, StateDb, StateWrite, StoreOptions};
use phr_ledger::{Block, BlockHeader, Hash32};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn block(height: u64) -> Block {
    Block {
        header: BlockHeader {
            chain_id: "t".into(),
            height,
            prev_hash: Hash32::ZERO,
            time_ms: height,
            proposer: "p".into(),
            tx_root: Hash32::ZERO,
            tx_count: 0,
            prev_state_root: Hash32::ZERO,
            prev_receipts_root: Hash32::ZERO,
        },
        txs: Vec::new(),
    }
}

fn commit(db: &StateDb, height: u64, writes: &[StateWrite]) -> crate::Result<()> {
    let b = block(height);
    let meta = AppliedMeta {
        height,
        block_hash: b.hash(),
        time_ms: height,
        state_root: Hash32([height as u8; 32]),
        receipts_root: Hash32::ZERO,
        genesis_hash: Hash32::ZERO,
        orderer_position: height.to_be_bytes().to_vec(),
    };
    db.commit(BlockCommit { block: &b, receipts: &[], writes, code: &[], indexed_txs: &[], meta })
}

fn w(ns: &str, key: &[u8], value: Option<&[u8]>, tx_index: u32) -> StateWrite {
    StateWrite { namespace: ns.into(), key: key.to_vec(), value: value.map(|v| v.to_vec()), tx_index }
}

fn open(dir: &std::path::Path) -> StateDb {
    StateDb::open(dir, StoreOptions { sync_writes: false, ..Default::default() }).unwrap()
}

#[test]
fn latest_as_of_and_history_of_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    commit(&db, 0, &[w("a", b"k", Some(b"v0"), 0)]).unwrap();
    commit(&db, 1, &[w("a", b"k", Some(b"v1a"), 0), w("a", b"k", Some(b"v1b"), 3)]).unwrap();
    commit(&db, 2, &[w("a", b"k", None, 1)]).unwrap();
    commit(&db, 3, &[w("a", b"k", Some(b"v3"), 0)]).unwrap();

    assert_eq!(db.get("a", b"k").unwrap().unwrap().value, b"v3");
    assert_eq!(db.get("a", b"k").unwrap().unwrap().version, (3, 0));
    let at = |h, i| db.get_at("a", b"k", Point { height: h, tx_index: i }).unwrap().map(|v| v.value);
    assert_eq!(at(0, 0), Some(b"v0".to_vec()));
    assert_eq!(at(1, 0), Some(b"v1a".to_vec()));
    assert_eq!(at(1, 2), Some(b"v1a".to_vec()));
    assert_eq!(at(1, 3), Some(b"v1b".to_vec()));
    assert_eq!(at(2, 0), Some(b"v1b".to_vec()));
    assert_eq!(at(2, 1), None, "deleted at (2, 1)");
    assert_eq!(at(3, 0), Some(b"v3".to_vec()));
    assert_eq!(db.get_at("a", b"k", Point::before(1, 0)).unwrap().unwrap().value, b"v0");

    let h = db.history("a", b"k", 10, Point::end_of(u64::MAX)).unwrap();
    let versions: Vec<(u64, u32, bool)> = h.iter().map(|e| (e.height, e.tx_index, e.value.is_some())).collect();
    assert_eq!(versions, [(3, 0, true), (2, 1, false), (1, 3, true), (1, 0, true), (0, 0, true)]);
    assert_eq!(db.history("a", b"k", 2, Point::end_of(1)).unwrap().len(), 2);
    // Namespaces are apart: the same key elsewhere is untouched.
    assert!(db.get("b", b"k").unwrap().is_none());
    assert!(db.history("b", b"k", 10, Point::end_of(9)).unwrap().is_empty());
}

#[test]
fn commits_must_come_in_height_order_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        assert!(commit(&db, 1, &[]).is_err(), "the first block is 0");
        commit(&db, 0, &[w("a", b"x", Some(b"1"), 0)]).unwrap();
        assert!(commit(&db, 0, &[]).is_err(), "no block twice");
        assert!(commit(&db, 2, &[]).is_err(), "no gaps");
        commit(&db, 1, &[w("a", b"x", Some(b"2"), 0)]).unwrap();
    }
    let db = open(dir.path());
    let m = db.applied().unwrap().unwrap();
    assert_eq!((m.height, m.orderer_position), (1, 1u64.to_be_bytes().to_vec()));
    assert_eq!(db.get("a", b"x").unwrap().unwrap().value, b"2");
    assert_eq!(db.block(1).unwrap().unwrap().header.height, 1);
    assert!(db.block(2).unwrap().is_none());
}

#[test]
fn keys_with_zero_bytes_and_prefixes_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let keys: [&[u8]; 5] = [b"a", b"a\0", b"a\0b", b"ab", b"a\xff"];
    let writes: Vec<StateWrite> = keys.iter().enumerate().map(|(i, k)| w("n", k, Some(&[i as u8]), 0)).collect();
    commit(&db, 0, &writes).unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(db.get_at("n", k, Point::end_of(0)).unwrap().unwrap().value, [i as u8]);
        assert_eq!(db.history("n", k, 5, Point::end_of(0)).unwrap().len(), 1, "{k:?}");
    }
    let latest: Vec<Vec<u8>> = db.scan("n", b"", b"", 10).unwrap().into_iter().map(|(k, _)| k).collect();
    let as_of: Vec<Vec<u8>> =
        db.scan_at("n", b"", b"", 10, Point::end_of(0)).unwrap().into_iter().map(|(k, _)| k).collect();
    let mut sorted: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    sorted.sort();
    assert_eq!(latest, sorted);
    assert_eq!(as_of, sorted);
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random blocks of writes; afterwards every point read and range scan, latest
    /// and as of any past point, equals a model replayed to that point.
    #[test]
    fn reads_as_of_any_point_match_a_model(
        blocks in prop::collection::vec(
            prop::collection::vec((0u32..4, 0u8..6, prop::option::of(0u8..50)), 0..6),
            1..8,
        ),
        probes in prop::collection::vec((0u64..8, 0u32..5, 0u8..6, 0u8..6, 1usize..8), 12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let mut model: Model = BTreeMap::new();
        let mut snapshots: Vec<((u64, u32), Model)> = Vec::new();
        for (h, writes) in blocks.iter().enumerate() {
            let mut ws: Vec<StateWrite> = writes
                .iter()
                .map(|(i, k, v)| w("ns", &[b'k', *k], v.as_ref().map(std::slice::from_ref), *i))
                .collect();
            ws.sort_by_key(|x| x.tx_index);
            for x in &ws {
                match &x.value {
                    Some(v) => { model.insert(x.key.clone(), v.clone()); }
                    None => { model.remove(&x.key); }
                }
                snapshots.push(((h as u64, x.tx_index), model.clone()));
            }
            snapshots.push(((h as u64, u32::MAX), model.clone()));
            commit(&db, h as u64, &ws).unwrap();
        }
        let model_at = |p: Point| -> Model {
            snapshots.iter().rev().find(|(v, _)| *v <= (p.height, p.tx_index)).map(|(_, m)| m.clone()).unwrap_or_default()
        };
        for (h, i, k, end, limit) in probes {
            let p = Point { height: h.min(blocks.len() as u64 - 1), tx_index: i };
            let m = model_at(p);
            let key = vec![b'k', k];
            prop_assert_eq!(db.get_at("ns", &key, p).unwrap().map(|v| v.value), m.get(&key).cloned());
            let (start, stop) = (vec![b'k', k.min(end)], vec![b'k', k.max(end)]);
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                db.scan_at("ns", &start, &stop, limit, p).unwrap().into_iter().map(|(k, v)| (k, v.value)).collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> =
                m.range(start.clone()..stop.clone()).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(got, want);
        }
        let latest: Vec<(Vec<u8>, Vec<u8>)> = db.scan("ns", b"", b"", 100).unwrap().into_iter().map(|(k, v)| (k, v.value)).collect();
        prop_assert_eq!(latest, model.into_iter().collect::<Vec<_>>());
    }
}
