//! The data types every mapping builds the same way: instants, codings,
//! identifiers, references, extensions, periods.

use fhir_model::r5::types::{CodeableConcept, Coding, Extension, ExtensionValue, Identifier, Meta, Period, Reference};
use fhir_model::time::format_description::well_known::Rfc3339;
use fhir_model::time::OffsetDateTime;
use fhir_model::{Date, DateTime, Instant};

use super::{to_fhir_id, FhirError, CONFIDENTIALITY_SYSTEM};

/// A block time (ms since 1970) as a UTC instant with milliseconds.
pub(crate) fn instant(ms: u64) -> Result<Instant, FhirError> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| FhirError::Internal(format!("time {ms} ms is past year 9999")))?;
    Ok(Instant(t))
}

/// A block time as RFC 3339 text, as an instant is written.
pub(crate) fn instant_text(ms: u64) -> Result<String, FhirError> {
    instant(ms)?.0.format(&Rfc3339).map_err(|e| FhirError::Internal(format!("formatting time {ms}: {e}")))
}

/// A block time as a FHIR `dateTime`.
pub(crate) fn date_time(ms: u64) -> Result<DateTime, FhirError> {
    Ok(DateTime::DateTime(instant(ms)?))
}

/// The UTC day of a block time, as a FHIR `date`.
pub(crate) fn date(ms: u64) -> Result<Date, FhirError> {
    Ok(Date::Date(instant(ms)?.0.date()))
}

/// A coding of `code` in `system`.
pub(crate) fn coding(system: &str, code: &str, display: Option<&str>) -> Result<Coding, FhirError> {
    let mut c = Coding::builder().system(system.to_owned()).code(code.to_owned());
    if let Some(d) = display {
        c = c.display(d.to_owned());
    }
    Ok(c.build()?)
}

/// A concept of one coding, with `text` (the display, else the code).
pub(crate) fn concept(system: &str, code: &str, display: Option<&str>) -> Result<CodeableConcept, FhirError> {
    Ok(CodeableConcept::builder()
        .coding(vec![Some(coding(system, code, display)?)])
        .text(display.unwrap_or(code).to_owned())
        .build()?)
}

/// A concept of text only.
pub(crate) fn text_concept(text: &str) -> Result<CodeableConcept, FhirError> {
    Ok(CodeableConcept::builder().text(text.to_owned()).build()?)
}

/// An identifier `value` in `system`.
pub(crate) fn identifier(system: &str, value: &str) -> Result<Identifier, FhirError> {
    Ok(Identifier::builder().system(system.to_owned()).value(value.to_owned()).build()?)
}

/// A literal reference `<resource_type>/<FHIR id of ledger_id>`, with the
/// ledger identifier (`system`, `ledger_id`) beside it. When the id has no FHIR
/// id, the reference is by identifier only.
pub(crate) fn reference(resource_type: &str, ledger_id: &str, system: &str) -> Result<Reference, FhirError> {
    let mut r = Reference::builder().r#type(resource_type.to_owned()).identifier(identifier(system, ledger_id)?);
    if let Ok(id) = to_fhir_id(ledger_id) {
        r = r.reference(format!("{resource_type}/{id}"));
    }
    Ok(r.build()?)
}

/// A reference by identifier only, to something the facade does not serve
/// (a node, a device, an auditor).
pub(crate) fn logical_reference(
    resource_type: Option<&str>,
    system: &str,
    value: &str,
    display: Option<String>,
) -> Result<Reference, FhirError> {
    let mut r = Reference::builder().identifier(identifier(system, value)?);
    if let Some(t) = resource_type {
        r = r.r#type(t.to_owned());
    }
    if let Some(d) = display {
        r = r.display(d);
    }
    Ok(r.build()?)
}

/// A simple extension.
pub(crate) fn extension(url: &str, value: ExtensionValue) -> Result<Extension, FhirError> {
    Ok(Extension::builder().url(url.to_owned()).value(value).build()?)
}

/// A complex extension made of `parts`.
pub(crate) fn complex_extension(url: &str, parts: Vec<Extension>) -> Result<Extension, FhirError> {
    Ok(Extension::builder().url(url.to_owned()).extension(parts).build()?)
}

/// A ledger period as a FHIR `Period`, or `None` when both ends are open.
///
/// The ledger's end is exclusive (`start <= t < end`) and FHIR's inclusive, so
/// the FHIR end is one millisecond before the ledger's.
pub(crate) fn period(start_ms: Option<u64>, end_ms: Option<u64>) -> Result<Option<Period>, FhirError> {
    if start_ms.is_none() && end_ms.is_none() {
        return Ok(None);
    }
    let mut p = Period::builder();
    if let Some(s) = start_ms {
        p = p.start(date_time(s)?);
    }
    if let Some(e) = end_ms {
        p = p.end(date_time(e.saturating_sub(1))?);
    }
    Ok(Some(p.build()?))
}

/// `meta` with the version and the time of the last change.
pub(crate) fn meta(version_id: Option<String>, last_updated_ms: u64) -> Result<Meta, FhirError> {
    let mut m = Meta::builder().last_updated(instant(last_updated_ms)?);
    if let Some(v) = version_id {
        m = m.version_id(v);
    }
    Ok(m.build()?)
}

/// The display of an HL7 v3 Confidentiality code, `None` for an unknown code.
pub(crate) fn confidentiality_display(label: &str) -> Option<&'static str> {
    Some(match label {
        "U" => "unrestricted",
        "L" => "low",
        "M" => "moderate",
        "N" => "normal",
        "R" => "restricted",
        "V" => "very restricted",
        _ => return None,
    })
}

/// A security label as a coding of HL7 v3 Confidentiality.
pub(crate) fn confidentiality_coding(label: &str) -> Result<Coding, FhirError> {
    coding(CONFIDENTIALITY_SYSTEM, label, confidentiality_display(label))
}

/// A security label as a concept of HL7 v3 Confidentiality.
pub(crate) fn confidentiality(label: &str) -> Result<CodeableConcept, FhirError> {
    concept(CONFIDENTIALITY_SYSTEM, label, confidentiality_display(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_utc_with_milliseconds() {
        let json = |ms| serde_json::to_value(instant(ms).unwrap()).unwrap();
        assert_eq!(json(0), "1970-01-01T00:00:00Z");
        assert_eq!(json(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(serde_json::to_value(date(951_782_400_000).unwrap()).unwrap(), "2000-02-29");
        assert!(instant(u64::MAX).is_err());
    }

    #[test]
    fn periods_end_inclusive() {
        let p = period(Some(1_000), Some(2_000)).unwrap().unwrap();
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(v["start"], "1970-01-01T00:00:01Z");
        assert_eq!(v["end"], "1970-01-01T00:00:01.999Z");
        assert!(period(None, None).unwrap().is_none());
    }
}
