//! The API description is true: the node serves docs/openapi.yaml as it is,
//! the file is valid OpenAPI with every route of `api::rules`, and a
//! property-based fuzzer (Schemathesis, driven by tests/api/check_api.py) finds
//! no server error and no answer outside it on a real node holding data.

use crate::support::*;
use phr_node::api::rules::RULES;
use serde_json::json;
use std::process::Command;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread")]
async fn the_node_serves_docs_openapi_yaml_byte_for_byte() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let r = node.anon().request(reqwest::Method::GET, "/v1/openapi.yaml", None).await.unwrap().send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/yaml");
    let served = r.bytes().await.unwrap();
    let file = std::fs::read(repo_root().join("docs/openapi.yaml")).unwrap();
    assert!(served == file, "GET /v1/openapi.yaml is not docs/openapi.yaml byte for byte: rebuild the node");
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description() {
    let python = venv_python();
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;

    // Data for the fuzzer to find: patients, a practitioner, a record, a
    // consent, an access grant, and a transaction the contract refused.
    let c = node.client();
    let stmarys = net.admin("stmarys");
    let alice = patient(&c).await;
    let bob = patient(&c).await;
    let a = alice.id().to_hex();
    let doctor = practitioner(&c, &stmarys, &["physician"]).await;
    let consent = c
        .call(&alice, "consent", "create", json!({"decision": "deny", "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "stmarys"}], "purposes": ["TREAT"], "data_classes": ["lab"]}]}))
        .await
        .unwrap();
    let record = "stmarys/lab/alice-1";
    c.call(
        &doctor,
        "record-anchor",
        "anchor",
        json!({"record_id": record, "patient": a, "sha256": sha("Alice's blood count"), "class": "lab"}),
    )
    .await
    .unwrap();
    c.call(&doctor, "access-grant", "request", json!({"patient": a, "record_id": record, "purpose": "TREAT"}))
        .await
        .unwrap();
    let refused = c
        .call(&bob, "consent", "revoke", json!({"id": consent["result"]["id"]}))
        .await
        .expect_err("Bob may not revoke Alice's consent");
    assert_eq!(refused.status, Some(403), "{refused}");

    // The route table, for the runner to compare with the description.
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            json!({"method": r.method.as_str(), "path": r.path, "access": format!("{:?}", r.access), "body": format!("{:?}", r.body)})
        })
        .collect();
    let rules_file = net.path().join("rules.json");
    std::fs::write(&rules_file, serde_json::to_vec_pretty(&rules).unwrap()).unwrap();

    let started = Instant::now();
    let mut cmd = Command::new(&python);
    cmd.arg(repo_root().join("tests/api/check_api.py"))
        .arg(&node.url)
        .arg("--ca")
        .arg(net.ca())
        .arg("--key")
        .arg(net.admin_key_file("stmarys"))
        .arg("--rules")
        .arg(&rules_file)
        .arg("--report-dir")
        .arg(net.path().join("schemathesis-report"));
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run tests/api/check_api.py")).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tests/api/check_api.py failed ({}):\n{stdout}\n{stderr}", out.status);
    let summary: Vec<&str> = stdout.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
    println!("{stderr}\n{}\nthe API check took {:.0?}", summary.join("\n"), started.elapsed());
}

/// HEAD is answered by the GET handlers: it must pass the same guard, so that
/// nobody runs a chain reader's read (or learns whether a transaction exists,
/// or how large a block is) without credentials.
#[tokio::test(flavor = "multi_thread")]
async fn head_requests_take_the_rule_of_get() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let tx = patient_tx(&node).await;
    let (anon, admin) = (node.anon(), node.client());
    for rule in RULES.iter().filter(|r| r.method == reqwest::Method::GET && r.path != "/v1/events") {
        let path = rule.path.replace("{id}", &tx).replace("{height}", "1").replace("{hash}", &"0".repeat(64));
        let path = if path == "/v1/raw/blocks" { "/v1/raw/blocks?from=0".to_string() } else { path };
        let head = |c: &phr_node::client::Client| {
            let (c, path) = (c.clone(), path.clone());
            async move { c.request(reqwest::Method::HEAD, &path, None).await.unwrap().send().await.unwrap() }
        };
        let get = admin.request(reqwest::Method::GET, &path, None).await.unwrap().send().await.unwrap().status();
        let (by_anon, by_admin) = (head(&anon).await, head(&admin).await);
        assert_eq!(by_admin.status(), get, "signed HEAD {path} answers as GET");
        assert!(by_admin.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
        let want =
            if rule.access == phr_node::api::rules::Access::Public { get } else { reqwest::StatusCode::UNAUTHORIZED };
        assert_eq!(by_anon.status(), want, "anonymous HEAD {path}");
    }
}

/// Enrol a patient; the id of the transaction.
async fn patient_tx(node: &NodeProc) -> String {
    let k = phr_ledger::Keypair::generate();
    let r = node.client().call(&k, "identity", "enrol_patient", json!({})).await.unwrap();
    r["tx_id"].as_str().unwrap().to_string()
}
