//! A node's HTTP API as a chain to audit (`phr audit … --node URL`): the
//! auditor needs no access to the node's disk, and checks the bytes it serves.

use crate::client::Client;
use phr_audit::{AuditError, ChainSource, StoredBlock, TipInfo};
use phr_ledger::{Genesis, Hash32};
use tokio::runtime::Handle;

/// A node's API, read from a thread outside the async runtime.
pub struct HttpSource {
    client: Client,
    rt: Handle,
}

fn source(e: impl std::fmt::Display) -> AuditError {
    AuditError::Source(e.to_string())
}

impl HttpSource {
    /// The node `client` talks to (signed by a chain reader: an auditor, or
    /// an admin of the node's organisation).
    pub fn new(client: Client, rt: Handle) -> Self {
        HttpSource { client, rt }
    }
}

impl ChainSource for HttpSource {
    fn describe(&self) -> String {
        format!("node {}", self.client.base())
    }

    fn genesis(&self) -> Result<Genesis, AuditError> {
        let v = self.rt.block_on(self.client.get_json("/v1/genesis")).map_err(source)?;
        let g: Genesis = serde_json::from_value(v).map_err(|e| source(format!("the genesis the node serves: {e}")))?;
        g.validate().map_err(source)?;
        Ok(g)
    }

    fn code(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, AuditError> {
        self.rt.block_on(self.client.get_bytes(&format!("/v1/code/{hash}"))).map_err(source)
    }

    fn tip(&self) -> Result<TipInfo, AuditError> {
        let s = self.rt.block_on(self.client.status()).map_err(source)?;
        let hash = |k: &str| -> Result<Hash32, AuditError> {
            s[k].as_str().unwrap_or_default().parse().map_err(|e: String| source(format!("status {k}: {e}")))
        };
        Ok(TipInfo {
            height: s["height"].as_u64().ok_or_else(|| source("status has no height"))?,
            block_hash: hash("last_block_hash")?,
            state_root: hash("state_root")?,
            receipts_root: hash("receipts_root")?,
        })
    }

    fn blocks(&self, from: u64, max: u64) -> Result<Vec<StoredBlock>, AuditError> {
        let path = format!("/v1/raw/blocks?from={from}&count={}", max.clamp(1, 256));
        match self.rt.block_on(self.client.get_bytes(&path)).map_err(source)? {
            None => Ok(Vec::new()),
            Some(body) => phr_audit::wire::decode_blocks(&body).map_err(|e| source(format!("blocks from {from}: {e}"))),
        }
    }
}
