//! Ledger ids as FHIR ids, and back.
//!
//! A FHIR id is 1 to 64 characters of `[A-Za-z0-9\-.]`; a ledger's external id
//! (a record id such as `stmarys/lab/2026-000123`, a device, a node) is 1 to 128
//! characters of `[A-Za-z0-9._:/-]`. The mapping:
//!
//! - An id that is already a valid FHIR id and contains no *escape* — a `.`
//!   followed by two uppercase hex digits — maps to itself. Identity ids, consent
//!   ids, slugs and the gateway's own record ids (`stmarys-3fa1c0…`) are such.
//! - Any other id is *escaped*: every byte outside `[A-Za-z0-9-]` (so `.`, `_`,
//!   `:`, `/` and anything else) becomes `.HH`, its value in two uppercase hex
//!   digits: `stmarys/lab/2026-000123` → `stmarys.2Flab.2F2026-000123`,
//!   `a.b` stays `a.b`, but `v1.2A` (it contains an escape) → `v1.2E2A`.
//! - An id whose escaped form is longer than 64 characters has no FHIR id: it
//!   is refused ([`FhirError::Unmappable`]).
//!
//! Reading back, a FHIR id without an escape is the ledger id itself; one with
//! an escape is unescaped, and must be exactly what [`to_fhir_id`] makes of the
//! result (every `.` starts an escape, the escaped bytes are the ones that need
//! it, and they form UTF-8), else no ledger id maps to it
//! ([`FhirError::NotFound`]). So the mapping is a bijection between the ledger
//! ids it accepts and the FHIR ids it makes.

use super::FhirError;

/// The longest FHIR id.
pub const MAX_LEN: usize = 64;

/// Whether `s` is a valid FHIR id: 1 to 64 characters of `[A-Za-z0-9\-.]`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A byte that an escaped id keeps as it is.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn upper_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `s` contains an escape: `.` then two uppercase hex digits.
fn has_escape(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| w[0] == b'.' && upper_hex(w[1]).is_some() && upper_hex(w[2]).is_some())
}

/// The FHIR id of a ledger id (see the [module](self) for the rules).
pub fn to_fhir_id(ledger_id: &str) -> Result<String, FhirError> {
    if is_fhir_id(ledger_id) && !has_escape(ledger_id) {
        return Ok(ledger_id.to_owned());
    }
    if ledger_id.is_empty() {
        return Err(FhirError::Unmappable("an empty id has no FHIR id".into()));
    }
    let mut out = String::with_capacity(ledger_id.len() + 8);
    for b in ledger_id.bytes() {
        if is_plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!(".{b:02X}"));
        }
    }
    if out.len() > MAX_LEN {
        return Err(FhirError::Unmappable(format!(
            "id {ledger_id:?} has no FHIR id: escaped it is {} characters, more than {MAX_LEN}",
            out.len()
        )));
    }
    Ok(out)
}

/// The ledger id a FHIR id stands for (see the [module](self) for the rules).
pub fn from_fhir_id(fhir_id: &str) -> Result<String, FhirError> {
    let not_ours = |why: &str| FhirError::NotFound(format!("{fhir_id:?} is not a FHIR id of this server: {why}"));
    if !is_fhir_id(fhir_id) {
        return Err(not_ours("a FHIR id is 1-64 characters of A-Z, a-z, 0-9, - and ."));
    }
    if !has_escape(fhir_id) {
        return Ok(fhir_id.to_owned());
    }
    let bytes = fhir_id.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            match (bytes.get(i + 1).copied().and_then(upper_hex), bytes.get(i + 2).copied().and_then(upper_hex)) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(not_ours("in an escaped id every . starts an escape .HH")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let ledger_id = String::from_utf8(out).map_err(|_| not_ours("its escapes are not UTF-8"))?;
    match to_fhir_id(&ledger_id) {
        Ok(again) if again == fhir_id => Ok(ledger_id),
        _ => Err(not_ours("it is not the canonical escape of any id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_fhir_ids_map_to_themselves() {
        for id in ["stmarys-3fa1c0d2", "consent-431354a62c48acd3cef77081", "a.b", "node0", &"27".repeat(20)] {
            assert_eq!(to_fhir_id(id).unwrap(), id);
            assert_eq!(from_fhir_id(id).unwrap(), id);
        }
    }

    #[test]
    fn other_ids_are_escaped() {
        assert_eq!(to_fhir_id("stmarys/lab/2026-000123").unwrap(), "stmarys.2Flab.2F2026-000123");
        assert_eq!(to_fhir_id("urn:x_y").unwrap(), "urn.3Ax.5Fy");
        // A valid FHIR id that looks escaped is escaped itself, so it reads back.
        assert_eq!(to_fhir_id("v1.2A").unwrap(), "v1.2E2A");
        assert_eq!(from_fhir_id("v1.2E2A").unwrap(), "v1.2A");
        assert_eq!(from_fhir_id("stmarys.2Flab.2F2026-000123").unwrap(), "stmarys/lab/2026-000123");
        // Lowercase hex is no escape: such an id is its own ledger id.
        assert_eq!(from_fhir_id("a.2f").unwrap(), "a.2f");
    }

    #[test]
    fn refuses_what_cannot_map() {
        assert!(matches!(to_fhir_id(""), Err(FhirError::Unmappable(_))));
        let long = "a/".repeat(30); // 60 characters, 90 escaped
        let e = to_fhir_id(&long).unwrap_err();
        assert!(e.to_string().contains("more than 64"), "{e}");
        assert!(matches!(to_fhir_id(&"a".repeat(65)), Err(FhirError::Unmappable(_))));
        for bad in ["", "a/b", "a b", "a.2Fb.c", "a.41", "a.FF", &"a".repeat(65)] {
            assert!(matches!(from_fhir_id(bad), Err(FhirError::NotFound(_))), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn external_ids_round_trip(id in "[A-Za-z0-9._:/-]{1,128}") {
            match to_fhir_id(&id) {
                Ok(f) => {
                    prop_assert!(is_fhir_id(&f));
                    prop_assert_eq!(from_fhir_id(&f).unwrap(), id);
                }
                Err(e) => {
                    prop_assert!(matches!(e, FhirError::Unmappable(_)));
                    prop_assert!(!is_fhir_id(&id) || has_escape(&id));
                }
            }
        }

        #[test]
        fn valid_ids_without_escapes_are_kept(id in "[A-Za-z0-9.-]{1,64}") {
            prop_assume!(!has_escape(&id));
            prop_assert_eq!(to_fhir_id(&id).unwrap(), id.clone());
        }

        #[test]
        fn fhir_ids_read_back_to_themselves(f in "[A-Za-z0-9.F2-]{1,64}") {
            if let Ok(id) = from_fhir_id(&f) {
                prop_assert_eq!(to_fhir_id(&id).unwrap(), f);
            }
        }
    }
}
