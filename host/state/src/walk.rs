//! Whole-store walks for verification and audit: every version of every key,
//! every latest value, all code; a read-only open; and the one raw write that
//! tests use to simulate tampering.

use crate::keys::{parse_position, split_version_key};
use crate::{Result, StateDb, StateError, StoreOptions, CFS, CF_CODE, CF_STATE, CF_VERSIONS};
use phr_ledger::Hash32;
use rocksdb::{IteratorMode, Options, DB};
use std::path::Path;

/// One committed version of a key, as the `versions` column family holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub namespace: String,
    pub key: Vec<u8>,
    pub height: u64,
    pub tx_index: u32,
    /// `None`: the write deleted the key.
    pub value: Option<Vec<u8>>,
}

/// One latest value, as the `state` column family holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    pub namespace: String,
    pub key: Vec<u8>,
    pub version: (u64, u32),
    pub value: Vec<u8>,
}

fn corrupt(what: &'static str, detail: String) -> StateError {
    StateError::Corrupt { what, detail }
}

/// Split `ns_len:u8 ns rest`.
fn split_ns(k: &[u8]) -> Option<(String, &[u8])> {
    let (&len, rest) = k.split_first()?;
    let ns = rest.get(..len as usize)?;
    Some((String::from_utf8(ns.to_vec()).ok()?, &rest[len as usize..]))
}

impl StateDb {
    /// Open an existing store read-only (a node may hold it open meanwhile; the
    /// view is the store as of this call). Any write fails.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.join("CURRENT").exists() {
            return Err(corrupt("store", format!("{} holds no PHR Ledger store", path.display())));
        }
        let db = DB::open_cf_for_read_only(&Options::default(), path, CFS, false)?;
        Ok(StateDb { db, opts: StoreOptions { sync_writes: false, ..Default::default() } })
    }

    /// Every version of every key, in (namespace, key, version) order.
    pub fn versions(&self) -> impl Iterator<Item = Result<VersionEntry>> + '_ {
        self.db.iterator_cf(self.cf(CF_VERSIONS), IteratorMode::Start).map(|item| {
            let (k, v) = item?;
            let bad = || corrupt("version key", hex::encode(&k));
            let (namespace, rest) = split_ns(&k).ok_or_else(bad)?;
            let (key, height, tx_index) = split_version_key(rest).ok_or_else(bad)?;
            let value = match v.split_first() {
                Some((0, [])) => None,
                Some((1, rest)) => Some(rest.to_vec()),
                _ => {
                    return Err(corrupt(
                        "version value",
                        format!("{namespace}/{} at {height}:{tx_index}", hex::encode(&key)),
                    ))
                }
            };
            Ok(VersionEntry { namespace, key, height, tx_index, value })
        })
    }

    /// Every latest value, in (namespace, key) order.
    pub fn states(&self) -> impl Iterator<Item = Result<StateEntry>> + '_ {
        self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start).map(|item| {
            let (k, v) = item?;
            let (namespace, key) = split_ns(&k).ok_or_else(|| corrupt("state key", hex::encode(&k)))?;
            let version = parse_position(&v).ok_or_else(|| corrupt("state value", hex::encode(&k)))?;
            Ok(StateEntry { namespace, key: key.to_vec(), version, value: v[12..].to_vec() })
        })
    }

    /// Every stored component: (the hash it is filed under, its bytes).
    pub fn for_each_code(&self, mut f: impl FnMut(Hash32, Vec<u8>) -> Result<bool>) -> Result<()> {
        for item in self.db.iterator_cf(self.cf(CF_CODE), IteratorMode::Start) {
            let (k, v) = item?;
            let hash = Hash32(k.as_ref().try_into().map_err(|_| corrupt("code key", hex::encode(&k)))?);
            if !f(hash, v.to_vec())? {
                break;
            }
        }
        Ok(())
    }

    /// Overwrite one raw entry of a column family (`state`, `versions`, `blocks`,
    /// `receipts`, ...), bypassing every rule of the store. Only for tests that
    /// simulate someone editing a node's disk.
    #[doc(hidden)]
    pub fn tamper_raw(&self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let cf = self.db.cf_handle(cf).ok_or_else(|| corrupt("column family", cf.to_string()))?;
        self.db.put_cf(cf, key, value)?;
        self.db.flush()?;
        Ok(())
    }

    /// The raw key of `key` in `ns` in the `state` column family, for [`StateDb::tamper_raw`].
    #[doc(hidden)]
    pub fn raw_state_key(ns: &str, key: &[u8]) -> Vec<u8> {
        crate::keys::state_key(ns, key)
    }

    /// The raw key of a version in the `versions` column family, for [`StateDb::tamper_raw`].
    #[doc(hidden)]
    pub fn raw_version_key(ns: &str, key: &[u8], height: u64, tx_index: u32) -> Vec<u8> {
        crate::keys::version_key(ns, key, height, tx_index)
    }

    /// The raw key of a block or receipt position, for [`StateDb::tamper_raw`].
    #[doc(hidden)]
    pub fn raw_position(height: u64, tx_index: u32) -> [u8; 12] {
        crate::keys::position(height, tx_index)
    }
}

/// The first place where two walks sorted by the same key differ: an entry
/// missing on one side (`None` there) or two entries with the same key that
/// differ.
pub fn first_difference<T: PartialEq, K: Ord>(
    a: impl Iterator<Item = Result<T>>,
    b: impl Iterator<Item = Result<T>>,
    key: impl Fn(&T) -> K,
) -> Result<Option<(Option<T>, Option<T>)>> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    loop {
        // Surface errors before comparing.
        if let Some(Err(_)) = a.peek() {
            return Err(a.next().expect("peeked").err().expect("an error"));
        }
        if let Some(Err(_)) = b.peek() {
            return Err(b.next().expect("peeked").err().expect("an error"));
        }
        let order = match (a.peek(), b.peek()) {
            (None, None) => return Ok(None),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(Ok(x)), Some(Ok(y))) => key(x).cmp(&key(y)),
            _ => unreachable!("errors returned above"),
        };
        match order {
            std::cmp::Ordering::Less => return Ok(Some((a.next().transpose()?, None))),
            std::cmp::Ordering::Greater => return Ok(Some((None, b.next().transpose()?))),
            std::cmp::Ordering::Equal => {
                let (x, y) = (a.next().expect("peeked")?, b.next().expect("peeked")?);
                if x != y {
                    return Ok(Some((Some(x), Some(y))));
                }
            }
        }
    }
}
