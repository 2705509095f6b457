//! The page in real Chromium against a real 3-node network (issue 12).
//!
//! This test builds the world on chain (a patient, practitioners of two
//! organisations, a privacy officer, an auditor, a record saved through St
//! Mary's node), then hands the browser story to `tests/web/story.mjs`
//! (Playwright driving Debian's Chromium, axe-core on every view). The script
//! does everything a user does through the page, takes a screenshot at each
//! step (kept in `$CARGO_TARGET_DIR/web-artifacts`), and writes down what the
//! page showed; this test then checks that against what the chain holds.

use super::harness::*;
use crate::support::*;
use phr_ledger::Keypair;
use phr_node::client::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where the screenshots and what the page showed are kept after the run.
fn artifacts() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let dir = base.join("web-artifacts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn key_file(dir: &Path, name: &str, k: &Keypair) -> String {
    let p = dir.join(format!("{name}.key"));
    std::fs::write(&p, serde_json::to_string_pretty(&k.to_file(name)).unwrap()).unwrap();
    p.to_str().unwrap().to_string()
}

/// Every disclosure entry the chain holds for `patient`, read by the patient
/// (an auditor's read would add an entry of its own).
async fn disclosures(c: &Client, patient: &str) -> Vec<Value> {
    let v = c.query("access-grant", "disclosures", &json!({"patient": patient, "limit": 500})).await.unwrap();
    v["disclosures"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn patients_practitioners_and_auditors_use_the_page_in_chromium() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let (n0, n1) = (c.client(0), c.client(1));
    let alice = patient(&n0).await;
    let a = alice.id().to_hex();
    let bob = practitioner(&n0, &c.net.admin("stmarys"), &["physician"]).await;
    let carol = practitioner(&n1, &c.net.admin("northclinic"), &["physician"]).await;
    let dan = practitioner(&n1, &c.net.admin("northclinic"), &["physician", "emergency"]).await;
    let erin = practitioner(&n1, &c.net.admin("northclinic"), &["privacy-officer"]).await;
    let auditor = Keypair::generate();
    for org in ["stmarys", "northclinic"] {
        n0.call(&c.net.admin(org), "identity", "approve_auditor", json!({"public_key": auditor.public_key()}))
            .await
            .unwrap();
    }
    // Dr Bob saves Alice's blood test through St Mary's node.
    let content = format!("{{\"test\":\"full blood count\",\"haemoglobin_g_dl\":13.9,\"patient\":\"{a}\"}}");
    let saved = n0
        .signed_by(&bob)
        .send_bytes(
            reqwest::Method::POST,
            &format!("/v1/records?patient={a}&class=lab"),
            "application/json",
            content.clone().into_bytes(),
        )
        .await
        .unwrap();
    let record_id = saved["record"]["record_id"].as_str().expect("a record id").to_string();
    let sha = phr_ledger::sha256(&[content.as_bytes()]).to_hex();

    // The page is served with its security headers, and nothing from outside web/.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(c.net.path().join("ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let base = n0.base().to_string();
    let index = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "the page's CSP: {csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert!(index.text().await.unwrap().contains("/app/js/app.js"));
    let lib = http.get(format!("{base}/app/vendor/noble-secp256k1.js")).send().await.unwrap();
    assert_eq!(lib.headers()["content-type"], "text/javascript; charset=utf-8");
    for escape in ["/app/..%2f..%2fCargo.toml", "/app/%2e%2e/README.md", "/app/vendor/..%2f..%2fhost%2fnode%2fnode.key"]
    {
        let r = http.get(format!("{base}{escape}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{escape} must not leave web/");
    }

    let out = artifacts();
    let keys = tempfile::tempdir().unwrap();
    let node = |i: usize| {
        let dir = c.net.path().join(format!("node{i}"));
        json!({"url": c.client(i).base(), "cert": dir.join("tls.pem")})
    };
    let config = json!({
        "nodes": [node(0), node(1), node(2)],
        "keys": {
            "alice": key_file(keys.path(), "alice", &alice),
            "carol": key_file(keys.path(), "carol", &carol),
            "dan": key_file(keys.path(), "dan", &dan),
            "erin": key_file(keys.path(), "erin", &erin),
            "auditor": key_file(keys.path(), "auditor", &auditor),
        },
        "ids": {"alice": a, "carol": carol.id().to_hex(), "dan": dan.id().to_hex(), "erin": erin.id().to_hex()},
        "record": {"id": record_id, "sha256": sha, "content": content},
        "artifacts": out,
    });
    let config_path = out.join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let script = repo_root().join("tests/web/story.mjs");
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(script).arg(&config_path).output().expect("run node (scripts/setup.sh installs it)")
    })
    .await
    .unwrap();
    let log = format!("{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    std::fs::write(out.join("story.log"), &log).unwrap();
    assert!(run.status.success(), "the browser story failed (screenshots in {}):\n{log}", out.display());

    // What the page showed is what the chain holds (node0 has applied what the
    // page committed through the other nodes).
    c.converged(Duration::from_secs(30)).await;
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(out.join("observations.json")).unwrap()).unwrap();
    let me = n0.signed_by(&alice);
    let consent = me.query("consent", "get", &json!({"id": seen["consent_id"]})).await.unwrap();
    assert!(
        consent["status"] == "inactive" && consent["revoked_tx"].is_string(),
        "the consent Alice made and revoked in the page: {consent}"
    );
    assert_eq!(seen["carol_sha256"], sha.as_str(), "Dr Carol's page showed the anchored bytes");
    let chain = disclosures(&me, &a).await;
    let tx_of = |d: &Value| d["tx_id"].as_str().unwrap_or_default().to_string();
    let on_chain: Vec<String> = chain.iter().map(tx_of).collect();
    for tx in seen["alice_log_txs"].as_array().unwrap() {
        assert!(on_chain.contains(&tx.as_str().unwrap().to_string()), "the page showed {tx} that the chain lacks");
    }
    let carol_id = carol.id().to_hex();
    let by =
        |who: &str, outcome: &str| chain.iter().any(|d| d.to_string().contains(who) && d.to_string().contains(outcome));
    assert!(by(&carol_id, "\"success\""), "Dr Carol's read is on chain: {chain:?}");
    assert!(by(&carol_id, "\"failure\""), "Dr Carol's refused read is on chain: {chain:?}");
    assert!(seen["alice_log_txs"].as_array().unwrap().len() >= 2, "Alice saw Carol's read and refusal live: {seen}");
    // Every read and refusal Alice saw is in the auditor's CSV (the auditor's
    // node had applied the newest of them: the page explained it first).
    let csv = seen["auditor_csv"].as_str().unwrap();
    for tx in seen["alice_log_txs"].as_array().unwrap() {
        assert!(csv.contains(tx.as_str().unwrap()), "the auditor's CSV lacks {tx}");
    }
    let reviews = me.query("access-grant", "list_by_patient", &json!({"patient": a})).await.unwrap().to_string();
    assert!(reviews.contains("justified"), "Erin's review through the page is on chain: {reviews}");
    let explained = seen["explained_tx"].as_str().unwrap_or_default();
    assert!(on_chain.iter().any(|t| t == explained), "the auditor explained a disclosure of Alice's: {explained}");
    assert_eq!(seen["axe_views"].as_array().map(|v| v.len()), Some(4), "axe ran on every view: {seen}");
}
