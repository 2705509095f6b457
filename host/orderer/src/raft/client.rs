//! The peer protocol, client side: signed envelopes over HTTP POST.

use super::envelope::{request_digest, PeerKeys, Signer};
use super::types::{decode, encode, PeerNode, PhrRaft};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::AnyError;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A failed peer request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    /// The peer could not be reached (connection refused, reset).
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer did not answer in time; it may still be working on the request.
    #[error("peer timed out: {0}")]
    TimedOut(String),
    /// The peer answered, but not with a valid, authentic response.
    #[error("peer answered badly: {0}")]
    BadResponse(String),
}

/// Sends signed requests to peers and checks their signed responses.
#[derive(Clone)]
pub struct PeerNetwork {
    http: reqwest::Client,
    /// `https` over mutual TLS, or `http` on a plain loopback demo network.
    scheme: &'static str,
    signer: Arc<Signer>,
    keys: Arc<PeerKeys>,
    /// Addresses to use instead of the advertised ones (for example a proxy), by node name.
    overrides: Arc<HashMap<String, String>>,
}

impl PeerNetwork {
    /// A client of the peers: over mutual TLS with `tls` (this node's
    /// certificate, peers' certificates pinned by `keys`), plain without.
    pub fn new(
        signer: Arc<Signer>,
        keys: Arc<PeerKeys>,
        overrides: HashMap<String, String>,
        tls: Option<&phr_tls::certs::Identity>,
    ) -> Result<Self, String> {
        let mut b = reqwest::Client::builder().connect_timeout(Duration::from_millis(500)).pool_max_idle_per_host(8);
        if let Some(id) = tls {
            let policy: Arc<dyn phr_tls::pinned::PeerCertPolicy> = keys.clone();
            b = b.use_preconfigured_tls(phr_tls::configs::peer_client(id, policy).map_err(|e| e.to_string())?);
        }
        let http = b.build().map_err(|e| format!("peer client: {e}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(PeerNetwork { http, scheme, signer, keys, overrides: Arc::new(overrides) })
    }

    /// Where to reach `node`.
    pub fn addr_of(&self, node: &PeerNode) -> String {
        self.overrides.get(&node.name).cloned().unwrap_or_else(|| node.peer_addr.clone())
    }

    /// POST a signed `kind` request with `body` to `node` and return the body of
    /// its signed response.
    pub async fn request(
        &self,
        node: &PeerNode,
        kind: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, PeerError> {
        let target = super::types::node_id(&node.name);
        let url = format!("{}://{}/peer/v1/{kind}", self.scheme, self.addr_of(node));
        let sealed = self.signer.seal(target, kind, body);
        let digest = request_digest(&sealed);
        let resp = self
            .http
            .post(&url)
            .timeout(timeout)
            .header("content-type", "application/octet-stream")
            .body(sealed)
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport(&url, e))?;
        if !status.is_success() {
            return Err(PeerError::BadResponse(format!("{url}: {status}: {}", String::from_utf8_lossy(&bytes))));
        }
        self.keys
            .open_response(&bytes, &format!("{kind}/response"), target, digest)
            .map_err(|e| PeerError::BadResponse(format!("{url}: {e}")))
    }
}

fn transport(url: &str, e: reqwest::Error) -> PeerError {
    if e.is_timeout() {
        PeerError::TimedOut(url.to_string())
    } else {
        PeerError::Unreachable(format!("{url}: {e}"))
    }
}

impl RaftNetworkFactory<PhrRaft> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &PeerNode) -> PeerClient {
        PeerClient { net: self.clone(), target, node: node.clone() }
    }
}

/// The connection to one peer.
pub struct PeerClient {
    net: PeerNetwork,
    target: u64,
    node: PeerNode,
}

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        kind: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, PeerNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = match self.net.request(&self.node, kind, encode(req), option.hard_ttl()).await {
            Ok(b) => b,
            Err(PeerError::Unreachable(m) | PeerError::TimedOut(m)) => {
                return Err(RPCError::Unreachable(Unreachable::new(&AnyError::error(m))))
            }
            Err(e @ PeerError::BadResponse(_)) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        let answer: Result<Resp, RaftError<u64, E>> =
            decode(&body).map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e.to_string()))))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e)))
    }
}

impl RaftNetwork<PhrRaft> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<PhrRaft>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        self.call("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<PhrRaft>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, PeerNode, RaftError<u64, InstallSnapshotError>>> {
        self.call("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        self.call("vote", &rpc, &option).await
    }
}
