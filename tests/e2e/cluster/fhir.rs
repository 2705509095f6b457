//! The FHIR R5 facade on a 3-node network: what it serves validates against R5
//! (`fhir.resources`), it saves and serves through the gateway, and it refuses
//! exactly as `/v1` does, with OperationOutcomes that carry nothing of the data.

use super::harness::*;
use crate::support::*;
use base64::Engine;
use phr_node::client::Client;
use serde_json::{json, Value};
use std::time::Duration;

/// `method path` through `c` (signed if `c` has a key): status, Content-Type, body.
async fn call(c: &Client, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, String, Vec<u8>) {
    let body = body.map(|b| ("application/fhir+json", b.to_string().into_bytes()));
    let r = c.request(method, path, body).await.unwrap().send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// A FHIR answer: its status and JSON body, which must be `application/fhir+json`.
async fn fhir(c: &Client, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let (status, ct, bytes) = call(c, method, path, body).await;
    assert_eq!(ct, "application/fhir+json", "{path} answered {status} as {ct}: {}", String::from_utf8_lossy(&bytes));
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn get(c: &Client, path: &str) -> (u16, Value) {
    fhir(c, reqwest::Method::GET, path, None).await
}

/// The path and query of an absolute link.
fn path_of(link: &str) -> String {
    let u = reqwest::Url::parse(link).unwrap();
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

/// The `next` link of a Bundle, if any.
fn next(bundle: &Value) -> Option<String> {
    bundle["link"].as_array()?.iter().find(|l| l["relation"] == "next").map(|l| path_of(l["url"].as_str().unwrap()))
}

fn entry_ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map_or(vec![], |e| e.iter().map(|e| e["resource"]["id"].as_str().unwrap().into()).collect())
}

/// A refusal: `status`, an OperationOutcome, and nothing of `secrets` in it.
fn refused(answer: &(u16, Value), status: u16, secrets: &[&str]) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["resourceType"], "OperationOutcome", "{}", answer.1);
    let text = answer.1.to_string();
    for s in secrets {
        assert!(!text.contains(s), "the refusal leaks {s}: {text}");
    }
}

