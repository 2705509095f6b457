//! Search results and `Patient/$everything` as R5 `Bundle`s.

use fhir_model::r5::codes::{BundleType, IssueSeverity, IssueType, LinkRelationTypes, SearchEntryMode};
use fhir_model::r5::resources::{
    Bundle, BundleEntry, BundleEntrySearch, BundleLink, OperationOutcome, OperationOutcomeIssue, Resource,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{audit_event, consent, document_reference, patient, FhirError};

/// A `searchset` Bundle of `entries` (each a `match`, with `fullUrl`
/// `<base_url>/<type>/<id>`), a `self` link and, when there are more, a `next`
/// link; `total` when the caller knows it.
pub fn bundle_searchset(
    base_url: &str,
    entries: Vec<Resource>,
    self_url: &str,
    next_url: Option<&str>,
    total: Option<u32>,
) -> Result<Bundle, FhirError> {
    let mut links = vec![Some(link(LinkRelationTypes::_Self, self_url)?)];
    if let Some(next) = next_url {
        links.push(Some(link(LinkRelationTypes::Next, next)?));
    }
    let entries = entries
        .into_iter()
        .enumerate()
        .map(|(i, r)| entry(base_url, r, SearchEntryMode::Match, &format!("{self_url}#{i}")).map(Some))
        .collect::<Result<_, _>>()?;
    let mut b = Bundle::builder().r#type(BundleType::Searchset).link(links).entry(entries);
    if let Some(t) = total {
        b = b.total(t);
    }
    Ok(b.build()?)
}

/// The `searchset` Bundle of `Patient/<id>/$everything`: the Patient of
/// `identity` (`match`), then, as `include`s, a DocumentReference per record,
/// a Consent per consent and an AuditEvent per disclosure entry, in the order
/// given. A record whose id has no FHIR id (see [`crate::fhir::id`]) is not
/// left out silently: an `outcome` entry, an OperationOutcome of warnings,
/// names each. `total` counts the Patient and the includes.
pub fn bundle_everything(
    base_url: &str,
    self_url: &str,
    identity: &Value,
    records: &[Value],
    consents: &[Value],
    disclosures: &[Value],
) -> Result<Bundle, FhirError> {
    let include = |r: Resource| entry(base_url, r, SearchEntryMode::Include, self_url).map(Some);
    let mut entries = vec![Some(entry(base_url, patient(identity)?.into(), SearchEntryMode::Match, self_url)?)];
    let mut unshown = Vec::new();
    for r in records {
        match document_reference(r, base_url) {
            Ok(d) => entries.push(include(d.into())?),
            Err(e @ FhirError::Unmappable(_)) => unshown.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    for c in consents {
        entries.push(include(consent(c)?.into())?);
    }
    for d in disclosures {
        entries.push(include(audit_event(d)?.into())?);
    }
    let total = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    if !unshown.is_empty() {
        let issues = unshown
            .iter()
            .map(|m| {
                Ok(Some(
                    OperationOutcomeIssue::builder()
                        .severity(IssueSeverity::Warning)
                        .code(IssueType::TooLong)
                        .diagnostics(format!("a record is not shown: {m}"))
                        .build()?,
                ))
            })
            .collect::<Result<Vec<_>, FhirError>>()?;
        let outcome = OperationOutcome::builder().issue(issues).build()?;
        let search = BundleEntrySearch::builder().mode(SearchEntryMode::Outcome).build()?;
        entries.push(Some(
            BundleEntry::builder()
                .full_url(urn_uuid(&format!("{self_url}#outcome")))
                .resource(outcome.into())
                .search(search)
                .build()?,
        ));
    }
    Ok(Bundle::builder()
        .r#type(BundleType::Searchset)
        .total(total)
        .link(vec![Some(link(LinkRelationTypes::_Self, self_url)?)])
        .entry(entries)
        .build()?)
}

fn link(relation: LinkRelationTypes, url: &str) -> Result<BundleLink, FhirError> {
    Ok(BundleLink::builder().relation(relation).url(url.to_owned()).build()?)
}

/// An entry whose `fullUrl` is `<base_url>/<type>/<id>`, or, for a resource
/// without an id, a `urn:uuid:` made from `seed` (R5 bdl-15: every entry of a
/// searchset has a fullUrl).
fn entry(base_url: &str, resource: Resource, mode: SearchEntryMode, seed: &str) -> Result<BundleEntry, FhirError> {
    let full_url = match resource.as_base_resource().id() {
        Some(id) => format!("{}/{}/{id}", base_url.trim_end_matches('/'), resource.resource_type().as_str()),
        None => urn_uuid(seed),
    };
    let search = BundleEntrySearch::builder().mode(mode).build()?;
    Ok(BundleEntry::builder().full_url(full_url).resource(resource).search(search).build()?)
}

/// A `urn:uuid:` that is the same for the same `seed`: the first 16 bytes of
/// its SHA-256 as an RFC 9562 version 8 UUID.
fn urn_uuid(seed: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(seed.as_bytes())[..16].try_into().unwrap_or_default();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "https://node0.example/fhir";

    fn record(id: &str) -> Value {
        json!({"record_id": id, "patient": "27".repeat(20), "sha256": "fa".repeat(32), "class": "lab",
               "security_label": "N", "source": {"org": "stmarys", "author": "02".repeat(20), "device": null},
               "version": 1, "status": "active", "created_at_ms": 1, "updated_at_ms": 2, "disposed_at_ms": null})
    }

    #[test]
    fn a_searchset_with_links() {
        let doc = document_reference(&record("stmarys-1"), BASE).unwrap();
        let b = bundle_searchset(
            BASE,
            vec![doc.into()],
            "https://n/fhir/DocumentReference?patient=x",
            Some("https://n/next"),
            Some(7),
        )
        .unwrap();
        let v = serde_json::to_value(b).unwrap();
        assert_eq!(
            (v["resourceType"].as_str(), v["type"].as_str(), v["total"].as_u64()),
            (Some("Bundle"), Some("searchset"), Some(7))
        );
        assert_eq!(v["link"][0]["relation"], "self");
        assert_eq!(v["link"][1], json!({"relation": "next", "url": "https://n/next"}));
        assert_eq!(v["entry"][0]["fullUrl"], "https://node0.example/fhir/DocumentReference/stmarys-1");
        assert_eq!(v["entry"][0]["search"]["mode"], "match");
        assert_eq!(v["entry"][0]["resource"]["resourceType"], "DocumentReference");
    }

    #[test]
    fn everything_of_a_patient() {
        let identity = json!({"id": "27".repeat(20), "public_key": "02", "kind": "patient", "org": null, "roles": [],
                              "enrolled_at_height": 1, "enrolled_by": "27".repeat(20), "revoked": false});
        let records = [record("stmarys-1"), record(&"a/".repeat(40))];
        let b = bundle_everything(BASE, "https://n/fhir/Patient/x/$everything", &identity, &records, &[], &[]).unwrap();
        let v = serde_json::to_value(b).unwrap();
        let entries = v["entry"].as_array().unwrap();
        assert_eq!(v["total"], 2);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["resource"]["resourceType"], "Patient");
        assert_eq!(entries[0]["search"]["mode"], "match");
        assert_eq!(entries[1]["search"]["mode"], "include");
        assert_eq!(entries[2]["search"]["mode"], "outcome");
        let urn = entries[2]["fullUrl"].as_str().unwrap();
        assert!(urn.starts_with("urn:uuid:") && urn.len() == 45 && urn.as_bytes()[23] == b'8', "{urn}");
        assert!(entries[2]["resource"]["issue"][0]["diagnostics"].as_str().unwrap().contains("more than 64"));
    }
}
