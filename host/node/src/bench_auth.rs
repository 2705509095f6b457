//! `phr bench --auth-cost`: what authenticating a request costs. The same
//! query (a patient listing their consents) is sent for a fixed time with a
//! fresh RFC 9421 signature on every request, then with a session token
//! (authenticated by one hash lookup, no signature to verify): the ratio of
//! the two rates is the cost of per-request signatures. Unsigned queries are
//! refused by design, so the session token is the baseline.

use crate::client::Client;
use crate::netinit;
use futures::StreamExt;
use phr_ledger::Keypair;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queries per second through `client` (`bearer`: a session token) over `time`,
/// with `concurrency` in flight.
async fn rate(
    client: &Client,
    bearer: Option<&str>,
    args: &Value,
    time: Duration,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let body = json!({"contract": "consent", "method": "list", "args": args}).to_string().into_bytes();
    futures::stream::iter(0..concurrency)
        .for_each_concurrent(concurrency, |_| {
            let (client, done, failed, body) = (client.clone(), done.clone(), failed.clone(), body.clone());
            async move {
                while started.elapsed() < time {
                    let rb = client
                        .request(reqwest::Method::POST, "/v1/query", Some(("application/json", body.clone())))
                        .await;
                    let rb = match (rb, bearer) {
                        (Ok(rb), Some(t)) => rb.bearer_auth(t),
                        (Ok(rb), None) => rb,
                        (Err(_), _) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    match rb.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
        .await;
    let f = failed.load(Ordering::Relaxed);
    if f > 0 {
        anyhow::bail!("{f} queries failed while measuring");
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Measure and return the figures as JSON.
pub async fn run(time: Duration) -> anyhow::Result<Value> {
    let tmp = tempfile::tempdir()?;
    // One identity asks as fast as it can: the edge's per-caller limits would
    // set both rates alike, so they are lifted for this measurement.
    let (net, mut nodes) =
        netinit::start_local_cluster_with(&tmp.path().join("network"), 1, &["bench"], "phr-bench-auth", false, |c| {
            c.limits.requests_per_ip_per_s = 1_000_000;
            c.limits.requests_per_identity_per_s = 1_000_000;
            c.limits.heavy_per_caller_per_s = 1_000_000;
            c.limits.heavy_concurrent = 64;
            c.limits.heavy_concurrent_per_caller = 64;
        })
        .await?;
    let node = nodes.remove(0);
    let client = net.client(&node.url())?;
    let alice = Keypair::generate();
    client.call(&alice, "identity", "enrol_patient", json!({})).await?;
    client.call(&alice, "consent", "create", json!({"decision": "permit"})).await?;
    let args = json!({"patient": alice.id().to_hex()});
    let signed = client.signed_by(&alice);
    let token = signed.post_json("/v1/session", &json!({"ttl_s": 3600})).await?["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let concurrency = 8;
    let warm = rate(&signed, None, &args, Duration::from_secs(1), concurrency).await;
    let _ = warm;
    let signed_rate = rate(&signed, None, &args, time, concurrency).await?;
    let session_rate = rate(&client.anonymous(), Some(&token), &args, time, concurrency).await?;
    node.stop().await;
    Ok(json!({
        "signed_queries_per_s": signed_rate,
        "session_queries_per_s": session_rate,
        "signed_over_session": signed_rate / session_rate,
        "query": "consent.list of the signing patient, over TLS, 8 in flight",
    }))
}
