//! Byte layouts of the store's keys. Integers are big-endian so that keys sort
//! numerically.
//!
//! - `state`:    `ns_len:u8 ns key` → `height:u64 tx_index:u32 value`
//! - `versions`: `ns_len:u8 ns escaped(key) 00 01 height:u64 tx_index:u32` →
//!   `00` (deleted) or `01 value`. Escaping (`00` → `00 FF`) keeps keys in order
//!   and makes the terminated key prefix-free, so all versions of a key are
//!   contiguous, oldest first.
//! - `blocks`:   `height:u64` → canonical block
//! - `receipts`: `height:u64 tx_index:u32` → canonical receipt
//! - `txindex`:  `tx_id` → `height:u64 tx_index:u32`

pub(crate) fn ns_prefix(ns: &str) -> Vec<u8> {
    assert!(ns.len() <= 255, "namespaces are short names");
    let mut out = Vec::with_capacity(ns.len() + 1);
    out.push(ns.len() as u8);
    out.extend_from_slice(ns.as_bytes());
    out
}

pub(crate) fn state_key(ns: &str, key: &[u8]) -> Vec<u8> {
    let mut out = ns_prefix(ns);
    out.extend_from_slice(key);
    out
}

/// The smallest key greater than every key starting with `prefix` (None: no bound).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub(crate) fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// `ns escaped(key) 00 01`: the common prefix of every version of `key`.
pub(crate) fn version_prefix(ns: &str, key: &[u8]) -> Vec<u8> {
    let mut out = ns_prefix(ns);
    escape_into(&mut out, key);
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

pub(crate) fn version_key(ns: &str, key: &[u8], height: u64, tx_index: u32) -> Vec<u8> {
    let mut out = version_prefix(ns, key);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&tx_index.to_be_bytes());
    out
}

/// Split a `versions` key (without its namespace prefix) into the user key and
/// its version. `None` if the layout is broken.
pub(crate) fn split_version_key(rest: &[u8]) -> Option<(Vec<u8>, u64, u32)> {
    let mut key = Vec::new();
    let mut i = 0;
    loop {
        match (rest.get(i)?, rest.get(i + 1)) {
            (0, Some(0x01)) => {
                i += 2;
                break;
            }
            (0, Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (0, _) => return None,
            (&b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    let tail: &[u8; 12] = rest.get(i..)?.try_into().ok()?;
    let height = u64::from_be_bytes(tail[..8].try_into().ok()?);
    let idx = u32::from_be_bytes(tail[8..].try_into().ok()?);
    Some((key, height, idx))
}

pub(crate) fn position(height: u64, tx_index: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&height.to_be_bytes());
    out[8..].copy_from_slice(&tx_index.to_be_bytes());
    out
}

pub(crate) fn parse_position(b: &[u8]) -> Option<(u64, u32)> {
    if b.len() < 12 {
        return None;
    }
    Some((u64::from_be_bytes(b[..8].try_into().ok()?), u32::from_be_bytes(b[8..12].try_into().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn version_keys_split_back(key in prop::collection::vec(any::<u8>(), 0..40), h: u64, i: u32) {
            let full = version_key("ns", &key, h, i);
            let rest = &full[ns_prefix("ns").len()..];
            prop_assert_eq!(split_version_key(rest), Some((key, h, i)));
        }

        #[test]
        fn escaped_keys_keep_their_order(a in prop::collection::vec(any::<u8>(), 0..12), b in prop::collection::vec(any::<u8>(), 0..12)) {
            let ka = version_prefix("n", &a);
            let kb = version_prefix("n", &b);
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }
    }
}
