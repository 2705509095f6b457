//! Every kind of bad input gets a clear 4xx, changes nothing, and the node keeps serving.

use crate::support::*;
use k256::elliptic_curve::ops::Neg;
use phr_ledger::{Keypair, Signature, SignedTx, TxBody};
use phr_node::client::{canonical, sign, Client};
use serde_json::{json, Value};

async fn state(c: &Client) -> (u64, String) {
    let s = c.status().await.unwrap();
    (s["height"].as_u64().unwrap(), s["state_root"].as_str().unwrap().to_string())
}

/// Post raw bytes (a signed request) and return (status, error code, message).
async fn post(c: &Client, content_type: &str, body: Vec<u8>) -> (u16, String, String) {
    let r = c
        .request(reqwest::Method::POST, "/v1/txs?wait=true", Some((content_type, body)))
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
        v["error"]["message"].as_str().unwrap_or("").to_string(),
    )
}

fn body(chain: &str, key: &Keypair, contract: &str, method: &str, args: &str, expiry: u64) -> TxBody {
    TxBody {
        chain_id: chain.into(),
        contract: contract.into(),
        method: method.into(),
        args: args.into(),
        nonce: 42,
        expiry_height: expiry,
        signer: key.public_key(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_at_the_door_with_a_reason_and_nothing_changes() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let chain = net.chain_id();
    let alice = patient(&c).await;
    let before = state(&c).await;
    let expiry = before.0 + 50;

    // Malformed JSON and malformed canonical bytes.
    let (s, code, _) = post(&c, "application/json", b"{\"body\": ".to_vec()).await;
    assert_eq!((s, code.as_str()), (400, "malformed"));
    let (s, code, msg) = post(&c, "application/octet-stream", vec![1, 2, 3, 4, 5]).await;
    assert_eq!((s, code.as_str()), (400, "malformed"), "{msg}");
    let (s, code, _) = post(&c, "application/json", br#"{"body": {"chain_id": 5}, "signature": "00"}"#.to_vec()).await;
    assert_eq!((s, code.as_str()), (400, "malformed"));

    // A bad signature: signed by one key, claiming another.
    let mallory = Keypair::generate();
    let forged = body(&chain, &alice, "consent", "create", r#"{"decision":"permit"}"#, expiry).sign(&mallory);
    let (s, code, msg) = post(&c, "application/octet-stream", canonical(&forged)).await;
    assert_eq!((s, code.as_str()), (400, "bad-signature"), "{msg}");

    // A high-S signature, mathematically valid but malleable.
    let good = body(&chain, &alice, "consent", "create", r#"{"decision":"permit"}"#, expiry).sign(&alice);
    let sig = k256::ecdsa::Signature::from_slice(&good.signature.0).unwrap();
    let (r, s_low) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, s_low.as_ref().neg()).unwrap();
    let high_tx = SignedTx { body: good.body.clone(), signature: Signature(high.to_bytes().into()) };
    let (s, code, msg) = post(&c, "application/octet-stream", canonical(&high_tx)).await;
    assert_eq!((s, code.as_str()), (400, "high-s-signature"), "{msg}");

    // An unknown signer.
    let stranger = Keypair::generate();
    let e = c
        .submit(&sign(&stranger, &chain, expiry, "consent", "create", &json!({"decision": "permit"})), true)
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(403), "unknown-signer"), "{e}");

    // An expired transaction.
    let e = c
        .submit(&sign(&alice, &chain, before.0, "consent", "create", &json!({"decision": "permit"})), true)
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(400), "expired"), "{e}");

    // A transaction for another chain.
    let e = c
        .submit(&sign(&alice, "other-chain", expiry, "consent", "create", &json!({"decision": "permit"})), true)
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(400), "wrong-chain"), "{e}");

    // An oversized transaction (over the genesis max_tx_bytes of 64 KiB).
    let big = json!({"decision": "permit", "pad": "x".repeat(70 * 1024)});
    let e = c.submit(&sign(&alice, &chain, expiry, "consent", "create", &big), true).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(413), "too-large"), "{e}");

    // An unknown contract.
    let e = c.submit(&sign(&alice, &chain, expiry, "no-such", "x", &json!({})), true).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(404), "unknown-contract"), "{e}");

    assert_eq!(state(&c).await, before, "refusals at the door change nothing");

    // A replayed transaction id.
    let once = sign(&alice, &chain, expiry, "consent", "create", &json!({"decision": "permit"}));
    c.submit(&once, true).await.unwrap();
    let e = c.submit(&once, true).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(409), "duplicate"), "{e}");
    let consents =
        c.signed_by(&alice).query("consent", "list", &json!({"patient": alice.id().to_hex()})).await.unwrap();
    assert_eq!(consents["consents"].as_array().unwrap().len(), 1, "the replay was not applied");
    assert!(c.status().await.is_ok(), "the node keeps serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_by_the_contract_with_a_reason_and_no_state_change() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let alice = patient(&c).await;
    let doc = practitioner(&c, &net.admin("stmarys"), &["physician"]).await;
    let before = state(&c).await;

    let cases: Vec<(&Keypair, &str, &str, Value, u16, &str)> = vec![
        (&alice, "consent", "frobnicate", json!({}), 400, "unknown-method"),
        (&alice, "consent", "create", json!({"decision": 42}), 400, "bad-request"),
        (&alice, "consent", "create", json!({"decision": "permit", "provisions": "all"}), 400, "bad-request"),
        (&doc, "consent", "create", json!({"decision": "permit"}), 403, "unauthorized"),
        (
            &alice,
            "record-anchor",
            "anchor",
            json!({"record_id": "r", "patient": alice.id(), "sha256": sha("x"), "class": "lab"}),
            403,
            "unauthorized",
        ),
        (
            &doc,
            "access-grant",
            "break_glass",
            json!({"patient": alice.id(), "data_class": "lab", "reason": "er"}),
            403,
            "unauthorized",
        ),
        (
            &doc,
            "identity",
            "enrol_practitioner",
            json!({"public_key": Keypair::generate().public_key(), "roles": ["x"]}),
            403,
            "unauthorized",
        ),
    ];
    for (key, contract, method, args, status, code) in cases {
        let e = c.call(key, contract, method, args).await.unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (Some(status), code), "{contract}.{method}: {e}");
        assert!(!e.message.is_empty());
        let receipt = e.receipt.expect("the committed receipt comes with the error");
        assert_eq!(receipt["writes"], json!([]), "{contract}.{method} wrote state");
    }
    let after = state(&c).await;
    assert!(after.0 > before.0, "the refused transactions are on the chain");
    assert_eq!(after.1, before.1, "the state root is unchanged");
    c.call(&alice, "consent", "create", json!({"decision": "permit"})).await.expect("the node goes on");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_and_routes_get_clear_errors() {
    let _serial = serial().await;
    let net = Network::init(&[]);
    let node = NodeProc::start_ready(&net.node_config(0)).await;
    let c = node.client();
    let e = c.query("nope", "x", &json!({})).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(404), "unknown-contract"));
    let e = c.query("consent", "list", &json!({"patient": "not-an-id"})).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(400), "bad-request"));
    assert!(e.message.contains("patient"), "{e}");
    let e = c.receipt("zz").await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(400), "malformed"));
    let e = c.receipt(&"0".repeat(64)).await.unwrap_err();
    assert_eq!(e.status, Some(404));
    let e = c.block("999999", false).await.unwrap_err();
    assert_eq!(e.status, Some(404));
    let send = |m: reqwest::Method, path: &'static str, body: Option<Vec<u8>>, signed: bool| {
        let c = if signed { c.clone() } else { node.anon() };
        async move {
            let r = c.request(m, path, body.map(|b| ("application/json", b))).await.unwrap().send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, v) = send(reqwest::Method::GET, "/v1/nowhere", None, false).await;
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("not-found")));
    let (st, v) = send(reqwest::Method::POST, "/v1/query", Some(b"{".to_vec()), true).await;
    assert_eq!((st, v["error"]["code"].as_str()), (400, Some("malformed")));
    // Errors of the HTTP layer itself are JSON too, with a reason.
    let (st, v) = send(reqwest::Method::POST, "/v1/txs", Some(vec![b'x'; 1 << 20]), true).await;
    assert_eq!((st, v["error"]["code"].as_str()), (413, Some("too-large")));
    let (st, v) = send(reqwest::Method::POST, "/v1/txs?wait=maybe", Some(b"{}".to_vec()), true).await;
    assert_eq!(st, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("query parameters"), "{v}");
    let (st, v) = send(reqwest::Method::PUT, "/v1/status", None, true).await;
    assert_eq!((st, v["error"]["code"].as_str()), (405, Some("method-not-allowed")), "a 405 is JSON too");
    assert!(c.status().await.is_ok(), "the node keeps serving");
}
