//! Reads of world state: latest values, values as of a point, scans, history.

use crate::keys::{escape_into, ns_prefix, prefix_end, split_version_key, state_key, version_key, version_prefix};
use crate::{Point, Result, StateDb, StateError, CF_STATE, CF_VERSIONS};
use rocksdb::{Direction, IteratorMode, ReadOptions};

/// A value and the version that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// (height, tx index) of the write.
    pub version: (u64, u32),
    pub value: Vec<u8>,
}

/// One committed version of a key; `value: None` is a deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub height: u64,
    pub tx_index: u32,
    pub value: Option<Vec<u8>>,
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StateError {
    StateError::Corrupt { what, detail: detail.into() }
}

fn decode_state_value(b: &[u8]) -> Result<Versioned> {
    let (h, i) = crate::keys::parse_position(b).ok_or_else(|| corrupt("state value", "shorter than its version"))?;
    Ok(Versioned { version: (h, i), value: b[12..].to_vec() })
}

fn decode_version_value(b: &[u8]) -> Result<Option<Vec<u8>>> {
    match b.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(corrupt("version value", "bad tag")),
    }
}

impl StateDb {
    /// The latest committed value of `key` in namespace `ns`.
    pub fn get(&self, ns: &str, key: &[u8]) -> Result<Option<Versioned>> {
        match self.db.get_pinned_cf(self.cf(CF_STATE), state_key(ns, key))? {
            None => Ok(None),
            Some(b) => decode_state_value(&b).map(Some),
        }
    }

    /// The value of `key` as of `at` (every write up to and including it).
    pub fn get_at(&self, ns: &str, key: &[u8], at: Point) -> Result<Option<Versioned>> {
        // Fast path: the latest value is old enough.
        if let Some(v) = self.get(ns, key)? {
            if v.version <= (at.height, at.tx_index) {
                return Ok(Some(v));
            }
        }
        Ok(self
            .version_at(ns, key, at)?
            .and_then(|h| h.value.map(|value| Versioned { version: (h.height, h.tx_index), value })))
    }

    /// The newest version of `key` at or before `at`, deletions included.
    fn version_at(&self, ns: &str, key: &[u8], at: Point) -> Result<Option<HistoryEntry>> {
        Ok(self.history(ns, key, 1, at)?.pop())
    }

    /// Latest committed entries of `ns` with keys in `[start, end)` (empty `end`:
    /// unbounded), ascending, at most `limit`.
    pub fn scan(&self, ns: &str, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Versioned)>> {
        let prefix = ns_prefix(ns);
        let lower = state_key(ns, start);
        let upper = if end.is_empty() { prefix_end(&prefix) } else { Some(state_key(ns, end)) };
        let mut ro = ReadOptions::default();
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u);
        }
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(self.cf(CF_STATE), ro, IteratorMode::From(&lower, Direction::Forward)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            out.push((k[prefix.len()..].to_vec(), decode_state_value(&v)?));
        }
        Ok(out)
    }

    /// Entries of `ns` with keys in `[start, end)` as they were at `at`, ascending,
    /// at most `limit`.
    pub fn scan_at(
        &self,
        ns: &str,
        start: &[u8],
        end: &[u8],
        limit: usize,
        at: Point,
    ) -> Result<Vec<(Vec<u8>, Versioned)>> {
        let prefix = ns_prefix(ns);
        let mut lower = prefix.clone();
        escape_into(&mut lower, start);
        let mut ro = ReadOptions::default();
        if let Some(u) = prefix_end(&prefix) {
            ro.set_iterate_upper_bound(u);
        }
        let mut out: Vec<(Vec<u8>, Versioned)> = Vec::new();
        // The newest version at or before `at` of the key being walked.
        let mut current: Option<(Vec<u8>, Option<Versioned>)> = None;
        let flush = |cur: Option<(Vec<u8>, Option<Versioned>)>, out: &mut Vec<(Vec<u8>, Versioned)>| {
            if let Some((k, Some(v))) = cur {
                out.push((k, v));
            }
        };
        for item in self.db.iterator_cf_opt(self.cf(CF_VERSIONS), ro, IteratorMode::From(&lower, Direction::Forward)) {
            let (k, v) = item?;
            let (key, h, i) =
                split_version_key(&k[prefix.len()..]).ok_or_else(|| corrupt("version key", "bad layout"))?;
            if !end.is_empty() && key.as_slice() >= end {
                break;
            }
            if current.as_ref().is_some_and(|(ck, _)| *ck != key) {
                flush(current.take(), &mut out);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            let entry = current.get_or_insert_with(|| (key.clone(), None));
            if (h, i) <= (at.height, at.tx_index) {
                entry.1 = decode_version_value(&v)?.map(|value| Versioned { version: (h, i), value });
            }
        }
        flush(current, &mut out);
        out.truncate(limit);
        Ok(out)
    }

    /// Committed versions of `key`, newest first, at most `limit`, none after `at`.
    pub fn history(&self, ns: &str, key: &[u8], limit: usize, at: Point) -> Result<Vec<HistoryEntry>> {
        let prefix = version_prefix(ns, key);
        let seek = version_key(ns, key, at.height, at.tx_index);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_VERSIONS));
        it.seek_for_prev(&seek);
        let mut out = Vec::new();
        while it.valid() && out.len() < limit {
            let k = it.key().expect("valid iterator has a key");
            if !k.starts_with(&prefix) {
                break;
            }
            let (h, i) =
                crate::keys::parse_position(&k[prefix.len()..]).ok_or_else(|| corrupt("version key", "short"))?;
            let value = decode_version_value(it.value().expect("valid iterator has a value"))?;
            out.push(HistoryEntry { height: h, tx_index: i, value });
            it.prev();
        }
        it.status()?;
        Ok(out)
    }
}
