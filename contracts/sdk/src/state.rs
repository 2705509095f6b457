//! Typed state: JSON values under composite keys, in the contract's namespace.

use crate::env::sys;
use crate::Key;
use serde::{de::DeserializeOwned, Serialize};

/// The value stored under `key`, if any. State a contract wrote itself always
/// decodes; a value that does not is a bug in the contract and traps the call.
pub fn get<T: DeserializeOwned>(key: &Key) -> Option<T> {
    sys::get(key.as_bytes()).map(|b| decode(key, &b))
}

/// Whether a value is stored under `key`.
pub fn exists(key: &Key) -> bool {
    sys::get(key.as_bytes()).is_some()
}

/// Store `value` under `key`.
pub fn put<T: Serialize>(key: &Key, value: &T) {
    let bytes = serde_json::to_vec(value).expect("contract state serializes");
    sys::put(key.as_bytes(), &bytes);
}

/// Remove `key`.
pub fn delete(key: &Key) {
    sys::delete(key.as_bytes());
}

/// Up to `limit` entries whose keys start with `prefix`, in key order, starting
/// after `after` (an encoded key returned earlier) when given.
pub fn scan_prefix<T: DeserializeOwned>(prefix: &Key, after: Option<&[u8]>, limit: u32) -> Vec<(Vec<u8>, T)> {
    let start = match after {
        Some(a) => {
            let mut s = a.to_vec();
            s.push(0);
            s
        }
        None => prefix.as_bytes().to_vec(),
    };
    sys::scan(&start, &prefix.prefix_end(), limit)
        .into_iter()
        .map(|(k, v)| {
            let t = serde_json::from_slice(&v).unwrap_or_else(|e| panic!("corrupt state under {k:?}: {e}"));
            (k, t)
        })
        .collect()
}

/// Up to `limit` entries with keys in `[start, end)`, in key order.
pub fn scan_range<T: DeserializeOwned>(start: &Key, end: &Key, limit: u32) -> Vec<(Vec<u8>, T)> {
    sys::scan(start.as_bytes(), end.as_bytes(), limit)
        .into_iter()
        .map(|(k, v)| {
            let t = serde_json::from_slice(&v).unwrap_or_else(|e| panic!("corrupt state under {k:?}: {e}"));
            (k, t)
        })
        .collect()
}

/// The ids listed in an index: the string part following `prefix` in each key
/// under it, in key order, at most `limit`.
pub fn index_ids(prefix: &Key, limit: u32) -> Vec<String> {
    index_page(prefix, None, limit).0
}

/// One page of an index: up to `limit` ids after the id `after` (exclusive),
/// and the id to pass as `after` for the next page, if there is one.
pub fn index_page(prefix: &Key, after: Option<&str>, limit: u32) -> (Vec<String>, Option<String>) {
    let start = match after {
        Some(a) => {
            let mut s = prefix.clone().part(a).as_bytes().to_vec();
            s.push(0);
            s
        }
        None => prefix.as_bytes().to_vec(),
    };
    let mut ids: Vec<String> = sys::scan(&start, &prefix.prefix_end(), limit.saturating_add(1))
        .into_iter()
        .filter_map(|(k, _)| Key::part_after(prefix, &k))
        .collect();
    let next = if ids.len() > limit as usize {
        ids.truncate(limit as usize);
        ids.last().cloned()
    } else {
        None
    };
    (ids, next)
}

/// One page of an index as a reader may see it: up to `limit` items that
/// `keep` makes of the ids after `after` (exclusive), scanning as far as it
/// takes, and the cursor for the next page. The cursor is the id of the last
/// item returned (only set when more ids follow), so a reader never learns an
/// id `keep` hid from it: filtering reveals nothing of what it hides.
pub fn index_page_filtered<T>(
    prefix: &Key,
    after: Option<&str>,
    limit: u32,
    mut keep: impl FnMut(&str) -> Option<T>,
) -> (Vec<T>, Option<String>) {
    let mut out = Vec::new();
    let mut last_shown: Option<String> = None;
    let mut cursor = after.map(str::to_string);
    loop {
        let (ids, next) = index_page(prefix, cursor.as_deref(), 200);
        for id in ids {
            if out.len() >= limit as usize {
                // At least this id follows the page: the reader may ask for more.
                return (out, last_shown);
            }
            if let Some(item) = keep(&id) {
                out.push(item);
                last_shown = Some(id);
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return (out, None),
        }
    }
}

/// A page size from a caller's `limit`: `default` when absent, at most `max`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> crate::Result<u32> {
    match limit {
        None => Ok(default),
        Some(0) => Err(crate::Error::bad_request("`limit` must be positive")),
        Some(l) if l > max => Err(crate::Error::bad_request(format!("`limit` may be at most {max}"))),
        Some(l) => Ok(l),
    }
}

/// One committed version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub height: u64,
    pub tx_index: u32,
    /// `None` when this version deleted the key.
    pub value: Option<Vec<u8>>,
}

/// Committed versions of `key`, newest first, at most `limit`.
pub fn history(key: &Key, limit: u32) -> Vec<Version> {
    sys::history(key.as_bytes(), limit)
}

fn decode<T: DeserializeOwned>(key: &Key, bytes: &[u8]) -> T {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("corrupt state under {:?}: {e}", key.as_bytes()))
}
