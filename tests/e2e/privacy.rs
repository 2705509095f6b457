//! Only those entitled read: every query method and every read route, asked by
//! every kind of caller, over TLS against a real node. Allowed callers get the
//! data; refused ones get nothing of it.

use crate::support::*;
use phr_ledger::Keypair;
use phr_node::client::Client;
use serde_json::{json, Value};

/// The people of the matrix.
struct World {
    net: Network,
    node: NodeProc,
    alice: Keypair,
    bob: Keypair,
    /// St Mary's physician who anchored Alice's record.
    author: Keypair,
    /// North Clinic physician, granted by Alice's consent.
    granted: Keypair,
    /// City Lab physician, never granted.
    ungranted: Keypair,
    /// North Clinic's privacy officer.
    officer: Keypair,
    auditor: Keypair,
    /// Things that must never appear in a refusal.
    secrets: Vec<String>,
    consent_id: String,
    access_id: String,
    record_id: String,
    record_sha: String,
    consent_tx: String,
}

impl World {
    async fn new() -> World {
        let net = Network::init(&["--orgs", "stmarys,northclinic,citylab"]);
        let node = NodeProc::start_ready(&net.node_config(0)).await;
        let c = node.client();
        let (stmarys, northclinic, citylab) = (net.admin("stmarys"), net.admin("northclinic"), net.admin("citylab"));
        let alice = patient(&c).await;
        let bob = patient(&c).await;
        let author = practitioner(&c, &stmarys, &["physician"]).await;
        let granted = practitioner(&c, &northclinic, &["physician"]).await;
        let ungranted = practitioner(&c, &citylab, &["physician"]).await;
        let officer = practitioner(&c, &northclinic, &["privacy-officer"]).await;
        let auditor = Keypair::generate();
        for admin in [&stmarys, &northclinic] {
            c.call(admin, "identity", "approve_auditor", json!({"public_key": auditor.public_key()})).await.unwrap();
        }
        let a = alice.id().to_hex();
        let consent = c
            .call(&alice, "consent", "create", json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"], "data_classes": ["lab"]}]}))
            .await
            .unwrap();
        let consent_id = consent["result"]["id"].as_str().unwrap().to_string();
        let record_id = "stmarys/lab/alice-1".to_string();
        let record_sha = sha("Alice's blood count");
        c.call(
            &author,
            "record-anchor",
            "anchor",
            json!({"record_id": record_id, "patient": a, "sha256": record_sha, "class": "lab"}),
        )
        .await
        .unwrap();
        let g = c
            .call(
                &granted,
                "access-grant",
                "request",
                json!({"patient": a, "record_id": record_id, "purpose": "TREAT"}),
            )
            .await
            .unwrap();
        let access_id = g["result"]["id"].as_str().unwrap().to_string();
        assert_eq!(g["result"]["status"], "active");
        c.call(&granted, "access-grant", "record_access", json!({"access_id": access_id, "served_by": "node0"}))
            .await
            .unwrap();
        // Bob has data too, which Alice must never see.
        c.call(&bob, "consent", "create", json!({"decision": "permit"})).await.unwrap();
        let consent_tx = consent["tx_id"].as_str().unwrap().to_string();
        let secrets =
            vec![consent_id.clone(), access_id.clone(), record_sha.clone(), "northclinic\",\"purposes".into()];
        World {
            net,
            node,
            alice,
            bob,
            author,
            granted,
            ungranted,
            officer,
            auditor,
            secrets,
            consent_id,
            access_id,
            record_id,
            record_sha,
            consent_tx,
        }
    }

    /// Every caller of the matrix, by name (`None`: anonymous).
    fn callers(&self) -> Vec<(&'static str, Option<Keypair>)> {
        vec![
            ("patient A", Some(self.alice.clone())),
            ("patient B", Some(self.bob.clone())),
            ("granted practitioner", Some(self.granted.clone())),
            ("ungranted practitioner", Some(self.ungranted.clone())),
            ("author", Some(self.author.clone())),
            ("privacy officer", Some(self.officer.clone())),
            ("admin of the node's org", Some(self.net.admin("stmarys"))),
            ("admin of another org", Some(self.net.admin("citylab"))),
            ("auditor", Some(self.auditor.clone())),
            ("unenrolled key", Some(Keypair::generate())),
            ("anonymous", None),
        ]
    }

    fn as_(&self, who: &Option<Keypair>) -> Client {
        match who {
            Some(k) => self.node.anon().signed_by(k),
            None => self.node.anon(),
        }
    }

    /// A refusal must carry nothing of the data.
    fn assert_nothing_leaks(&self, what: &str, who: &str, text: &str) {
        for s in &self.secrets {
            assert!(!text.contains(s.as_str()), "{what} refused to {who} leaked {s}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_query_answers_only_those_entitled() {
    let _serial = serial().await;
    let w = World::new().await;
    let a = w.alice.id().to_hex();
    let granted = w.granted.id().to_hex();
    // (contract, method, args, what an allowed answer must contain, who may).
    let everyone_enrolled: &[&str] = &[
        "patient A",
        "patient B",
        "granted practitioner",
        "ungranted practitioner",
        "author",
        "privacy officer",
        "admin of the node's org",
        "admin of another org",
        "auditor",
    ];
    let cases: Vec<(&str, &str, Value, String, Vec<&str>)> = vec![
        ("consent", "get", json!({"id": w.consent_id}), w.consent_id.clone(), vec!["patient A", "auditor"]),
        ("consent", "list", json!({"patient": a}), w.consent_id.clone(), vec!["patient A", "auditor"]),
        (
            "consent",
            "evaluate",
            json!({"patient": a, "actor": {"id": granted, "org": "northclinic"}, "purpose": "TREAT", "data_class": "lab"}),
            w.consent_id.clone(),
            vec!["patient A", "auditor"],
        ),
        ("consent", "rules", json!({}), "named_only_labels".into(), everyone_enrolled.to_vec()),
        (
            "access-grant",
            "get",
            json!({"access_id": w.access_id}),
            w.access_id.clone(),
            vec!["patient A", "granted practitioner", "privacy officer", "auditor"],
        ),
        ("access-grant", "list_by_patient", json!({"patient": a}), w.access_id.clone(), vec!["patient A", "auditor"]),
        (
            "access-grant",
            "list_by_requester",
            json!({"requester": granted}),
            w.access_id.clone(),
            vec!["granted practitioner", "privacy officer", "auditor"],
        ),
        (
            "access-grant",
            "check",
            json!({"grantee": granted, "patient": a, "record_id": w.record_id}),
            w.access_id.clone(),
            vec!["patient A", "granted practitioner", "auditor"],
        ),
        ("access-grant", "disclosures", json!({"patient": a}), w.access_id.clone(), vec!["patient A", "auditor"]),
        (
            "access-grant",
            "open_reviews",
            json!({"org": "northclinic"}),
            "accesses".into(),
            vec!["privacy officer", "auditor"],
        ),
        (
            "record-anchor",
            "get",
            json!({"record_id": w.record_id}),
            w.record_sha.clone(),
            vec!["patient A", "granted practitioner", "author", "admin of the node's org", "auditor"],
        ),
        (
            "record-anchor",
            "verify",
            json!({"record_id": w.record_id, "sha256": w.record_sha}),
            "matched_version".into(),
            vec!["patient A", "granted practitioner", "author", "admin of the node's org", "auditor"],
        ),
        (
            "record-anchor",
            "history",
            json!({"record_id": w.record_id}),
            w.record_sha.clone(),
            vec!["patient A", "granted practitioner", "author", "admin of the node's org", "auditor"],
        ),
        ("identity", "get", json!({"id": a}), a.clone(), vec!["patient A", "auditor"]),
        ("identity", "get", json!({"id": granted}), granted.clone(), everyone_enrolled.to_vec()),
        ("lifecycle", "list", json!({}), "record-anchor".into(), everyone_enrolled.to_vec()),
    ];
    // Organisation admins may list a practitioner's requests, filtered to those
    // of their own organisation: here, none.
    let filtered_empty =
        [("list_by_requester", "admin of the node's org"), ("list_by_requester", "admin of another org")];
    let callers = w.callers();
    for (contract, method, args, marker, allowed) in &cases {
        for (who, key) in &callers {
            let r = w.as_(key).query(contract, method, args).await;
            let what = format!("{contract}.{method}");
            if filtered_empty.contains(&(*method, *who)) {
                let v = r.unwrap_or_else(|e| panic!("{who} lists {what}: {e}"));
                assert_eq!(v["accesses"], json!([]), "{who} sees none of another organisation's: {v}");
                continue;
            }
            if allowed.contains(who) {
                let v = r.unwrap_or_else(|e| panic!("{who} should read {what}: {e}"));
                assert!(v.to_string().contains(marker.as_str()), "{who} reading {what} got {v}");
            } else {
                let e = r.err().unwrap_or_else(|| panic!("{who} must not read {what}"));
                match key {
                    None => assert_eq!(e.status, Some(401), "{who}, {what}: {e}"),
                    Some(_) if *who == "unenrolled key" => assert_eq!(e.status, Some(401), "{who}, {what}: {e}"),
                    Some(_) => assert!(matches!(e.status, Some(403) | Some(404)), "{who}, {what}: {e}"),
                }
                w.assert_nothing_leaks(&what, who, &e.to_string());
            }
        }
    }

    // Lists filtered to what the caller may see: the ungranted practitioner and
    // the admin of another organisation see none of Alice's records.
    for (who, key) in [("ungranted", &w.ungranted), ("citylab admin", &w.net.admin("citylab"))] {
        let l = w.as_(&Some(key.clone())).query("record-anchor", "list_by_patient", &json!({"patient": a})).await;
        let l = l.unwrap_or_else(|e| panic!("{who}: {e}"));
        assert_eq!(l["records"], json!([]), "{who} sees none of Alice's records");
    }
    let l = w.as_(&Some(w.granted.clone())).query("record-anchor", "list_by_patient", &json!({"patient": a})).await;
    assert_eq!(l.unwrap()["records"][0]["sha256"], w.record_sha.as_str(), "the granted practitioner sees it");
    let l = w
        .as_(&Some(w.net.admin("citylab")))
        .query("access-grant", "list_by_requester", &json!({"requester": granted}))
        .await
        .unwrap();
    assert_eq!(l["accesses"], json!([]), "another organisation's admin sees none of North Clinic's requests");
    let l = w.as_(&Some(w.ungranted.clone())).query("identity", "list", &json!({})).await.unwrap();
    assert!(!l.to_string().contains(&a), "the directory holds no patients: {l}");

    // Every auditor read of Alice's data is on her accounting, witnessed by the node.
    let log = w.as_(&Some(w.alice.clone())).query("access-grant", "disclosures", &json!({"patient": a})).await.unwrap();
    let audits: Vec<&Value> =
        log["disclosures"].as_array().unwrap().iter().filter(|d| d["authorization"]["kind"] == "audit").collect();
    assert!(audits.len() >= 9, "each of the auditor's reads of Alice's data is recorded: {log}");
    assert!(audits.iter().all(|d| d["agent"]["id"] == w.auditor.id().to_hex().as_str() && d["served_by"] == "node0"));
    let whats: Vec<&str> = audits.iter().map(|d| d["data_class"].as_str().unwrap()).collect();
    for m in ["consent.list", "access-grant.disclosures", "record-anchor.get", "identity.get"] {
        assert!(whats.contains(&m), "the audit of {m} is recorded: {whats:?}");
    }
    // Bob's accounting holds none of them: the auditor read nothing of his.
    let bob_log = w
        .as_(&Some(w.bob.clone()))
        .query("access-grant", "disclosures", &json!({"patient": w.bob.id().to_hex()}))
        .await
        .unwrap();
    assert_eq!(bob_log["disclosures"], json!([]), "{bob_log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_route_serves_only_its_callers() {
    let _serial = serial().await;
    let w = World::new().await;
    let a = w.alice.id().to_hex();
    let code_hash =
        w.node.client().contracts().await.unwrap()["contracts"][0]["code_hash"].as_str().unwrap().to_string();
    let chain_readers = vec!["admin of the node's org", "auditor"];
    let enrolled = vec![
        "patient A",
        "patient B",
        "granted practitioner",
        "ungranted practitioner",
        "author",
        "privacy officer",
        "admin of the node's org",
        "admin of another org",
        "auditor",
    ];
    let explain = format!("/v1/audit/explain/{}", w.consent_tx);
    let receipt = format!("/v1/txs/{}", w.consent_tx);
    let code = format!("/v1/code/{code_hash}");
    let routes: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        ("/v1/status", vec!["*"], Some("chain_id")),
        ("/v1/health", vec!["*"], Some("ok")),
        ("/v1/openapi.yaml", vec!["*"], Some("openapi")),
        ("/v1/blocks", chain_readers.clone(), Some("proposer")),
        ("/v1/blocks/3?receipts=true", chain_readers.clone(), Some("receipts")),
        ("/v1/raw/blocks?from=1&count=5", chain_readers.clone(), None),
        (&explain, chain_readers.clone(), Some(&w.consent_id)),
        ("/metrics", chain_readers.clone(), Some("phr_height")),
        (&receipt, vec!["patient A", "admin of the node's org", "auditor"], Some(&w.consent_id)),
        ("/v1/contracts", enrolled.clone(), Some("record-anchor")),
        ("/v1/genesis", enrolled.clone(), Some("chain_id")),
        (&code, enrolled.clone(), None),
    ];
    for (path, allowed, marker) in &routes {
        for (who, key) in w.callers() {
            let c = w.as_(&key);
            let resp = c.request(reqwest::Method::GET, path, None).await.unwrap().send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.bytes().await.unwrap();
            let text = String::from_utf8_lossy(&body);
            if allowed.contains(&"*") || allowed.contains(&who) {
                assert_eq!(status, 200, "{who} GET {path}: {text}");
                if let Some(m) = marker {
                    assert!(text.contains(m), "{who} GET {path}: {text}");
                }
            } else {
                let want: &[u16] = if key.is_none() || who == "unenrolled key" {
                    if *path == receipt {
                        &[401, 404]
                    } else {
                        &[401]
                    }
                } else {
                    &[403, 404]
                };
                assert!(want.contains(&status), "{who} GET {path}: {status} {text}");
                w.assert_nothing_leaks(path, who, &text);
                let v: Value =
                    serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{who} GET {path}: not JSON: {text}"));
                assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{who} GET {path}: {v}");
            }
        }
    }

    // Event streams: one's own topic, an organisation's officers theirs, chain readers any.
    let topics: Vec<(String, Vec<&str>)> = vec![
        (format!("topic={a}"), vec!["patient A", "admin of the node's org", "auditor"]),
        ("topic=org:northclinic".into(), vec!["privacy officer", "admin of the node's org", "auditor"]),
        ("from_height=1".into(), vec!["admin of the node's org", "auditor"]),
    ];
    for (q, allowed) in &topics {
        for (who, key) in w.callers() {
            let path = format!("/v1/events?{q}");
            let resp = w.as_(&key).request(reqwest::Method::GET, &path, None).await.unwrap().send().await.unwrap();
            let status = resp.status().as_u16();
            if allowed.contains(&who) {
                assert_eq!(status, 200, "{who} GET {path}");
            } else {
                assert!(matches!(status, 401 | 403), "{who} GET {path}: {status}");
                let text = resp.text().await.unwrap();
                w.assert_nothing_leaks(&path, who, &text);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_tampered_stale_and_forged_requests_are_refused() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let alice = patient(&c).await;
    let a = alice.id().to_hex();
    c.call(&alice, "consent", "create", json!({"decision": "permit"})).await.unwrap();
    let alice_c = node.anon().signed_by(&alice);
    let body = json!({"contract": "consent", "method": "list", "args": {"patient": a}}).to_string().into_bytes();
    let signed = || {
        let (c, body) = (alice_c.clone(), body.clone());
        async move {
            c.request(reqwest::Method::POST, "/v1/query", Some(("application/json", body)))
                .await
                .unwrap()
                .build()
                .unwrap()
        }
    };
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(phr_tls::configs::api_client(&phr_tls::certs::load_ca(&net.ca()).unwrap()).unwrap())
        .build()
        .unwrap();
    async fn answer(http: &reqwest::Client, r: reqwest::Request) -> (u16, Value) {
        let resp = http.execute(r).await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }
    let msg = |v: &Value| v["error"]["message"].as_str().unwrap_or("").to_string();

    // The genuine request, then the same bytes again.
    let r = signed().await;
    let again = r.try_clone().unwrap();
    let (st, v) = answer(&http, r).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["consents"].as_array().unwrap().len(), 1);
    let (st, v) = answer(&http, again).await;
    assert_eq!(st, 401, "a replayed request: {v}");
    assert!(msg(&v).contains("nonce was used already"), "{v}");

    // Tampered: another body, path or method under the same signature.
    let r = signed().await;
    let mut other_body = r.try_clone().unwrap();
    *other_body.body_mut() =
        Some(json!({"contract": "consent", "method": "list", "args": {"patient": "ab".repeat(20)}}).to_string().into());
    let (st, v) = answer(&http, other_body).await;
    assert_eq!((st, v["error"]["code"].as_str()), (401, Some("unauthenticated")), "{v}");
    assert!(msg(&v).contains("Content-Digest does not match"), "{v}");
    let mut other_path = r.try_clone().unwrap();
    *other_path.url_mut() = reqwest::Url::parse(&format!("{}/v1/txs", node.url)).unwrap();
    let (st, v) = answer(&http, other_path).await;
    assert_eq!(st, 401, "{v}");
    assert!(msg(&v).contains("does not verify"), "{v}");
    let mut other_method = r.try_clone().unwrap();
    *other_method.method_mut() = reqwest::Method::PUT;
    let (st, _) = answer(&http, other_method).await;
    assert!(matches!(st, 401 | 405), "{st}");
    // A truncated signature, and a forged one (another key's signature under Alice's keyid).
    let mut truncated = r.try_clone().unwrap();
    let sig = truncated.headers()["signature"].to_str().unwrap().to_string();
    truncated.headers_mut().insert("signature", sig[..sig.len() - 10].parse().unwrap());
    let (st, v) = answer(&http, truncated).await;
    assert_eq!(st, 401, "{v}");
    let mallory = node.anon().signed_by(&Keypair::generate());
    let forged_sig = mallory
        .request(reqwest::Method::POST, "/v1/query", Some(("application/json", body.clone())))
        .await
        .unwrap()
        .build()
        .unwrap();
    let mut forged = r.try_clone().unwrap();
    forged.headers_mut().insert("signature", forged_sig.headers()["signature"].clone());
    let (st, v) = answer(&http, forged).await;
    assert_eq!(st, 401, "{v}");
    assert!(msg(&v).contains("does not verify"), "{v}");

    // Stale, future and wrong-chain signatures, built by hand.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let chain = net.chain_id();
    for (created, tag, want) in [
        (now - 600, chain.as_str(), "in the past"),
        (now + 600, chain.as_str(), "in the future"),
        (now, "another-chain", "another chain"),
    ] {
        let digest = phr_node::auth::scheme::content_digest(&body);
        let req =
            phr_node::auth::scheme::Request { method: "POST", path: "/v1/query", query: None, content_digest: &digest };
        let h = phr_node::auth::scheme::sign(&alice, &req, created, &phr_node::client::nonce(), tag);
        let r = http
            .post(format!("{}/v1/query", node.url))
            .header("content-type", "application/json")
            .header("content-digest", h.content_digest)
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .body(body.clone())
            .build()
            .unwrap();
        let (st, v) = answer(&http, r).await;
        assert_eq!(st, 401, "{want}: {v}");
        assert!(msg(&v).contains(want), "{want}: {v}");
    }

    // An unknown key on a route for enrolled callers.
    let e = node.anon().signed_by(&Keypair::generate()).query("consent", "rules", &json!({})).await.unwrap_err();
    assert_eq!(e.status, Some(401), "{e}");
    assert!(e.message.contains("not enrolled"), "{e}");

    // A session token: opened with a signature, used as a bearer, ended.
    let opened = alice_c.post_json("/v1/session", &json!({"ttl_s": 60})).await.unwrap();
    let token = opened["token"].as_str().unwrap().to_string();
    let bearer = |path: &str, m: reqwest::Method| http.request(m, format!("{}{path}", node.url)).bearer_auth(&token);
    let r = bearer("/v1/query", reqwest::Method::POST).body(body.clone()).build().unwrap();
    let (st, v) = answer(&http, r).await;
    assert_eq!((st, v["result"]["consents"].as_array().map(|c| c.len())), (200, Some(1)), "{v}");
    let r = bearer("/v1/session", reqwest::Method::DELETE).build().unwrap();
    assert_eq!(http.execute(r).await.unwrap().status().as_u16(), 204);
    let r = bearer("/v1/query", reqwest::Method::POST).body(body.clone()).build().unwrap();
    let (st, v) = answer(&http, r).await;
    assert_eq!(st, 401, "an ended session: {v}");

    // Every refusal above changed nothing, and the node serves on.
    let v = alice_c.query("consent", "list", &json!({"patient": a})).await.unwrap();
    assert_eq!(v["consents"].as_array().unwrap().len(), 1);
}
