//! The accounting of disclosures as a FHIR R5 `Bundle` of `AuditEvent`s.

use crate::disclosures::Line;
use serde_json::{json, Value};

const TX_SYSTEM: &str = "urn:phr-ledger:tx";
const IDENTITY_SYSTEM: &str = "urn:phr-ledger:identity";
const RECORD_SYSTEM: &str = "urn:phr-ledger:record";

/// RFC 3339 UTC with milliseconds, from ms since the Unix epoch.
pub fn instant(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

/// Parse a time for a report range: milliseconds since the Unix epoch, a date
/// `YYYY-MM-DD` (its start, UTC), or `YYYY-MM-DDTHH:MM[:SS[.sss]]Z`.
pub fn parse_instant(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a time: give milliseconds since 1970, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let (date, time) = s.split_once('T').unwrap_or((s, ""));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let [y, m, day] = d[..] else { return Err(bad()) };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || y < 1970 {
        return Err(bad());
    }
    let (mut hh, mut mm, mut ss, mut ms) = (0i64, 0i64, 0i64, 0i64);
    if !time.is_empty() {
        let t = time.strip_suffix('Z').ok_or_else(bad)?;
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let p: Vec<i64> = hms.split(':').map(|x| x.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
        match p[..] {
            [h, mi] => (hh, mm) = (h, mi),
            [h, mi, se] => (hh, mm, ss) = (h, mi, se),
            _ => return Err(bad()),
        }
        if !frac.is_empty() {
            let f = format!("{frac:0<3}");
            ms = f[..3].parse().map_err(|_| bad())?;
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return Err(bad());
        }
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + ms) as u64)
}

/// AuditEvent.action: C(reate) for a request or break-glass, R(ead) for a
/// disclosure or an auditor's read, U(pdate) for decisions on an access.
fn action(kind: &str) -> &'static str {
    match kind {
        "disclosed" | "audited" => "R",
        "requested" | "break-glass" | "granted" | "refused" => "C",
        _ => "U",
    }
}

/// AuditEvent.outcome.code (audit-event-outcome): 0 success, 4 minor failure
/// (a request denied or refused).
fn outcome(l: &Line) -> &'static str {
    if l.kind == "refused" || l.kind == "denied" {
        "4"
    } else {
        "0"
    }
}

fn audit_event(patient: &str, l: &Line) -> Value {
    let mut entity = vec![json!({"what": {"identifier": {"system": TX_SYSTEM, "value": l.tx_id.to_hex()}},
                                 "role": {"text": "ledger transaction"}})];
    if let Some(r) = &l.record_id {
        entity.push(json!({"what": {"identifier": {"system": RECORD_SYSTEM, "value": r}}, "role": {"text": "record"}}));
    }
    let mut agent = vec![json!({
        "who": {"identifier": {"system": IDENTITY_SYSTEM, "value": l.who.id}},
        "role": l.who.roles.iter().map(|r| json!({"text": r})).collect::<Vec<_>>(),
        "requestor": true,
    })];
    if let Some(org) = &l.who.org {
        agent[0]["who"]["display"] = json!(format!("{} ({org})", l.who.id));
    }
    if l.by != l.who.id {
        agent.push(json!({"who": {"identifier": {"system": IDENTITY_SYSTEM, "value": l.by}}, "requestor": false,
                          "role": [{"text": "signer of the transaction"}]}));
    }
    let mut e = json!({
        "resourceType": "AuditEvent",
        "id": format!("{}-{}", l.tx_id.to_hex(), l.kind),
        "category": [{"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110106",
                                  "display": "Export"}]}],
        "code": {"text": format!("access {}", l.kind)},
        "action": action(&l.kind),
        "recorded": instant(l.time_ms),
        "outcome": {"code": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-outcome", "code": outcome(l)},
                    "detail": [{"text": l.outcome}]},
        "patient": {"identifier": {"system": IDENTITY_SYSTEM, "value": patient}},
        "agent": agent,
        "source": {"observer": {"display": l.served_by.clone().unwrap_or_else(|| "PHR Ledger".into())}},
        "entity": entity,
    });
    if let Some(p) = &l.purpose {
        e["authorization"] =
            json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": p}]}]);
    }
    if l.break_glass {
        e["extension"] = json!([{"url": "urn:phr-ledger:break-glass",
                                 "valueString": l.review.clone().unwrap_or_else(|| "open".into())}]);
    }
    if let Some(a) = &l.authorization {
        e["basedOn"] = json!([{"display": a}]);
    }
    e
}

/// A `collection` bundle with one `AuditEvent` per line.
pub fn bundle(patient: &str, lines: &[Line], generated_ms: u64) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(generated_ms),
        "entry": lines.iter().map(|l| json!({
            "fullUrl": format!("urn:phr-ledger:audit-event:{}-{}", l.tx_id.to_hex(), l.kind),
            "resource": audit_event(patient, l),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_are_rfc3339_utc() {
        assert_eq!(super::instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::instant(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(super::instant(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 951_782_400_000, 1_700_000_000_123, 1_800_000_000_000] {
            assert_eq!(super::parse_instant(&super::instant(ms)).unwrap(), ms);
        }
        assert_eq!(super::parse_instant("2000-02-29").unwrap(), 951_782_400_000);
        assert_eq!(super::parse_instant("12345").unwrap(), 12345);
        assert!(super::parse_instant("2000-13-01").is_err() && super::parse_instant("yesterday").is_err());
    }
}
