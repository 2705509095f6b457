//! How the command line reaches a node: its URL, the network's CA (the CLI
//! trusts only nodes that CA certifies), and the key that signs requests.

use crate::client::Client;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// A node and how to trust it.
#[derive(clap::Args, Clone, Debug)]
pub struct Conn {
    /// Node API URL.
    #[arg(long, env = "PHR_NODE", default_value = super::DEFAULT_NODE)]
    pub node: String,
    /// The network's CA certificate (`ca.pem` in the directory of `phr network
    /// init`); also PHR_CA. Needed for an `https` node.
    #[arg(long, env = "PHR_CA")]
    pub ca: Option<PathBuf>,
}

/// The key that signs read requests (an enrolled identity).
#[derive(clap::Args, Clone, Debug)]
pub struct ReadKey {
    /// Key file to sign the request with; also PHR_KEY. What it may read is
    /// decided by the chain's rules for that identity.
    #[arg(long = "key", env = "PHR_KEY")]
    pub key: Option<PathBuf>,
}

impl Conn {
    /// A client of the node, trusting the CA, signing nothing.
    pub fn client(&self) -> anyhow::Result<Client> {
        client(&self.node, self.ca.as_deref())
    }

    /// A client signing with the key in `key` (if any).
    pub fn signed(&self, key: Option<&Path>) -> anyhow::Result<Client> {
        let c = self.client()?;
        Ok(match key {
            Some(k) => c.signed_by(&super::calls::load_key(k)?),
            None => c,
        })
    }
}

/// A client of the node at `url` trusting the CA in `ca`.
pub fn client(url: &str, ca: Option<&Path>) -> anyhow::Result<Client> {
    if url.starts_with("https://") && ca.is_none() {
        bail!(
            "{url} speaks TLS: pass --ca <network dir>/ca.pem (or set PHR_CA) so that the CLI can check the node's certificate"
        );
    }
    if !url.starts_with("https://") && !url.starts_with("http://") {
        bail!("--node must be an https:// URL (or http:// for a plain demo network), got {url:?}");
    }
    Client::with_ca(url, ca).with_context(|| {
        format!("cannot use the CA certificate {}", ca.map(|p| p.display().to_string()).unwrap_or_default())
    })
}
