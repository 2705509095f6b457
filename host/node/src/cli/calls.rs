//! Client subcommands: status, tx, query, receipt, block, events.

use super::conn::{Conn, ReadKey};
use crate::client::ClientError;
use anyhow::Context;
use futures::StreamExt;
use phr_ledger::KeyFile;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct TxArgs {
    #[command(flatten)]
    conn: Conn,
    /// Key file of the signer (it signs the transaction and the request); also PHR_KEY.
    #[arg(long, env = "PHR_KEY")]
    key: PathBuf,
    /// Contract name (consent, access-grant, record-anchor, identity, ...).
    #[arg(long)]
    contract: String,
    /// Method name.
    #[arg(long)]
    method: String,
    /// Arguments as JSON.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Wait for the commit and print the receipt.
    #[arg(long)]
    wait: bool,
    /// Blocks the transaction stays valid for.
    #[arg(long, default_value_t = 100)]
    ttl: u64,
}

#[derive(clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    key: ReadKey,
    #[arg(long)]
    contract: String,
    #[arg(long)]
    method: String,
    /// Arguments as JSON.
    #[arg(long, default_value = "{}")]
    args: String,
}

/// Print a JSON answer, or the error (and any receipt) and fail.
pub fn print(r: Result<Value, ClientError>) -> anyhow::Result<ExitCode> {
    match r {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if let Some(receipt) = &e.receipt {
                println!("{}", serde_json::to_string_pretty(receipt)?);
            }
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn parse_args(s: &str) -> anyhow::Result<Value> {
    serde_json::from_str(s).with_context(|| format!("--args is not valid JSON: {s}"))
}

pub async fn status(conn: &Conn) -> anyhow::Result<ExitCode> {
    print(conn.client()?.status().await)
}

pub async fn tx(a: TxArgs) -> anyhow::Result<ExitCode> {
    let args = parse_args(&a.args)?;
    let text = std::fs::read_to_string(&a.key).with_context(|| format!("cannot read key file {}", a.key.display()))?;
    let key = serde_json::from_str::<KeyFile>(&text)
        .with_context(|| format!("{} is not a key file", a.key.display()))?
        .keypair()?;
    let client = a.conn.client()?.signed_by(&key);
    let tx = match client.sign(&key, &a.contract, &a.method, &args, a.ttl).await {
        Ok(t) => t,
        Err(e) => return print(Err(e)),
    };
    match client.submit(&tx, a.wait).await {
        Ok(s) => print(Ok(s.receipt.unwrap_or_else(|| serde_json::json!({"tx_id": s.tx_id, "status": "pending"})))),
        Err(e) => print(Err(e)),
    }
}

pub async fn query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let args = parse_args(&a.args)?;
    print(a.conn.signed(a.key.key.as_deref())?.query(&a.contract, &a.method, &args).await)
}

pub async fn events(
    client: crate::client::Client,
    topic: Option<String>,
    from_height: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let stream = match client.events(topic.as_deref(), from_height).await {
        Ok(s) => s,
        Err(e) => return print(Err(e)),
    };
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        println!("{ev}");
    }
    eprintln!("the event stream ended");
    Ok(ExitCode::FAILURE)
}

pub(crate) fn load_key(path: &std::path::Path) -> anyhow::Result<phr_ledger::Keypair> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    Ok(serde_json::from_str::<KeyFile>(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?
        .keypair()?)
}

/// Sign and send one membership command, signed against the membership the
/// node reports (signed again if the membership moved meanwhile).
pub async fn node_command(
    conn: &Conn,
    key: &std::path::Path,
    action: phr_ledger::NodeAction,
) -> anyhow::Result<ExitCode> {
    let admin = load_key(key)?;
    let client = conn.client()?.signed_by(&admin);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let status = match client.status().await {
            Ok(s) => s,
            Err(e) => return print(Err(e)),
        };
        let issued_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
        let cmd = phr_ledger::AdminCommandBody {
            chain_id: status["chain_id"].as_str().unwrap_or_default().to_string(),
            action: action.clone(),
            issued_ms,
            membership_index: status["raft"]["membership_index"].as_u64().unwrap_or(0),
            admin: admin.public_key(),
        }
        .sign(&admin);
        match client.admin_nodes(&cmd).await {
            Err(e) if e.code == "stale-membership" && attempt < 5 => {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            other => return print(other),
        }
    }
}

/// `phr node approve-voter`: the signing admin's organisation approves on chain
/// promoting member `id` (or removing it, with `remove`), naming the node key
/// the group's membership holds for it.
pub async fn approve_voter(conn: &Conn, key: &std::path::Path, id: &str, remove: bool) -> anyhow::Result<ExitCode> {
    let admin = load_key(key)?;
    let client = conn.client()?.signed_by(&admin);
    let status = match client.status().await {
        Ok(s) => s,
        Err(e) => return print(Err(e)),
    };
    let members = status["raft"]["members"].as_array().cloned().unwrap_or_default();
    let Some(member) = members.iter().find(|m| m["name"] == id) else {
        anyhow::bail!("{id} is not a member of the Raft group; its organisation's admin adds it first (phr node add)");
    };
    let args = serde_json::json!({
        "change": if remove { "remove" } else { "promote" },
        "node": id,
        "public_key": member["public_key"],
        "membership_index": status["raft"]["membership_index"],
    });
    match client.call(&admin, "identity", "approve_voter", args).await {
        Ok(r) => {
            let ap = &r["result"];
            let orgs = ap["orgs"].as_array().map(|o| o.len()).unwrap_or(0);
            let needed = ap["needed"].as_u64().unwrap_or(0) as usize;
            println!("{}", serde_json::to_string_pretty(ap)?);
            if orgs >= needed {
                println!(
                    "approved by a majority of the organisations: {id}'s admin may now {}",
                    if remove { "remove it" } else { "promote it" }
                );
            } else {
                println!("approved by {orgs} of the {needed} organisations needed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => print(Err(e)),
    }
}

/// `phr node add`: add the node of `config` as a learner, then promote it if asked.
pub async fn node_add(
    conn: &Conn,
    key: &std::path::Path,
    config: &std::path::Path,
    voter: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::NodeConfig::load(config)?;
    let node_key = serde_json::from_str::<KeyFile>(&std::fs::read_to_string(&cfg.key_file)?)?;
    let (Some(org), Some(peer_addr)) = (cfg.org.clone(), cfg.peer_addr.clone()) else {
        anyhow::bail!("{} has no `org` and `peer_addr`: create it with `phr network add-node`", config.display());
    };
    let cert = phr_tls::certs::Identity::load(&cfg.tls.cert, &cfg.tls.key, &cfg.tls.ca)
        .with_context(|| format!("the TLS files of {}", config.display()))?;
    let add = phr_ledger::NodeAction::Add {
        name: cfg.node_id.clone(),
        org,
        public_key: node_key.public_key,
        peer_addr,
        api_addr: cfg.api_addr.clone(),
        tls_cert_sha256: cert.fingerprint(),
    };
    let code = node_command(conn, key, add).await?;
    if code != ExitCode::SUCCESS || !voter {
        return Ok(code);
    }
    node_command(conn, key, phr_ledger::NodeAction::Promote { name: cfg.node_id }).await
}
