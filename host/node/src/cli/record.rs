//! `phr record`: save, fetch, amend and dispose of a record's content through
//! a node's gateway; `phr node backup` and `phr node restore`.

use super::calls::print;
use super::conn::Conn;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RecordCmd {
    /// Save a record's content at this node (a practitioner of its organisation,
    /// or a patient for their own data): sealed here, anchored on chain.
    Save {
        #[command(flatten)]
        conn: Conn,
        /// Key file of the practitioner (or patient) saving it; also PHR_KEY.
        #[arg(long, env = "PHR_KEY")]
        key: PathBuf,
        /// The patient's identity id.
        #[arg(long)]
        patient: String,
        /// The data class (for example `lab`, `imaging`, `note`).
        #[arg(long)]
        class: String,
        /// The file to save.
        #[arg(long)]
        file: PathBuf,
        /// Its media type (for example application/fhir+json, application/pdf, text/plain).
        #[arg(long)]
        media_type: String,
        /// Confidentiality (HL7 v3: U L M N R V).
        #[arg(long, default_value = "N")]
        security_label: String,
        /// The record id (default: made by the node).
        #[arg(long)]
        record_id: Option<String>,
    },
    /// Fetch a record's content (the chain decides, and logs the disclosure).
    Get {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, env = "PHR_KEY")]
        key: PathBuf,
        /// The record id.
        record_id: String,
        /// Purpose of use (HL7 v3: TREAT, ETREAT, …).
        #[arg(long, default_value = "TREAT")]
        purpose: String,
        /// Write the content here (must not exist) instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Store a new version of a record, linked on chain.
    Amend {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, env = "PHR_KEY")]
        key: PathBuf,
        record_id: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        media_type: String,
        /// Why it is amended.
        #[arg(long)]
        reason: String,
    },
    /// Dispose of a record: marked on chain, content and keys destroyed where held.
    Dispose {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, env = "PHR_KEY")]
        key: PathBuf,
        record_id: String,
        #[arg(long)]
        reason: String,
    },
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Run a record command.
pub async fn run(cmd: RecordCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RecordCmd::Save { conn, key, patient, class, file, media_type, security_label, record_id } => {
            let body = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut q =
                format!("patient={}&class={}&security_label={}", enc(&patient), enc(&class), enc(&security_label));
            if let Some(id) = record_id {
                q.push_str(&format!("&record_id={}", enc(&id)));
            }
            let c = conn.signed(Some(&key))?;
            print(c.send_bytes(reqwest::Method::POST, &format!("/v1/records?{q}"), &media_type, body).await)
        }
        RecordCmd::Amend { conn, key, record_id, file, media_type, reason } => {
            let body = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let path = format!("/v1/records/{record_id}?reason={}", enc(&reason));
            let c = conn.signed(Some(&key))?;
            print(c.send_bytes(reqwest::Method::PUT, &path, &media_type, body).await)
        }
        RecordCmd::Dispose { conn, key, record_id, reason } => {
            let path = format!("/v1/records/{record_id}?reason={}", enc(&reason));
            let c = conn.signed(Some(&key))?;
            print(c.send_bytes(reqwest::Method::DELETE, &path, "application/json", Vec::new()).await)
        }
        RecordCmd::Get { conn, key, record_id, purpose, out } => {
            // Checked before asking: a fetch is logged on chain, so it is not made for nothing.
            if let Some(p) = out.as_ref().filter(|p| p.exists()) {
                anyhow::bail!("{} exists already; name a new file (records are never written over)", p.display());
            }
            let c = conn.signed(Some(&key))?;
            match c.fetch_record(&record_id, &purpose).await {
                Ok(f) => {
                    eprintln!(
                        "{} bytes of {}, version {}, SHA-256 {} (as the holder served it, checked against its anchor there); disclosure logged in {}",
                        f.content.len(),
                        f.media_type,
                        f.version,
                        f.sha256,
                        f.disclosure_tx
                    );
                    match out {
                        Some(p) => {
                            use std::io::Write;
                            let mut file = std::fs::OpenOptions::new()
                                .write(true)
                                .create_new(true)
                                .open(&p)
                                .with_context(|| format!("cannot create {}", p.display()))?;
                            file.write_all(&f.content)?;
                        }
                        None => {
                            use std::io::Write;
                            std::io::stdout().write_all(&f.content)?;
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => print(Err(e)),
            }
        }
    }
}

/// `phr node backup`: ask a running node (signed by an admin of its
/// organisation) to back itself up into a new directory inside its
/// `records.backup_dir`; the manifest printed names the `path`.
pub async fn backup(conn: &Conn, key: &std::path::Path, out: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let c = conn.signed(Some(key))?;
    eprintln!("backing up the node (inside its records.backup_dir) while it keeps serving...");
    print(c.post_json("/v1/admin/backup", &serde_json::json!({"out": out})).await)
}

/// `phr node restore`: check a backup and restore it into the (fresh) data
/// directory of `config`; the node then catches up when started.
pub fn restore(from: &std::path::Path, config: &std::path::Path) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::NodeConfig::load(config)?;
    let genesis = phr_ledger::Genesis::from_json(&std::fs::read_to_string(&cfg.genesis)?)?;
    eprintln!("checking the backup in {}...", from.display());
    let m = crate::gateway::backup::verify(from, &cfg.node_id, &genesis.chain_id, &genesis.hash().to_hex())
        .map_err(|e| anyhow::anyhow!("refused: {e}"))?;
    eprintln!(
        "  node {}, chain {}, height {}, {} files: all present and unaltered",
        m.node_id,
        m.chain_id,
        m.height,
        m.files.len()
    );
    eprintln!("  copying, then checking the copy against its own hashes before it takes the data directory's place...");
    let c = crate::gateway::backup::restore(from, &cfg.data_dir)
        .map_err(|e| anyhow::anyhow!("refused (nothing was written to {}): {e}", cfg.data_dir.display()))?;
    println!(
        "{}",
        serde_json::json!({"restored": cfg.data_dir, "height": m.height, "block_hash": m.block_hash, "blocks_checked": c.blocks, "txs_checked": c.txs})
    );
    eprintln!("start the node (phr node start --config {}): it catches up with the network, and shreds every record the chain says was disposed of before it serves anything", config.display());
    Ok(ExitCode::SUCCESS)
}
