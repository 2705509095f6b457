//! `phr load`: a steady load of signed transactions against running nodes, for
//! watching a network at work (for example across a contract upgrade). Patients
//! enrol themselves and create consents; every second a line reports what
//! committed and which code served the consent contract.

use crate::client::{sign, Client};
use anyhow::bail;
use phr_ledger::Keypair;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct LoadArgs {
    /// API URLs of the nodes to submit to, round-robin (repeatable; default
    /// PHR_NODE or https://127.0.0.1:7700).
    #[arg(long = "node")]
    nodes: Vec<String>,
    /// The network's CA certificate (`ca.pem`); also PHR_CA.
    #[arg(long, env = "PHR_CA")]
    ca: Option<std::path::PathBuf>,
    /// Submissions in flight at once, each waiting for its commit.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds to run (0: until interrupted).
    #[arg(long, default_value_t = 60)]
    duration: u64,
}

/// Most consents one load patient creates before a fresh patient takes over
/// (a patient may hold 64 active consents).
const PER_PATIENT: u32 = 60;

#[derive(Default)]
struct Tally {
    committed: u64,
    failed: u64,
    /// Transactions by the code hash that served them, with the first and last second seen.
    by_code: BTreeMap<String, (u64, u64, u64)>,
    last_error: Option<String>,
}

pub async fn run(a: LoadArgs) -> anyhow::Result<ExitCode> {
    let nodes = if a.nodes.is_empty() {
        vec![std::env::var("PHR_NODE").unwrap_or_else(|_| crate::cli::DEFAULT_NODE.to_string())]
    } else {
        a.nodes.clone()
    };
    if a.concurrency == 0 {
        bail!("--concurrency must be positive");
    }
    let clients: Vec<Client> =
        nodes.iter().map(|n| crate::cli::conn::client(n, a.ca.as_deref())).collect::<anyhow::Result<_>>()?;
    let st = clients[0].status().await?;
    let chain = st["chain_id"].as_str().unwrap_or_default().to_string();
    let tally = Arc::new(parking_lot::Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = (a.duration > 0).then(|| started + Duration::from_secs(a.duration));
    eprintln!("load: {} workers creating consents through {}", a.concurrency, nodes.join(", "));
    let mut workers = Vec::new();
    for w in 0..a.concurrency {
        let client = clients[w % clients.len()].clone();
        let (tally, chain) = (tally.clone(), chain.clone());
        workers.push(tokio::spawn(async move {
            let mut patient: Option<(Keypair, u32)> = None;
            while until.is_none_or(|u| Instant::now() < u) {
                if patient.as_ref().is_none_or(|(_, n)| *n >= PER_PATIENT) {
                    let k = Keypair::generate();
                    match client.call(&k, "identity", "enrol_patient", json!({})).await {
                        Ok(_) => patient = Some((k, 0)),
                        Err(e) => {
                            tally.lock().last_error = Some(e.to_string());
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    }
                }
                let (key, n) = patient.as_mut().expect("enrolled above");
                *n += 1;
                let tx = sign(key, &chain, u64::MAX, "consent", "create", &json!({"decision": "permit"}));
                let r = client.signed_by(key).submit(&tx, true).await;
                let sec = started.elapsed().as_secs();
                let mut t = tally.lock();
                match r {
                    Ok(s) => match s.receipt {
                        Some(receipt) => {
                            t.committed += 1;
                            let code = receipt["code_hash"].as_str().unwrap_or("?").to_string();
                            let e = t.by_code.entry(code).or_insert((0, sec, sec));
                            e.0 += 1;
                            e.2 = sec;
                        }
                        None => t.failed += 1,
                    },
                    Err(e) => {
                        t.failed += 1;
                        t.last_error = Some(e.to_string());
                    }
                }
            }
        }));
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let t = tally.lock();
        let latest = t.by_code.iter().max_by_key(|(_, (_, _, last))| *last).map(|(c, _)| c.clone());
        println!(
            "{:>5} s  {:>8} committed  {:>6}/s  {:>4} failed  consent code {}",
            started.elapsed().as_secs(),
            t.committed,
            t.committed - last,
            t.failed,
            latest.as_deref().map_or("-", |c| &c[..c.len().min(16)])
        );
        last = t.committed;
        drop(t);
        if until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
    }
    for w in &workers {
        w.abort();
    }
    let t = tally.lock();
    println!(
        "committed {} transactions, {} failed, in {:.0} s",
        t.committed,
        t.failed,
        started.elapsed().as_secs_f64()
    );
    for (code, (n, first, last)) in &t.by_code {
        println!("  consent code {code}: {n} transactions, seconds {first}-{last}");
    }
    if let Some(e) = &t.last_error {
        eprintln!("last error: {e}");
    }
    Ok(if t.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
