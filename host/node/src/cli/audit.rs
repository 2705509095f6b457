//! `phr audit`: replay the chain against what was committed, explain one
//! transaction, and account for every disclosure of a patient's data.
//!
//! Exit codes: 0 everything matched; 3 a divergence was found (the first one is
//! reported); 1 the audit could not be carried out.

use super::conn::{Conn, ReadKey};
use crate::config::NodeConfig;
use crate::http_source::HttpSource;
use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use phr_audit::disclosures::{Collector, Line};
use phr_audit::{ChainSource, ReplayOptions, ReplayReport, StoreSource};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the chain to audit comes from. Default: the node at PHR_NODE (or
/// https://127.0.0.1:7700), over its API, signed by an auditor's key (or an
/// admin of the node's organisation).
#[derive(Args, Clone)]
pub struct SourceArgs {
    /// A node's API: audit what it serves, with no access to its disk.
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    key: ReadKey,
    /// A node's config: audit its data directory (read-only; the node may run).
    #[arg(long, conflicts_with = "data")]
    config: Option<PathBuf>,
    /// A data directory to audit (with --genesis).
    #[arg(long, requires = "genesis")]
    data: Option<PathBuf>,
    /// The genesis file of --data.
    #[arg(long)]
    genesis: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Execute every block again in a fresh state, with the code live at each
    /// height, and compare every receipt and committed root (and, for a data
    /// directory, every key). Exit code 3 on a divergence.
    Replay {
        #[command(flatten)]
        source: SourceArgs,
        /// First height to replay; needs --snapshot at height FROM-1 unless 1.
        #[arg(long)]
        from: Option<u64>,
        /// Last height to replay (default: the tip).
        #[arg(long)]
        to: Option<u64>,
        /// A trusted snapshot to start from (`phr audit snapshot`, or a node's
        /// snapshots/snap-*.bin).
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one committed transaction again at its exact pre-state and show
    /// caller, code, arguments, reads, writes, events, fuel, result and what
    /// decided it, and whether all of it matches the receipt.
    Explain {
        /// The transaction id.
        tx_id: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        key: ReadKey,
        /// Explain from a node's data directory instead of its API.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A patient's accounting of disclosures (every access, grant, denial,
    /// refusal, break-glass, review and disclosure), from a replay of the chain.
    Disclosures {
        /// The patient's identity id.
        #[arg(long)]
        patient: String,
        /// From this time: ms since 1970, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ.
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (inclusive), in the same forms.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        source: SourceArgs,
        /// JSON lines and the replay summary.
        #[arg(long, conflicts_with = "fhir")]
        json: bool,
        /// A FHIR R5 Bundle of AuditEvent resources.
        #[arg(long)]
        fhir: bool,
    },
    /// Write a snapshot of a node's store (read-only; the node may run), to
    /// replay a range from later (--snapshot).
    Snapshot {
        #[arg(long)]
        config: PathBuf,
        /// The snapshot file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

const DIVERGED: u8 = 3;

fn open_source(s: &SourceArgs) -> anyhow::Result<Box<dyn ChainSource + Send>> {
    if let Some(cfg) = &s.config {
        let cfg = NodeConfig::load(cfg)?;
        return Ok(Box::new(StoreSource::open(&cfg.data_dir, &cfg.genesis)?));
    }
    if let (Some(data), Some(genesis)) = (&s.data, &s.genesis) {
        return Ok(Box::new(StoreSource::open(data, genesis)?));
    }
    Ok(Box::new(HttpSource::new(s.conn.signed(s.key.key.as_deref())?, tokio::runtime::Handle::current())))
}

fn bar(quiet: bool) -> ProgressBar {
    let b = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    b.set_style(
        ProgressStyle::with_template("  replaying [{bar:30}] block {pos}/{len}  {msg}  eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    b
}

/// Replay `source` on a blocking thread with a progress bar; `collector`
/// receives the replayed blocks.
async fn run_replay(
    source: Box<dyn ChainSource + Send>,
    opts: ReplayOptions,
    quiet: bool,
    mut collector: Option<Collector>,
) -> anyhow::Result<(ReplayReport, Option<Vec<Line>>)> {
    let progress = bar(quiet);
    let p = progress.clone();
    let out = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut on_progress = |pr: phr_audit::Progress| {
            p.set_length(pr.to);
            p.set_position(pr.height);
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            p.set_message(format!("{} txs, {:.0} tx/s", pr.txs, pr.txs as f64 / secs));
        };
        let collecting = collector.is_some();
        let mut visit = |b: &phr_ledger::Block, r: &[phr_ledger::Receipt], db: &phr_state::StateDb| {
            if let Some(c) = collector.as_mut() {
                c.visit(b, r, db);
            }
        };
        let visit: Option<&mut phr_audit::Visit<'_>> = if collecting { Some(&mut visit) } else { None };
        let report = phr_audit::replay(source.as_ref(), &opts, &mut on_progress, visit)?;
        Ok::<_, phr_audit::AuditError>((report, collector.map(Collector::finish)))
    })
    .await??;
    progress.finish_and_clear();
    Ok(out)
}

fn short(h: &phr_ledger::Hash32) -> String {
    h.to_hex()[..16].to_string()
}

fn print_report(r: &ReplayReport) {
    println!("Replay of {} (chain {}, genesis {})", r.source, r.chain_id, short(&r.genesis_hash));
    println!(
        "  blocks {}..={} of {}: {} blocks, {} transactions replayed in {:.2} s ({:.0} tx/s); {:.2} s in all",
        r.from, r.to, r.tip, r.blocks, r.txs, r.replay_seconds, r.tx_per_s, r.seconds
    );
    println!("  code that ran:");
    println!("    {:<16} {:<18} {:>17} {:>9}", "contract", "code hash", "heights", "txs");
    for c in &r.code {
        println!(
            "    {:<16} {:<18} {:>17} {:>9}",
            c.contract,
            short(&c.code_hash),
            format!("{}-{}", c.first_height, c.last_height),
            c.txs
        );
    }
    println!(
        "  whole state compared: {}",
        if r.state_compared { "yes" } else { "no (not a data directory, or not to the tip)" }
    );
    match &r.divergence {
        None => println!("  RESULT: every block, receipt and root matches what the code computes"),
        Some(d) => {
            let tx = match (d.tx_index, d.tx_id) {
                (Some(i), Some(id)) => format!(", tx {i} ({id})"),
                (Some(i), None) => format!(", tx {i}"),
                _ => String::new(),
            };
            let key = d.key.as_ref().map(|k| format!(", key {k}")).unwrap_or_default();
            println!("  RESULT: DIVERGENCE at height {}{tx}{key} ({})", d.height, d.what);
            for l in &d.detail {
                println!("    {l}");
            }
        }
    }
}

fn range(from: &Option<String>, to: &Option<String>) -> anyhow::Result<(Option<u64>, Option<u64>)> {
    let p =
        |s: &Option<String>| s.as_deref().map(phr_audit::fhir::parse_instant).transpose().map_err(anyhow::Error::msg);
    Ok((p(from)?, p(to)?))
}

fn print_lines(patient: &str, lines: &[Line], r: &ReplayReport) {
    println!("Accounting of disclosures for patient {patient}");
    println!(
        "  checked by replay of {} up to height {} ({} transactions): {}",
        r.source,
        r.to,
        r.txs,
        if r.divergence.is_none() { "every result matches" } else { "DIVERGED, see below" }
    );
    println!(
        "  {:<24} {:<11} {:<30} {:<22} {:<7} {:<28} {:<18} outcome",
        "when (UTC)", "what", "who", "record", "purpose", "authorisation", "tx"
    );
    for l in lines {
        let who = format!(
            "{}…{}{}",
            &l.who.id[..l.who.id.len().min(8)],
            l.who.org.as_ref().map(|o| format!(" {o}")).unwrap_or_default(),
            if l.who.roles.is_empty() { String::new() } else { format!(" ({})", l.who.roles.join(",")) }
        );
        let mut outcome = l.outcome.clone();
        if let Some(n) = &l.served_by {
            outcome.push_str(&format!(", served by {n}"));
        }
        if let Some(rv) = &l.review {
            outcome.push_str(&format!(" [review: {rv}]"));
        }
        println!(
            "  {:<24} {:<11} {:<30} {:<22} {:<7} {:<28} {:<18} {}",
            phr_audit::fhir::instant(l.time_ms),
            l.kind,
            who,
            l.record_id.clone().or_else(|| l.data_class.clone()).unwrap_or_else(|| "-".into()),
            l.purpose.clone().unwrap_or_else(|| "-".into()),
            l.authorization.clone().unwrap_or_else(|| "-".into()),
            format!("{}…", &l.tx_id.to_hex()[..16]),
            outcome
        );
    }
    println!("  {} lines", lines.len());
}

fn print_explanation(e: &Value) {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    println!("Transaction {} (block {}, index {})", s(&e["tx_id"]), e["height"], e["tx_index"]);
    println!("  block time {} ms, proposer {}", e["block_time_ms"], s(&e["proposer"]));
    let c = &e["caller"];
    println!(
        "  caller     {} ({}, org {}, roles {})",
        s(&e["signer"]),
        s(&c["kind"]),
        s(&c["org"]),
        c["roles"].as_array().map(|r| r.iter().map(s).collect::<Vec<_>>().join(",")).unwrap_or_default()
    );
    println!("  contract   {}.{}  code {}", s(&e["contract"]), s(&e["method"]), s(&e["code_hash"]));
    println!("  arguments  {}", e["args"]);
    println!("  status     {}  fuel {}", s(&e["status"]["status"]), e["fuel_used"]);
    println!("  result     {}", e["result"]);
    if !e["decided_by"].is_null() {
        println!("  decided by {}", e["decided_by"]);
    }
    println!("  reads ({}):", e["reads"].as_array().map_or(0, |a| a.len()));
    for r in e["reads"].as_array().into_iter().flatten() {
        let key = r["key_text"].as_str().map(str::to_string).unwrap_or_else(|| format!("0x{}", s(&r["key"])));
        let version = r["version"].as_array().map(|v| format!("{}:{}", v[0], v[1])).unwrap_or_else(|| "absent".into());
        println!("    {:<14} {:<70} {:>10}  {}", s(&r["namespace"]), key, version, s(&r["value_sha256"]));
    }
    println!("  writes ({}):", e["writes"].as_array().map_or(0, |a| a.len()));
    for w in e["writes"].as_array().into_iter().flatten() {
        let key = w["key_text"].as_str().map(str::to_string).unwrap_or_else(|| format!("0x{}", s(&w["key"])));
        let v = w["value_sha256"].as_str().unwrap_or("(deleted)");
        println!("    {:<14} {:<70} {v}", s(&w["namespace"]), key);
    }
    println!("  events ({}):", e["events"].as_array().map_or(0, |a| a.len()));
    for ev in e["events"].as_array().into_iter().flatten() {
        println!("    {} topics {}", s(&ev["name"]), ev["topics"]);
    }
    if e["matches"] == true {
        println!("  MATCHES the committed receipt: status, code, fuel, result, events, reads and writes");
    } else {
        println!("  DIFFERS from the committed receipt:");
        for d in e["differences"].as_array().into_iter().flatten() {
            println!("    {}", s(d));
        }
    }
}

pub async fn run(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCmd::Replay { source, from, to, snapshot, json } => {
            let src = open_source(&source)?;
            let opts = ReplayOptions { from, to, snapshot, compile_cache: None };
            let (report, _) = run_replay(src, opts, json, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            Ok(if report.divergence.is_none() { ExitCode::SUCCESS } else { ExitCode::from(DIVERGED) })
        }
        AuditCmd::Explain { tx_id, conn, key, config, json } => {
            let id: phr_ledger::Hash32 = tx_id.parse().map_err(|e: String| anyhow::anyhow!("transaction id: {e}"))?;
            let e: Value = match config {
                Some(cfg) => {
                    let cfg = NodeConfig::load(&cfg)?;
                    let genesis = phr_ledger::Genesis::from_json(&std::fs::read_to_string(&cfg.genesis)?)?;
                    let dir = cfg.genesis.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                    let opts = phr_executor::ExecutorOptions {
                        read_only: true,
                        verify_store: false,
                        compile_cache: cfg.compile_cache.clone(),
                        ..Default::default()
                    };
                    let data = cfg.data_dir.clone();
                    let e = tokio::task::spawn_blocking(move || {
                        let exec = phr_executor::Executor::open(&data, genesis, &dir, opts)?;
                        exec.explain(&id)
                    })
                    .await?
                    .with_context(|| format!("explaining from {}", cfg.data_dir.display()))?;
                    match e {
                        Some(e) => serde_json::to_value(e)?,
                        None => anyhow::bail!("no transaction {id} is committed in {}", cfg.data_dir.display()),
                    }
                }
                None => match conn.signed(key.key.as_deref())?.get_json(&format!("/v1/audit/explain/{id}")).await {
                    Ok(v) => v,
                    Err(e) => return super::calls::print(Err(e)),
                },
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                print_explanation(&e);
            }
            Ok(if e["matches"] == true { ExitCode::SUCCESS } else { ExitCode::from(DIVERGED) })
        }
        AuditCmd::Disclosures { patient, from, to, source, json, fhir } => {
            let (from_ms, to_ms) = range(&from, &to)?;
            let src = open_source(&source)?;
            let collector = Collector::new(&patient, from_ms, to_ms);
            let (report, lines) = run_replay(src, ReplayOptions::default(), json || fhir, Some(collector)).await?;
            let lines = lines.unwrap_or_default();
            let checked = json!({
                "source": report.source, "to_height": report.to, "blocks": report.blocks, "txs": report.txs,
                "matched": report.divergence.is_none(), "divergence": report.divergence,
            });
            if fhir {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
                let mut b = phr_audit::fhir::bundle(&patient, &lines, now);
                b["meta"] = json!({"tag": [{"system": "urn:phr-ledger:audit", "code": if report.divergence.is_none() { "checked-by-replay" } else { "replay-diverged" }}]});
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else if json {
                let out = json!({"patient": patient, "from_ms": from_ms, "to_ms": to_ms, "lines": lines, "checked_by_replay": checked});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_lines(&patient, &lines, &report);
                if report.divergence.is_some() {
                    print_report(&report);
                }
            }
            Ok(if report.divergence.is_none() { ExitCode::SUCCESS } else { ExitCode::from(DIVERGED) })
        }
        AuditCmd::Snapshot { config, out } => {
            let cfg = NodeConfig::load(&config)?;
            let db = phr_state::StateDb::open_read_only(&cfg.data_dir)?;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let info = db.export_snapshot(std::io::BufWriter::new(f), &[])?;
            println!(
                "{}",
                json!({"file": out, "height": info.applied.height, "block_hash": info.applied.block_hash, "bytes": info.bytes})
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
