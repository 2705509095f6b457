//! `phr bench`: signed transactions committed per second on a fresh network of
//! one or more nodes (all in this process, on this machine), with submit-to-
//! commit latency, and the machine's single-core k256 verification rate measured
//! in the same run so that the figure can be read as a fraction of it.

use crate::client::{sign, Client};
use crate::netinit;
use anyhow::{bail, Context};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use phr_ledger::Keypair;
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Nodes in the network (each executes every block).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Signed transactions to commit.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Submissions in flight at once (each waits for its commit, on its own
    /// connection: a node takes at most 512 connections from one address).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Practitioners signing the transactions.
    #[arg(long, default_value_t = 64)]
    signers: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep the network in DIR afterwards (must not exist), for example to
    /// measure `phr audit replay` on the chain.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// Only measure k256 signature verifications per second on this many
    /// threads (the reference for replay, whose signature checks use every core).
    #[arg(long)]
    k256_threads: Option<usize>,
    /// Plain HTTP on every link instead of TLS (to measure what TLS costs).
    #[arg(long)]
    plain: bool,
    /// While the load runs, flood node0 with this many heavy requests in
    /// flight (queries, block listings) from one client.
    #[arg(long, default_value_t = 0)]
    flood: usize,
    /// Only measure what authenticating a query costs: signed queries per
    /// second against the same query with a session token, for this many seconds.
    #[arg(long)]
    auth_cost: Option<u64>,
    /// Only measure the gateway: records saved and fetched per second (each
    /// anchored or logged on chain) on three nodes, for 10 KiB and 1 MiB.
    #[arg(long)]
    gateway: bool,
    /// Only time one backup of node0 of a network kept by `--keep DIR`.
    #[arg(long, value_name = "DIR")]
    backup_of: Option<std::path::PathBuf>,
}

/// Verifications per second of one k256 signature on one core, over `time`.
pub fn k256_verify_rate(time: Duration) -> f64 {
    k256_verify_rate_on(1, time)
}

/// Verifications per second on `threads` threads together, over `time`.
pub fn k256_verify_rate_on(threads: usize, time: Duration) -> f64 {
    let handles: Vec<_> = (0..threads.max(1)).map(|_| std::thread::spawn(move || one_core_rate(time))).collect();
    handles.into_iter().map(|h| h.join().expect("verification thread")).sum()
}

