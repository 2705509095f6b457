//! `phr bench --gateway` and `phr bench --backup-of DIR`: what the gateway
//! sustains, measured through the real thing.
//!
//! On a fresh network of three nodes (one per organisation, all in this
//! process, TLS on every link): records saved through the first node (each
//! sealed, stored and anchored on chain before it is answered) and fetched by
//! practitioners of another organisation through their own node, which
//! forwards each fetch to the holder, where the chain decides under the
//! patient's consent and the disclosure commits before the content is served.
//! Both for 10 KiB and 1 MiB records, with the latency of each request.
//!
//! `--backup-of` starts node0 of a network kept by `phr bench --keep` and
//! times one backup of it through the API, with its size.

use crate::client::Client;
use crate::netinit;
use anyhow::{bail, Context};
use futures::StreamExt;
use phr_ledger::Keypair;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One size of record: how many, and how many requests in flight.
struct Size {
    label: &'static str,
    bytes: usize,
    count: usize,
    concurrency: usize,
}

const SIZES: &[Size] = &[
    Size { label: "10 KiB", bytes: 10 << 10, count: 400, concurrency: 16 },
    Size { label: "1 MiB", bytes: 1 << 20, count: 60, concurrency: 4 },
];

/// Practitioners on each side (requests are spread over them, as a hospital's
/// would be, so that no one identity's limits set the figure).
const STAFF: usize = 16;

/// Rate and latency of `count` requests made by `op` with `concurrency` in flight.
async fn measure<F, Fut>(count: usize, concurrency: usize, what: &str, quiet: bool, op: F) -> anyhow::Result<Value>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let progress = crate::bench::bar(count, what, quiet);
    let started = Instant::now();
    let mut lat: Vec<Duration> = futures::stream::iter(0..count)
        .map(|i| {
            let (fut, progress) = (op(i), progress.clone());
            async move {
                let t = Instant::now();
                fut.await?;
                progress.inc(1);
                Ok::<_, anyhow::Error>(t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let secs = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(json!({
        "count": count,
        "per_s": count as f64 / secs,
        "mib_per_s": 0.0,
        "p50_ms": ms(crate::bench::percentile(&lat, 0.50)),
        "p99_ms": ms(crate::bench::percentile(&lat, 0.99)),
        "in_flight": concurrency,
    }))
}

async fn enrol(c: &Client, admin: &Keypair, n: usize) -> anyhow::Result<Vec<Keypair>> {
    let keys: Vec<Keypair> = (0..n).map(|_| Keypair::generate()).collect();
    for k in &keys {
        c.call(admin, "identity", "enrol_practitioner", json!({"public_key": k.public_key(), "roles": ["physician"]}))
            .await
            .context("enrolling the benchmark's practitioners")?;
    }
    Ok(keys)
}

/// Saves and fetches per second on three nodes; the figures as JSON.
pub async fn run(quiet: bool) -> anyhow::Result<Value> {
    let tmp = tempfile::tempdir()?;
    let orgs = ["hospital", "clinic", "lab"];
    let (net, nodes) =
        netinit::start_local_cluster(&tmp.path().join("network"), 3, &orgs, "phr-bench-gw", false).await?;
    let clients: Vec<Client> = nodes.iter().map(|n| net.client(&n.url())).collect::<anyhow::Result<_>>()?;
    let alice = Keypair::generate();
    let a = alice.id().to_hex();
    clients[0].call(&alice, "identity", "enrol_patient", json!({})).await?;
    let savers = enrol(&clients[0], &net.admin_key("hospital")?, STAFF).await?;
    let readers = enrol(&clients[1], &net.admin_key("clinic")?, STAFF).await?;
    clients[0]
        .call(
            &alice,
            "consent",
            "create",
            json!({"decision": "deny", "provisions": [{"type": "permit",
                "actors": [{"kind": "organization", "id": "clinic"}], "purposes": ["TREAT"]}]}),
        )
        .await?;
    let mut out = serde_json::Map::new();
    for size in SIZES {
        let content: Vec<u8> =
            (0..size.bytes).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
        let ids = parking_lot::Mutex::new(vec![String::new(); size.count]);
        let path = format!("/v1/records?patient={a}&class=lab");
        let mut saves = measure(size.count, size.concurrency, &format!("saving {}", size.label), quiet, |i| {
            let c = clients[0].signed_by(&savers[i % STAFF]);
            let (path, body, ids) = (path.clone(), content.clone(), &ids);
            async move {
                let r = c.send_bytes(reqwest::Method::POST, &path, "application/pdf", body).await?;
                ids.lock()[i] = r["record"]["record_id"].as_str().unwrap_or_default().to_string();
                Ok(())
            }
        })
        .await?;
        let ids = ids.into_inner();
        let mut fetches = measure(size.count, size.concurrency, &format!("fetching {}", size.label), quiet, |i| {
            let c = clients[1].signed_by(&readers[i % STAFF]);
            let (id, len) = (ids[i].clone(), content.len());
            async move {
                let f = c.fetch_record(&id, "TREAT").await?;
                if f.content.len() != len || f.served_by.as_deref() != Some("node0") {
                    bail!("record {id} came back as {} bytes from {:?}", f.content.len(), f.served_by);
                }
                Ok(())
            }
        })
        .await?;
        for m in [&mut saves, &mut fetches] {
            m["mib_per_s"] = json!(m["per_s"].as_f64().unwrap_or(0.0) * size.bytes as f64 / (1 << 20) as f64);
        }
        out.insert(size.label.to_string(), json!({"bytes": size.bytes, "saves": saves, "fetches": fetches}));
    }
    let log =
        clients[0].signed_by(&alice).query("access-grant", "disclosures", &json!({"patient": a, "limit": 1})).await?;
    for n in nodes {
        n.stop().await;
    }
    Ok(json!({
        "nodes": 3,
        "sizes": out,
        "every_fetch_logged": log["disclosures"].as_array().is_some_and(|d| !d.is_empty()),
        "setup": "saves through node0 by 16 practitioners of its organisation; fetches through node1 (forwarded to node0) by 16 practitioners of another, under the patient's consent; TLS on every link",
    }))
}

/// Time one backup of node0 of the network kept in `dir`; the figures as JSON.
pub async fn backup_of(dir: &std::path::Path) -> anyhow::Result<Value> {
    let cfg = crate::config::NodeConfig::load(&dir.join("node0/node.toml"))?;
    let org = cfg.org.clone().context("node0 names no organisation")?;
    let key: phr_ledger::KeyFile =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keys").join(format!("{org}-admin.key")))?)?;
    let admin = key.keypair()?;
    let node = crate::server::start(cfg).await?;
    let client = Client::with_ca(&node.url(), Some(&dir.join("ca.pem")))?;
    let height = client.status().await?["height"].as_u64().unwrap_or(0);
    let started = Instant::now();
    let m = client
        .signed_by(&admin)
        .post_json("/v1/admin/backup", &json!({"out": format!("bench-{}", crate::clock::now_ms())}))
        .await;
    let secs = started.elapsed().as_secs_f64();
    node.stop().await;
    let m = m?;
    let files = m["files"].as_object().cloned().unwrap_or_default();
    let bytes: u64 = files.values().filter_map(|v| v[1].as_u64()).sum();
    let _ = std::fs::remove_dir_all(m["path"].as_str().unwrap_or_default());
    Ok(json!({"height": height, "seconds": secs, "bytes": bytes, "files": files.len()}))
}