fn document(patient: &str, class: &str, media_type: &str, content: &[u8]) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": format!("Patient/{patient}")},
        "type": {"coding": [{"system": "urn:phr-ledger:class", "code": class}]},
        "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]}],
        "content": [{"attachment": {
            "contentType": media_type,
            "data": base64::engine::general_purpose::STANDARD.encode(content)
        }}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fhir_facade_serves_valid_r5_and_refuses_what_the_chain_refuses() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let (n0, n1, n2) = (c.client(0), c.client(1), c.client(2));
    let alice = patient(&n0).await;
    let a = alice.id().to_hex();
    let bob = practitioner(&n0, &c.net.admin("stmarys"), &["physician"]).await;
    let carol = practitioner(&n1, &c.net.admin("northclinic"), &["physician"]).await;
    let mut emitted = Vec::new();

    // What the facade serves: public, and R5.
    let (s, cap) = get(&n1.anonymous(), "/fhir/metadata").await;
    assert_eq!(
        (s, cap["resourceType"].as_str(), cap["fhirVersion"].as_str()),
        (200, Some("CapabilityStatement"), Some("5.0.0"))
    );
    emitted.push(cap);

    // Dr Bob saves two documents through St Mary's node.
    let marker = format!("FHIR-MARKER-{}", phr_ledger::Keypair::generate().id());
    let observation = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": format!("Patient/{a}")},
        "note": [{"text": marker}]
    })
    .to_string()
    .into_bytes();
    let bob0 = n0.signed_by(&bob);
    let (s, first) = fhir(
        &bob0,
        reqwest::Method::POST,
        "/fhir/DocumentReference",
        Some(&document(&a, "lab", "application/fhir+json", &observation)),
    )
    .await;
    assert_eq!(s, 201, "{first}");
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["subject"]["reference"], format!("Patient/{a}"));
    let report = format!("X-ray report {marker}").into_bytes();
    let (s, second) = fhir(
        &bob0,
        reqwest::Method::POST,
        "/fhir/DocumentReference",
        Some(&document(&a, "imaging", "text/plain", &report)),
    )
    .await;
    assert_eq!(s, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_string();
    emitted.extend([first, second]);
    // Both anchors have reached every node before they are searched through others.
    c.converged(Duration::from_secs(10)).await;

    // Bad creates: refused with an OperationOutcome, nothing anchored.
    let mut not_fhir =
        document(&a, "lab", "application/fhir+json", b"{\"resourceType\": \"Observation\", \"bogus\": 1}");
    let r = fhir(&bob0, reqwest::Method::POST, "/fhir/DocumentReference", Some(&not_fhir)).await;
    refused(&r, 400, &[]);
    not_fhir["subject"] = json!({"reference": "Patient/not-an-id"});
    refused(&fhir(&bob0, reqwest::Method::POST, "/fhir/DocumentReference", Some(&not_fhir)).await, 400, &[]);
    refused(
        &fhir(&bob0, reqwest::Method::POST, "/fhir/DocumentReference", Some(&json!({"resourceType": "Patient"}))).await,
        400,
        &[],
    );
    emitted.push(r.1);

    // Alice searches her documents through another node: both, a page at a time.
    let alice1 = n1.signed_by(&alice);
    let (s, page1) = get(&alice1, &format!("/fhir/DocumentReference?patient=Patient/{a}&_count=1")).await;
    assert_eq!(s, 200, "{page1}");
    let more = next(&page1).expect("a next page");
    let (_, page2) = get(&alice1, &more).await;
    assert_eq!(next(&page2), None);
    let mut seen = [entry_ids(&page1), entry_ids(&page2)].concat();
    seen.sort();
    let mut want = vec![first_id.clone(), second_id.clone()];
    want.sort();
    assert_eq!(seen, want, "the two bad creates anchored nothing");
    let (_, sorted) = get(&alice1, &format!("/fhir/DocumentReference?patient={a}&_sort=-date")).await;
    assert_eq!(sorted["total"], 2);
    let (_, doc) = get(&alice1, &format!("/fhir/DocumentReference/{first_id}")).await;
    assert_eq!(doc["id"], first_id.as_str());
    emitted.extend([page1, page2, sorted, doc]);

    // The content, forwarded from the holder to Alice on City Lab's node.
    let (s, ct, bytes) =
        call(&n2.signed_by(&alice), reqwest::Method::GET, &format!("/fhir/Binary/{first_id}?purpose=PATRQT"), None)
            .await;
    assert_eq!((s, ct.as_str()), (200, "application/fhir+json"));
    assert_eq!(bytes, observation, "byte for byte");

    // Dr Carol, with no consent or grant, gets nothing of it, however she asks.
    let carol1 = n1.signed_by(&carol);
    let secrets = [marker.as_str()];
    let (s, ct, bytes) = call(&carol1, reqwest::Method::GET, &format!("/fhir/Binary/{first_id}"), None).await;
    assert_eq!((s, ct.as_str()), (403, "application/fhir+json"), "{}", String::from_utf8_lossy(&bytes));
    refused(&(s, serde_json::from_slice(&bytes).unwrap()), 403, &secrets);
    refused(&get(&carol1, &format!("/fhir/DocumentReference/{first_id}")).await, 403, &secrets);
    let (s, none) = get(&carol1, &format!("/fhir/DocumentReference?patient={a}")).await;
    assert_eq!((s, entry_ids(&none)), (200, vec![]), "a practitioner sees only what she may read");
    refused(&get(&carol1, &format!("/fhir/Consent?patient={a}")).await, 403, &secrets);
    refused(&get(&carol1, &format!("/fhir/AuditEvent?patient={a}")).await, 403, &secrets);
    let r = get(&carol1, &format!("/fhir/Patient/{a}/$everything")).await;
    assert!(matches!(r.0, 403 | 404), "{}", r.1);
    refused(&r, r.0, &[&first_id, &second_id, &marker]);
    emitted.push(r.1);
    // Nor does an unsigned caller, or a search with a filter the facade lacks.
    refused(&get(&n1.anonymous(), &format!("/fhir/DocumentReference?patient={a}")).await, 401, &[]);
    refused(&get(&alice1, &format!("/fhir/DocumentReference?patient={a}&status=current")).await, 400, &[]);
    // A record that does not exist reads as one the caller may not read: no probing.
    refused(&get(&alice1, "/fhir/DocumentReference/stmarys-000000000000000000000000").await, 403, &[]);

    // Alice's consents and her accounting of disclosures, as R5.
    n0.call(
        &alice,
        "consent",
        "create",
        json!({"decision": "deny", "provisions": [{"type": "permit",
            "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
    )
    .await
    .unwrap();
    c.converged(Duration::from_secs(10)).await;
    let (s, consents) = get(&alice1, &format!("/fhir/Consent?patient={a}")).await;
    assert_eq!((s, consents["entry"].as_array().map(Vec::len)), (200, Some(1)), "{consents}");
    // Now under her consent, Carol reads the X-ray report.
    let (s, _, bytes) =
        call(&carol1, reqwest::Method::GET, &format!("/fhir/Binary/{second_id}?purpose=TREAT"), None).await;
    assert_eq!((s, bytes), (200, report));
    // Carol's read is logged by node0, which holds the record; node1 answers below.
    c.converged(Duration::from_secs(10)).await;
    let (s, audit) = get(&alice1, &format!("/fhir/AuditEvent?patient={a}")).await;
    assert_eq!(s, 200, "{audit}");
    let outcomes: Vec<&str> = audit["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["outcome"]["code"]["code"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(outcomes.len(), 3, "Alice's read, Carol's refusal, Carol's read: {audit}");
    let (s, everything) = get(&alice1, &format!("/fhir/Patient/{a}/$everything")).await;
    assert_eq!(s, 200, "{everything}");
    let kinds: Vec<&str> = everything["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "DocumentReference").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "Consent").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "AuditEvent").count(), 3, "{kinds:?}");
    emitted.extend([consents, audit, everything]);

    assert_valid_r5(&emitted);
}
