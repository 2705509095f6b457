//! The `phr` command line.

mod audit;
mod calls;
pub mod conn;
mod contract;
mod record;

use crate::config::NodeConfig;
use crate::netinit::{self, InitOptions};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) const DEFAULT_NODE: &str = "https://127.0.0.1:7700";

#[derive(Parser)]
#[command(
    name = "phr",
    version,
    about = "PHR Ledger: personal health records shared under the patient's control",
    long_about = "PHR Ledger: a permissioned ledger on which institutions and patients share personal health \
                  records under the patient's control. Health data stays off chain; the chain holds hashes, \
                  consents, grants and the access log, executed by WebAssembly contracts.\n\n\
                  Start with `phr demo`, or `phr network init` then `phr node start`."
)]
struct Cli {
    /// Log filter (for example `info`, `phr=debug`); also PHR_LOG.
    #[arg(long, global = true, env = "PHR_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a secp256k1 key file (identity for a patient, practitioner or admin).
    Keygen {
        /// Where to write the key file (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// A label stored in the file.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Create networks.
    Network {
        #[command(subcommand)]
        cmd: NetworkCmd,
    },
    /// Run a node.
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// Show a node's chain height, last block, state root and role.
    Status {
        #[command(flatten)]
        conn: conn::Conn,
    },
    /// Sign and submit a transaction.
    Tx(calls::TxArgs),
    /// Run a read-only contract query.
    Query(calls::QueryArgs),
    /// Show a committed transaction's receipt (to its signer, or a chain reader).
    Receipt {
        #[command(flatten)]
        conn: conn::Conn,
        #[command(flatten)]
        key: conn::ReadKey,
        /// Transaction id (64 hex characters).
        tx_id: String,
    },
    /// Show a block (to auditors and the admins of the node's organisation).
    Block {
        #[command(flatten)]
        conn: conn::Conn,
        #[command(flatten)]
        key: conn::ReadKey,
        /// Height, or `latest`.
        #[arg(default_value = "latest")]
        height: String,
        /// Include the receipts.
        #[arg(long)]
        receipts: bool,
    },
    /// Follow the event stream, for example everything that concerns a patient
    /// (each caller follows its own id; see docs/security.md).
    Events {
        #[command(flatten)]
        conn: conn::Conn,
        #[command(flatten)]
        key: conn::ReadKey,
        /// Only events with this topic (a patient id, or `org:<name>`).
        #[arg(long)]
        topic: Option<String>,
        /// Replay committed events from this height first.
        #[arg(long)]
        from_height: Option<u64>,
    },
    /// Records through a node's gateway: save, get, amend, dispose.
    Record {
        #[command(subcommand)]
        cmd: record::RecordCmd,
    },
    /// The contract lifecycle: install, approve, commit, list, history.
    Contract {
        #[command(subcommand)]
        cmd: contract::ContractCmd,
    },
    /// Audit: replay the chain against what was committed, explain a transaction,
    /// a patient's accounting of disclosures.
    Audit {
        #[command(subcommand)]
        cmd: audit::AuditCmd,
    },
    /// Run the demo: a local network, the contracts, and a patient's story told step by step.
    Demo(crate::demo::DemoArgs),
    /// Keep a steady load of signed transactions on running nodes, reporting each second.
    Load(crate::load::LoadArgs),
    /// Measure contract calls and committed transactions per second.
    Bench(crate::bench::BenchArgs),
}

#[derive(Subcommand)]
enum NetworkCmd {
    /// Create a network: genesis, organisation admin keys, node keys and configs.
    Init {
        /// Directory to create the network in.
        #[arg(long)]
        out: PathBuf,
        /// Number of nodes.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Organisations of the consortium, comma-separated.
        #[arg(long, default_value = "org1,org2,org3", value_delimiter = ',')]
        orgs: Vec<String>,
        /// Chain id (default: random).
        #[arg(long)]
        chain_id: Option<String>,
        /// API port of node0; node i listens on base+i, peers on base+100+i (0: free ports).
        #[arg(long, default_value_t = 7700)]
        base_port: u16,
        /// Host name or address of every node (all on this host).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// An extra contract for the genesis, as NAME=FILE (repeatable).
        #[arg(long = "contract", value_parser = parse_contract)]
        contracts: Vec<(String, PathBuf)>,
        /// Serve the API and peer links as plain HTTP instead of TLS. Only for a demo
        /// on loopback: refused for any other host.
        #[arg(long)]
        insecure_plain_http: bool,
    },
    /// Create the key and config of a new node for an existing network directory.
    /// Start it, then add it with `phr node add`.
    AddNode {
        /// The network directory (from `phr network init`).
        #[arg(long)]
        network: PathBuf,
        /// The new node's id.
        #[arg(long)]
        id: String,
        /// Its organisation.
        #[arg(long)]
        org: String,
        /// Host of its addresses.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Its API port (0: a free port).
        #[arg(long, default_value_t = 0)]
        api_port: u16,
        /// Its peer port (0: a free port).
        #[arg(long, default_value_t = 0)]
        peer_port: u16,
    },
}

#[derive(Subcommand)]
enum NodeCmd {
    /// Start a node and serve its API until interrupted.
    Start {
        /// The node's config file (DIR/<node>/node.toml from `phr network init`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Add a running node to the Raft group as a learner (it catches up from the
    /// others); with --voter, then make it a voter. Signed by an admin of its organisation.
    Add {
        /// Any member node.
        #[command(flatten)]
        conn: conn::Conn,
        /// Key file of an admin of the new node's organisation.
        #[arg(long)]
        key: PathBuf,
        /// The new node's config (from `phr network add-node`).
        #[arg(long)]
        config: PathBuf,
        /// Then promote it to voter (needs the approval of a majority of the
        /// organisations first: `phr node approve-voter`).
        #[arg(long)]
        voter: bool,
    },
    /// Back up a running node (chain, state, Raft log, record store) into a
    /// new directory under its `records.backup_dir`, while it keeps serving.
    /// Signed by an admin of its organisation. Prints the manifest, with the
    /// backup's `path`. The key-encryption key is not in a backup: keep it apart.
    Backup {
        #[command(flatten)]
        conn: conn::Conn,
        /// Key file of an admin of the node's organisation.
        #[arg(long)]
        key: PathBuf,
        /// The new directory: a name inside the node's `records.backup_dir`,
        /// or an absolute path inside it (default `backup-<unix ms>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Restore a backup into the fresh data directory of a node's config; it
    /// is checked first, and nothing is overwritten.
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
        /// The node's config (its data_dir must not exist or be empty).
        #[arg(long)]
        config: PathBuf,
    },
    /// Make a learner a voter (once a majority of the organisations approved it:
    /// `phr node approve-voter`).
    Promote {
        #[command(flatten)]
        conn: conn::Conn,
        /// Key file of an admin of the node's organisation.
        #[arg(long)]
        key: PathBuf,
        /// The node id.
        #[arg(long)]
        id: String,
    },
    /// Approve, for your organisation, making a member a voter (or with --remove,
    /// removing a voter): a majority of the organisations must approve on chain
    /// before the node's own admin can promote or remove it.
    ApproveVoter {
        #[command(flatten)]
        conn: conn::Conn,
        /// Key file of an organisation admin (any organisation).
        #[arg(long)]
        key: PathBuf,
        /// The node id (a member of the group: add it as a learner first).
        #[arg(long)]
        id: String,
        /// Approve removing the voter instead of promoting it.
        #[arg(long)]
        remove: bool,
    },
    /// Remove a node from the Raft group.
    Remove {
        #[command(flatten)]
        conn: conn::Conn,
        /// Key file of an admin of the node's organisation.
        #[arg(long)]
        key: PathBuf,
        /// The node id.
        #[arg(long)]
        id: String,
    },
}

fn parse_contract(s: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = s.split_once('=').ok_or("expected NAME=FILE")?;
    Ok((name.to_string(), PathBuf::from(file)))
}

fn init_logging(filter: Option<&str>, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Run the command line; the exit code is 0 on success, 1 on failure.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.cmd {
        Command::Node { .. } => "info,openraft=error",
        // The demo narrates; its nodes' expected refusals and a stopped peer are not news.
        Command::Demo(_) | Command::Bench(_) => "error,openraft=off",
        _ => "warn,openraft=error",
    };
    init_logging(cli.log.as_deref(), default_log);
    // Block apply, explain and replay run contracts on this runtime's threads: give
    // them the stack the deepest call tree needs (phr_vm::stack).
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(phr_vm::CONTRACT_THREAD_STACK)
        .on_thread_start(phr_vm::mark_contract_stack)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Keygen { out, label } => {
            let k = phr_ledger::Keypair::generate();
            netinit::write_key(&out, &k, &label)?;
            println!("{}", serde_json::json!({"file": out, "id": k.id(), "public_key": k.public_key()}));
            Ok(ExitCode::SUCCESS)
        }
        Command::Network {
            cmd: NetworkCmd::Init { out, nodes, orgs, chain_id, base_port, host, contracts, insecure_plain_http },
        } => {
            let net = netinit::init(&InitOptions {
                out,
                nodes,
                orgs,
                chain_id,
                host,
                base_port,
                extra_contracts: contracts,
                insecure_plain_http,
                ..Default::default()
            })?;
            println!("created network {} in {}", net.genesis.chain_id, net.dir.display());
            println!("  genesis:   {}", net.dir.join("genesis.json").display());
            for (org, key) in &net.admin_keys {
                println!("  admin key: {} ({org})", key.display());
            }
            for (n, cfg) in net.genesis.nodes.iter().zip(&net.node_configs) {
                println!("  {}: {} (org {}, API {})", n.id, cfg.display(), n.org, n.api_addr);
            }
            println!(
                "  CA:        {} (clients trust the nodes it certifies: export PHR_CA={})",
                net.dir.join("ca.pem").display(),
                net.dir.join("ca.pem").display()
            );
            println!("start a node with: phr node start --config {}", net.node_configs[0].display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Network { cmd: NetworkCmd::AddNode { network, id, org, host, api_port, peer_port } } => {
            let added = netinit::add_node(&network, &id, &org, &host, api_port, peer_port)?;
            println!("created node {id} of {org}: {}", added.config.display());
            println!("  peer address {}, API {}", added.node.peer_addr, added.node.api_addr);
            println!("start it:   phr node start --config {}", added.config.display());
            println!(
                "then add it: phr node add --node <member API URL> --key <{org} admin key> --config {} [--voter]",
                added.config.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Node { cmd: NodeCmd::Add { conn, key, config, voter } } => {
            calls::node_add(&conn, &key, &config, voter).await
        }
        Command::Node { cmd: NodeCmd::Backup { conn, key, out } } => record::backup(&conn, &key, out.as_deref()).await,
        Command::Node { cmd: NodeCmd::Restore { from, config } } => record::restore(&from, &config),
        Command::Node { cmd: NodeCmd::Promote { conn, key, id } } => {
            calls::node_command(&conn, &key, phr_ledger::NodeAction::Promote { name: id }).await
        }
        Command::Node { cmd: NodeCmd::ApproveVoter { conn, key, id, remove } } => {
            calls::approve_voter(&conn, &key, &id, remove).await
        }
        Command::Node { cmd: NodeCmd::Remove { conn, key, id } } => {
            calls::node_command(&conn, &key, phr_ledger::NodeAction::Remove { name: id }).await
        }
        Command::Node { cmd: NodeCmd::Start { config } } => {
            let cfg = NodeConfig::load(&config)?;
            let node = crate::server::start(cfg).await?;
            println!("node {} serving {}", node.node.id, node.url());
            let url = node.url();
            let stop = async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            };
            stop.await;
            tracing::info!("stopping {url}");
            node.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { conn } => calls::status(&conn).await,
        Command::Tx(a) => calls::tx(a).await,
        Command::Query(a) => calls::query(a).await,
        Command::Receipt { conn, key, tx_id } => calls::print(conn.signed(key.key.as_deref())?.receipt(&tx_id).await),
        Command::Block { conn, key, height, receipts } => {
            calls::print(conn.signed(key.key.as_deref())?.block(&height, receipts).await)
        }
        Command::Events { conn, key, topic, from_height } => {
            calls::events(conn.signed(key.key.as_deref())?, topic, from_height).await
        }
        Command::Contract { cmd } => contract::run(cmd).await,
        Command::Record { cmd } => record::run(cmd).await,
        Command::Audit { cmd } => audit::run(cmd).await,
        Command::Demo(a) => crate::demo::run(a).await,
        Command::Bench(a) => crate::bench::run(a).await,
        Command::Load(a) => crate::load::run(a).await,
    }
}
