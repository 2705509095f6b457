//! The PHR Ledger node and the `phr` command: configuration, the node runtime
//! (executor, mempool, block cutter, sequencer), the HTTP API, a typed client,
//! network creation, the demo and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use phr_node::{config::NodeConfig, server};
//! let node = server::start(NodeConfig::load("network/node0/node.toml".as_ref())?).await?;
//! println!("serving {}", node.url());
//! node.stop().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod bench;
pub mod bench_auth;
pub mod bench_gateway;
pub mod chain_clock;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod gateway;
pub mod http_source;
pub mod load;
pub mod metrics;
pub mod netinit;
pub mod runtime;
pub mod server;
