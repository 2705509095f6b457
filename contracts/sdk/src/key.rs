//! Composite keys that keep their parts apart and their order.

/// A state key made of parts: a table name, then ids and numbers.
///
/// Each string part is escaped (`0x00` becomes `0x00 0xFF`) and terminated by
/// `0x00 0x01`, and numbers are big-endian, so that keys sort part by part and
/// a key with fewer parts is a byte prefix of every key that extends it: a
/// [`crate::scan_prefix`] over `Key::new("grant").part(patient)` finds exactly
/// that patient's grants.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(Vec<u8>);

impl Key {
    /// A key in `table`.
    pub fn new(table: &str) -> Self {
        Key(Vec::with_capacity(64)).part(table)
    }

    /// A key from raw bytes, for example a scan bound built from other keys.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Key(bytes)
    }

    /// Append a string part.
    pub fn part(mut self, part: &str) -> Self {
        for &b in part.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self.0.extend_from_slice(&[0x00, 0x01]);
        self
    }

    /// Append a number part, ordered numerically.
    pub fn num(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Decode the string part that follows `prefix` in `key` (a key found by a scan
    /// of `prefix`), or `None` if `key` does not continue `prefix` with a string part.
    pub fn part_after(prefix: &Key, key: &[u8]) -> Option<String> {
        let rest = key.strip_prefix(prefix.as_bytes())?;
        let mut out = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            match (rest[i], rest.get(i + 1)) {
                (0, Some(0x01)) => return String::from_utf8(out).ok(),
                (0, Some(0xFF)) => {
                    out.push(0);
                    i += 2;
                }
                (0, _) => return None,
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        None
    }

    /// The smallest byte string greater than every key that starts with this one,
    /// or empty when there is none (all bytes `0xFF`).
    pub fn prefix_end(&self) -> Vec<u8> {
        let mut end = self.0.clone();
        while let Some(last) = end.pop() {
            if last < 0xFF {
                end.push(last + 1);
                return end;
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Key;

    #[test]
    fn shorter_key_is_prefix_and_parts_do_not_collide() {
        let a = Key::new("t").part("ab");
        let b = Key::new("t").part("ab").part("c");
        let c = Key::new("t").part("abc");
        assert!(b.as_bytes().starts_with(a.as_bytes()));
        assert!(!c.as_bytes().starts_with(a.as_bytes()));
        assert_ne!(Key::new("t").part("a\0b").as_bytes(), Key::new("t").part("a").part("b").as_bytes());
    }

    #[test]
    fn numbers_sort_numerically_and_prefix_end_bounds_the_prefix() {
        assert!(Key::new("t").num(2) < Key::new("t").num(10));
        let p = Key::new("t").part("x");
        let end = p.prefix_end();
        assert!(p.clone().part("zzz").as_bytes() < end.as_slice());
        assert!(Key::new("t").part("y").as_bytes() >= end.as_slice());
    }

    #[test]
    fn part_after_inverts_part() {
        let p = Key::new("idx").part("patient");
        for id in ["r-1", "a\0b", ""] {
            let k = p.clone().part(id).num(7);
            assert_eq!(Key::part_after(&p, k.as_bytes()).as_deref(), Some(id));
        }
        assert_eq!(Key::part_after(&p, b"other"), None);
    }
}
