//! State keys shown to people: plain text keys as they are, the contract SDK's
//! composite keys (parts ending `00 01`, with `00` escaped as `00 FF`) as
//! `part / part / …`, anything else as hex.

fn printable(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| !c.is_control())
}

/// A string part at the start of `key`: its text and the bytes it took.
fn string_part(key: &[u8]) -> Option<(String, usize)> {
    let mut cur = Vec::new();
    let mut i = 0;
    while i < key.len() {
        match (key[i], key.get(i + 1)) {
            (0, Some(1)) => {
                let s = String::from_utf8(cur).ok()?;
                return printable(&s).then_some((s, i + 2));
            }
            (0, Some(0xFF)) => {
                cur.push(0);
                i += 2;
            }
            (0, _) => return None,
            (b, _) => {
                cur.push(b);
                i += 1;
            }
        }
    }
    None
}

/// The parts of an SDK composite key: string parts, or number parts (u64,
/// big-endian, unterminated) where no string part fits.
fn composite(key: &[u8]) -> Option<Vec<String>> {
    if key.is_empty() {
        return Some(Vec::new());
    }
    if let Some((s, n)) = string_part(key) {
        if let Some(mut rest) = composite(&key[n..]) {
            rest.insert(0, s);
            return Some(rest);
        }
    }
    if key.len() >= 8 {
        let n = u64::from_be_bytes(key[..8].try_into().ok()?);
        if let Some(mut rest) = composite(&key[8..]) {
            rest.insert(0, n.to_string());
            return Some(rest);
        }
    }
    None
}

/// `key` for people: see the module documentation.
pub fn display_key(key: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(key) {
        if printable(s) {
            return s.to_string();
        }
    }
    match composite(key).filter(|p| p.first().is_some_and(|t| !t.chars().all(|c| c.is_ascii_digit()))) {
        Some(parts) => parts.join(" / "),
        None => format!("0x{}", hex::encode(key)),
    }
}

/// `namespace/key` for people, the key as [`display_key`] shows it.
pub fn display_slot(namespace: &str, key: &[u8]) -> String {
    format!("{namespace}/{}", display_key(key))
}

/// Like [`display_key`], `None` when only hex would do.
pub fn key_text(key: &[u8]) -> Option<String> {
    let s = display_key(key);
    (!s.starts_with("0x") || std::str::from_utf8(key).is_ok_and(|k| k.starts_with("0x"))).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_text_composites_or_hex() {
        assert_eq!(display_key(b"contract/consent"), "contract/consent");
        assert_eq!(display_key(b"consent\x00\x01consent-ab\x00\x01"), "consent / consent-ab");
        assert_eq!(display_key(b"a\x00\xffb\x00\x01"), "0x6100ff620001", "a part holding a zero byte is not text");
        let mut disc = b"disclosure\x00\x01p\x00\x01".to_vec();
        disc.extend_from_slice(&5u64.to_be_bytes());
        assert_eq!(display_key(&disc), "disclosure / p / 5");
        disc.extend_from_slice(b"tx\x00\x01");
        assert_eq!(display_key(&disc), "disclosure / p / 5 / tx");
        assert_eq!(display_key(&[0xFF, 0x00]), "0xff00");
        assert_eq!(key_text(&[0xFF]), None);
    }
}
