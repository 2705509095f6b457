//! `phr contract`: the contract lifecycle from the command line — install code,
//! approve and commit it as an organisation admin, and show which code serves
//! each contract and since when.

use super::calls::{load_key, print};
use super::conn::{Conn, ReadKey};
use anyhow::Context;
use base64::Engine as _;
use clap::Subcommand;
use phr_ledger::Hash32;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ContractCmd {
    /// Install a contract component on the chain (an organisation admin). Every
    /// node checks it the same way; the receipt names the code hash, or the reason
    /// it was refused.
    Install {
        #[command(flatten)]
        conn: Conn,
        /// Key file of an organisation admin.
        #[arg(long)]
        key: PathBuf,
        /// The component (`.wasm`).
        #[arg(long)]
        file: PathBuf,
    },
    /// Approve (contract, code hash, sequence) for your organisation.
    Approve(TripleArgs),
    /// Make approved code live once enough organisations approved it.
    Commit(TripleArgs),
    /// Every contract, the code serving it, and approvals for its next sequence.
    List {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        key: ReadKey,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which code served a contract from which height, and who approved it.
    History {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        key: ReadKey,
        /// The contract name.
        name: String,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a component built into this `phr` to a file (consent, consent-v2,
    /// access-grant, record-anchor, runaway), to install it.
    Builtin {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Where to write it (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct TripleArgs {
    #[command(flatten)]
    conn: Conn,
    /// Key file of an organisation admin.
    #[arg(long)]
    key: PathBuf,
    /// The contract name.
    #[arg(long)]
    name: String,
    /// The code hash (from `phr contract install`).
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    code_hash: Option<Hash32>,
    /// Or the component file, whose SHA-256 is the code hash.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The lifecycle sequence (default: the contract's next one).
    #[arg(long)]
    sequence: Option<u64>,
}

pub async fn run(cmd: ContractCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ContractCmd::Install { conn, key, file } => install(&conn, &key, &file).await,
        ContractCmd::Approve(a) => triple("approve", a).await,
        ContractCmd::Commit(a) => triple("commit", a).await,
        ContractCmd::List { conn, key, json } => {
            let r = conn.signed(key.key.as_deref())?.query("lifecycle", "list", &json!({})).await;
            match r {
                Ok(v) if !json => {
                    print_list(&v);
                    Ok(ExitCode::SUCCESS)
                }
                other => print(other),
            }
        }
        ContractCmd::History { conn, key, name, json } => {
            let r = conn.signed(key.key.as_deref())?.query("lifecycle", "history", &json!({ "name": name })).await;
            match r {
                Ok(v) if !json => {
                    print_history(&v);
                    Ok(ExitCode::SUCCESS)
                }
                other => print(other),
            }
        }
        ContractCmd::Builtin { name, out } => {
            let Some((_, bytes)) = phr_contracts::BUILTIN.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = phr_contracts::BUILTIN.iter().map(|(n, _)| *n).collect();
                anyhow::bail!("no built-in component {name:?}; there are: {}", names.join(", "));
            };
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            std::io::Write::write_all(&mut f, bytes)?;
            println!("{}", json!({"file": out, "code_hash": phr_ledger::sha256(&[bytes]), "size": bytes.len()}));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn install(conn: &Conn, key: &std::path::Path, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let admin = load_key(key)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let args = json!({ "code": base64::engine::general_purpose::STANDARD.encode(&bytes) });
    eprintln!("installing {} ({} bytes, code hash {})", file.display(), bytes.len(), phr_ledger::sha256(&[&bytes]));
    let client = conn.client()?.signed_by(&admin);
    let tx = match client.sign(&admin, "lifecycle", "install", &args, 100).await {
        Ok(t) => t,
        Err(e) => return print(Err(e)),
    };
    let r = client.submit_raw(crate::client::canonical(&tx), true).await;
    report(r.map(|s| s.receipt.unwrap_or_else(|| json!({"tx_id": s.tx_id, "status": "pending"}))))
}

async fn triple(method: &str, a: TripleArgs) -> anyhow::Result<ExitCode> {
    let admin = load_key(&a.key)?;
    let code_hash = match (a.code_hash, &a.file) {
        (Some(h), _) => h,
        (None, Some(f)) => {
            phr_ledger::sha256(&[&std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?])
        }
        (None, None) => anyhow::bail!("give --code-hash or --file"),
    };
    let client = a.conn.client()?.signed_by(&admin);
    let sequence = match a.sequence {
        Some(s) => s,
        None => match client.query("lifecycle", "get", &json!({ "name": a.name })).await {
            Ok(v) => v["sequence"].as_u64().unwrap_or(0) + 1,
            Err(e) if e.code == "not-found" => 1,
            Err(e) => return print(Err(e)),
        },
    };
    let args = json!({ "name": a.name, "code_hash": code_hash, "sequence": sequence });
    let r = client.call(&admin, "lifecycle", method, args).await;
    report(r)
}

/// Print a lifecycle receipt: its result on success (and where it committed, on
/// stderr), the receipt and the reason on failure.
fn report(r: Result<Value, crate::client::ClientError>) -> anyhow::Result<ExitCode> {
    match r {
        Ok(receipt) if receipt.get("result").is_some() => {
            eprintln!(
                "committed in block {} as transaction {}",
                receipt["height"],
                receipt["tx_id"].as_str().unwrap_or("?")
            );
            println!("{}", serde_json::to_string_pretty(&receipt["result"])?);
            Ok(ExitCode::SUCCESS)
        }
        other => print(other),
    }
}

fn short(v: &Value) -> String {
    let s = v.as_str().unwrap_or("-");
    if s.len() > 16 {
        format!("{}…", &s[..16])
    } else {
        s.to_string()
    }
}

fn orgs(list: &Value) -> String {
    let v: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter().map(|x| format!("{} ({})", x["org"].as_str().unwrap_or("?"), short(&x["code_hash"]))).collect()
        })
        .unwrap_or_default();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

fn print_list(v: &Value) {
    println!("{:<16} {:>4}  {:<18} {:>8}  {:<24} pending approvals", "contract", "seq", "code", "since", "approved by");
    for c in v["contracts"].as_array().into_iter().flatten() {
        let since = match c["committed_at"]["height"].as_u64() {
            Some(0) => "genesis".to_string(),
            Some(h) => h.to_string(),
            None => "-".into(),
        };
        let approved: Vec<&str> =
            c["approvals"].as_array().into_iter().flatten().filter_map(|a| a["org"].as_str()).collect();
        println!(
            "{:<16} {:>4}  {:<18} {:>8}  {:<24} {}",
            c["name"].as_str().unwrap_or("?"),
            c["sequence"].as_u64().unwrap_or(0),
            short(&c["code_hash"]),
            since,
            if approved.is_empty() { "genesis".to_string() } else { approved.join(",") },
            orgs(&c["pending"])
        );
    }
}

fn print_history(v: &Value) {
    println!("{}", v["name"].as_str().unwrap_or("?"));
    println!("  (each version serves every transaction after the one that committed it)");
    println!("  {:>4}  {:<66} {:>12}  {:<8} approved by", "seq", "code hash", "committed at", "migrated");
    for ver in v["versions"].as_array().into_iter().flatten() {
        let h = ver["committed_at"]["height"].as_u64().unwrap_or(0);
        let from = if h == 0 {
            "genesis".to_string()
        } else {
            format!("{h}:{}", ver["committed_at"]["tx_index"].as_u64().unwrap_or(0))
        };
        let approvals: Vec<String> = ver["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| format!("{}@{}", a["org"].as_str().unwrap_or("?"), a["at"]["height"]))
            .collect();
        println!(
            "  {:>4}  {:<66} {:>12}  {:<8} {}",
            ver["sequence"].as_u64().unwrap_or(0),
            ver["code_hash"].as_str().unwrap_or("?"),
            from,
            if ver["migrated"].as_bool().unwrap_or(false) { "yes" } else { "no" },
            if approvals.is_empty() { "genesis".into() } else { approvals.join(", ") }
        );
    }
    println!("  pending approvals for the next sequence: {}", orgs(&v["pending"]));
}
