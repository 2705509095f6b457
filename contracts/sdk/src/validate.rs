//! Checks of argument values shared by the contracts. Each returns a
//! `bad-request` naming the field and what was expected.

use crate::{Error, Result};

/// An identity id: 40 lowercase hex characters.
pub fn identity_id(field: &str, v: &str) -> Result<()> {
    if v.len() == 40 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be an identity id (40 lowercase hex characters), got {v:?}")))
    }
}

/// A SHA-256 digest: 64 lowercase hex characters.
pub fn sha256_hex(field: &str, v: &str) -> Result<()> {
    if v.len() == 64 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be a SHA-256 digest (64 lowercase hex characters), got {v:?}")))
    }
}

/// A lowercase slug such as a data class or role: `[a-z0-9-]`, 1 to 40 characters.
pub fn slug(field: &str, v: &str) -> Result<()> {
    if !v.is_empty() && v.len() <= 40 && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be 1-40 characters of a-z, 0-9 and -, got {v:?}")))
    }
}

/// An external identifier such as a record id: `[A-Za-z0-9._:/-]`, 1 to 128 characters.
pub fn external_id(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be 1-128 characters of A-Z, a-z, 0-9 and . _ : / -, got {v:?}")))
    }
}

/// A short free-text note. It must not carry health data: at most `max` characters.
pub fn note(field: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() <= max && !v.chars().any(|c| c.is_control()) {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be at most {max} characters without control characters")))
    }
}

/// One of the listed codes.
pub fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` must be one of {}, got {v:?}", allowed.join(", "))))
    }
}

/// At most `max` items.
pub fn at_most<T>(field: &str, v: &[T], max: usize) -> Result<()> {
    if v.len() <= max {
        Ok(())
    } else {
        Err(Error::bad_request(format!("`{field}` may hold at most {max} items, got {}", v.len())))
    }
}