fn one_core_rate(time: Duration) -> f64 {
    let key = Keypair::generate();
    let msg = b"phr benchmark message of typical transaction length, about one hundred bytes long..........";
    let sig = key.sign(msg);
    let pk = key.public_key();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < time {
        for _ in 0..100 {
            pk.verify(msg, &sig).expect("valid signature");
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn bar(len: usize, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    b.set_style(
        ProgressStyle::with_template("  {msg:<10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

pub async fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(threads) = a.k256_threads {
        let rate = tokio::task::spawn_blocking(move || k256_verify_rate_on(threads, Duration::from_secs(3))).await?;
        println!("{}", json!({"k256_verify_per_s": rate, "threads": threads}));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(secs) = a.auth_cost {
        let out = crate::bench_auth::run(Duration::from_secs(secs.max(1))).await?;
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    if a.gateway {
        println!("{}", crate::bench_gateway::run(a.json).await?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &a.backup_of {
        println!("{}", crate::bench_gateway::backup_of(dir).await?);
        return Ok(ExitCode::SUCCESS);
    }
    if a.nodes == 0 || a.txs == 0 || a.signers == 0 || a.concurrency == 0 {
        bail!("--nodes, --txs, --signers and --concurrency must be positive");
    }
    let tmp = tempfile::tempdir()?;
    let dir = match &a.keep {
        Some(d) if d.exists() => bail!("{} exists already", d.display()),
        Some(d) => d.clone(),
        None => tmp.path().join("network"),
    };
    let (net, nodes) = netinit::start_local_cluster(&dir, a.nodes, &["bench"], "phr-bench", a.plain).await?;
    let clients: Vec<Client> = nodes.iter().map(|n| net.client(&n.url())).collect::<anyhow::Result<_>>()?;
    let client = clients[0].clone();
    let admin = net.admin_key("bench")?;

    // The k256 reference, on an idle node.
    let verify_rate = tokio::task::spawn_blocking(|| k256_verify_rate(Duration::from_secs(2))).await?;

    // Enrol the signers.
    let signers: Vec<Keypair> = (0..a.signers).map(|_| Keypair::generate()).collect();
    let enrol = futures::stream::iter(signers.iter().map(|k| {
        let client = client.clone();
        let admin = admin.clone();
        async move {
            client
                .call(
                    &admin,
                    "identity",
                    "enrol_practitioner",
                    json!({"public_key": k.public_key(), "roles": ["physician"]}),
                )
                .await
        }
    }))
    .buffer_unordered(64)
    .collect::<Vec<_>>()
    .await;
    for r in enrol {
        r.context("enrolling the benchmark's signers")?;
    }

    // Pre-sign the load: one record anchor per transaction.
    let st = client.status().await?;
    let chain_id = st["chain_id"].as_str().unwrap_or_default().to_string();
    let expiry = st["height"].as_u64().unwrap_or(0) + 100_000;
    let progress = bar(a.txs, "signing", a.json);
    let patient = Keypair::generate().id().to_hex();
    let txs: Vec<_> = (0..a.txs)
        .map(|i| {
            progress.inc(1);
            let args = json!({"record_id": format!("bench/{i}"), "patient": patient, "sha256": phr_ledger::sha256(&[&i.to_be_bytes()]).to_hex(), "class": "lab"});
            sign(&signers[i % signers.len()], &chain_id, expiry, "record-anchor", "anchor", &args)
        })
        .collect();
    progress.finish_and_clear();
    let start_height = client.status().await?["height"].as_u64().unwrap_or(0);

    // The flood, if asked for: one client (the admin, who may read everything)
    // at node0, heavy requests back to back until the load is done.
    let flood_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood_counts = std::sync::Arc::new(parking_lot::Mutex::new(std::collections::BTreeMap::<u16, u64>::new()));
    let flooders: Vec<_> = (0..a.flood)
        .map(|t| {
            let (c, stop, counts) = (clients[0].signed_by(&admin), flood_stop.clone(), flood_counts.clone());
            tokio::spawn(async move {
                let body = json!({"contract": "identity", "method": "list", "args": {"limit": 1000}}).to_string();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let rb = if t % 2 == 0 {
                        c.request(
                            reqwest::Method::POST,
                            "/v1/query",
                            Some(("application/json", body.clone().into_bytes())),
                        )
                        .await
                    } else {
                        c.request(reqwest::Method::GET, "/v1/blocks?limit=1000", None).await
                    };
                    let st = match rb {
                        Ok(rb) => match rb.send().await {
                            Ok(r) => {
                                let st = r.status().as_u16();
                                let _ = r.bytes().await;
                                st
                            }
                            Err(_) => 0,
                        },
                        Err(_) => 0,
                    };
                    *counts.lock().entry(st).or_default() += 1;
                }
            })
        })
        .collect();

    // The load: every submission waits for its commit.
    let progress = bar(a.txs, "committing", a.json);
    let started = Instant::now();
    let results = futures::stream::iter(txs.into_iter().enumerate().map(|(i, tx)| {
        // Spread the submissions over every node, as institutions would; each
        // request is signed by the transaction's signer.
        let client = clients[i % clients.len()].signed_by(&signers[i % signers.len()]);
        let progress = progress.clone();
        async move {
            let t = Instant::now();
            let r = client.submit(&tx, true).await;
            progress.inc(1);
            (r.map(|s| s.receipt.is_some()), t.elapsed())
        }
    }))
    .buffer_unordered(a.concurrency)
    .collect::<Vec<_>>()
    .await;
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    flood_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in flooders {
        let _ = f.await;
    }
    let flood: serde_json::Map<String, serde_json::Value> =
        flood_counts.lock().iter().map(|(st, n)| (st.to_string(), json!(n))).collect();

    let failed = results.iter().filter(|(r, _)| !matches!(r, Ok(true))).count();
    if let Some((Err(e), _)) = results.iter().find(|(r, _)| r.is_err()) {
        eprintln!("first failure: {e}");
    }
    let mut lat: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    lat.sort();
    let end_height = client.status().await?["height"].as_u64().unwrap_or(0);
    for n in nodes {
        n.stop().await;
    }

    let committed = a.txs - failed;
    let tps = committed as f64 / elapsed.as_secs_f64();
    let blocks = end_height - start_height;
    let out = json!({
        "nodes": a.nodes,
        "txs": a.txs,
        "committed": committed,
        "failed": failed,
        "seconds": elapsed.as_secs_f64(),
        "tx_per_s": tps,
        "latency_ms": {"p50": percentile(&lat, 0.5).as_secs_f64() * 1e3, "p99": percentile(&lat, 0.99).as_secs_f64() * 1e3},
        "blocks": blocks,
        "avg_block_txs": if blocks > 0 { committed as f64 / blocks as f64 } else { 0.0 },
        "k256_verify_per_s_one_core": verify_rate,
        "fraction_of_one_core_verify_rate": tps / verify_rate,
        "concurrency": a.concurrency,
        "tls": !a.plain,
        "flood_in_flight": a.flood,
        "flood_answers_by_status": flood,
        "workload": "record-anchor.anchor, fsync per block, all nodes and the client in one process on this machine",
    });
    if a.json {
        println!("{out}");
    } else {
        println!(
            "PHR Ledger throughput, {} node(s) ({} signed record-anchor transactions, {} in flight)",
            a.nodes, a.txs, a.concurrency
        );
        println!("  k256 verifications, one core:  {:>9.0} /s", verify_rate);
        println!(
            "  committed transactions:        {:>9.0} /s  ({committed} in {:.2} s, {failed} failed)",
            tps,
            elapsed.as_secs_f64()
        );
        println!("  as a fraction of k256 rate:    {:>9.2}", tps / verify_rate);
        println!(
            "  submit-to-commit latency:      p50 {:.1} ms, p99 {:.1} ms",
            out["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
            out["latency_ms"]["p99"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  blocks:                        {blocks} (avg {:.0} transactions)",
            out["avg_block_txs"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
