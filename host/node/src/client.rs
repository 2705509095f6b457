//! A typed client of the node's HTTP API, used by the CLI, the demo, the
//! benchmark and the end-to-end tests.

use futures::{Stream, StreamExt};
use phr_ledger::{Canonical, Keypair, SignedTx, TxBody};
use rand_core::RngCore;
use serde_json::{json, Value};
use std::time::Duration;

/// An error from the node (with its HTTP status and error code) or from the
/// connection.
#[derive(Debug, Clone)]
pub struct ClientError {
    /// HTTP status, if the node answered.
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
    /// The receipt, when a committed transaction failed.
    pub receipt: Option<Value>,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} ({s} {}): {}", self.code, reason(s), self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for ClientError {}

/// A transport error with its causes (a TLS refusal is in the source chain).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(&format!(": {cause}"));
        src = cause.source();
    }
    s
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")
}

/// The answer to a submission.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub tx_id: String,
    /// The receipt, if the submission waited for the commit.
    pub receipt: Option<Value>,
}

/// A client of one node. With a key ([`Client::signed_by`]) it signs every
/// request (RFC 9421, see [`crate::auth::scheme`]); without, it reaches only
/// the public routes. Over `https` it trusts the network's CA only.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<Keypair>,
    /// The chain id, for the signatures' `tag` (read once from `/v1/status`).
    chain_id: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

fn unreachable_err(e: impl std::fmt::Display) -> ClientError {
    ClientError {
        status: None,
        code: "unreachable".into(),
        message: format!("cannot reach the node: {e}"),
        receipt: None,
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A random nonce for a signature.
pub fn nonce() -> String {
    use base64::Engine;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Client {
    /// A client of the node at `base` (`https://...` or, on a plain demo
    /// network, `http://...`) trusting no CA: for plain nodes, or to read the
    /// public routes of a node whose certificate is checked elsewhere.
    /// Prefer [`Client::with_ca`].
    pub fn new(base: &str) -> Self {
        Self::build(base, None).expect("an HTTP client without a CA always builds")
    }

    /// A client of the node at `base` trusting the network's CA in `ca` (PEM;
    /// `None` for a plain demo network).
    pub fn with_ca(base: &str, ca: Option<&std::path::Path>) -> Result<Self, ClientError> {
        let ca = match ca {
            Some(p) => Some(phr_tls::certs::load_ca(p).map_err(|e| ClientError {
                status: None,
                code: "bad-ca".into(),
                message: e.to_string(),
                receipt: None,
            })?),
            None => None,
        };
        Self::build(base, ca)
    }

    fn build(base: &str, ca: Option<rustls::pki_types::CertificateDer<'static>>) -> Result<Self, ClientError> {
        let mut b = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).pool_max_idle_per_host(256);
        if let Some(ca) = ca {
            let tls = phr_tls::configs::api_client(&ca).map_err(|e| ClientError {
                status: None,
                code: "bad-ca".into(),
                message: e.to_string(),
                receipt: None,
            })?;
            b = b.use_preconfigured_tls(tls);
        }
        let http = b.build().map_err(unreachable_err)?;
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), key: None, chain_id: Default::default() })
    }

    /// The same client, signing its requests with `key`.
    pub fn signed_by(&self, key: &Keypair) -> Client {
        Client { key: Some(key.clone()), ..self.clone() }
    }

    /// The same client, signing nothing.
    pub fn anonymous(&self) -> Client {
        Client { key: None, ..self.clone() }
    }

    /// The key requests are signed with, if any.
    pub fn key(&self) -> Option<&Keypair> {
        self.key.as_ref()
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The chain id of the node (cached).
    pub async fn chain_id(&self) -> Result<String, ClientError> {
        self.chain_id
            .get_or_try_init(|| async {
                let st = Self::read(self.http.get(format!("{}/v1/status", self.base)).send().await).await?.1;
                st["chain_id"].as_str().map(str::to_string).ok_or_else(|| ClientError {
                    status: None,
                    code: "bad-response".into(),
                    message: "the node's status names no chain_id".into(),
                    receipt: None,
                })
            })
            .await
            .cloned()
    }

    /// A request of `method` to `path_and_query` with `body`, signed if the
    /// client has a key.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let url = reqwest::Url::parse(&format!("{}{path_and_query}", self.base)).map_err(|e| ClientError {
            status: None,
            code: "bad-url".into(),
            message: format!("{}{path_and_query}: {e}", self.base),
            receipt: None,
        })?;
        let bytes = body.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
        let mut rb = self.http.request(method.clone(), url.clone());
        if let Some(key) = &self.key {
            let tag = self.chain_id().await?;
            let digest = crate::auth::scheme::content_digest(bytes);
            let req = crate::auth::scheme::Request {
                method: method.as_str(),
                path: url.path(),
                query: url.query(),
                content_digest: &digest,
            };
            let h = crate::auth::scheme::sign(key, &req, now_s(), &nonce(), &tag);
            rb = rb
                .header("content-digest", h.content_digest)
                .header("signature-input", h.signature_input)
                .header("signature", h.signature);
        }
        if let Some((ct, b)) = body {
            rb = rb.header("content-type", ct).body(b);
        }
        Ok(rb)
    }

    async fn read(resp: Result<reqwest::Response, reqwest::Error>) -> Result<(u16, Value), ClientError> {
        let resp = resp.map_err(|e| unreachable_err(describe(&e)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ClientError {
            status: Some(status),
            code: "bad-response".into(),
            message: e.to_string(),
            receipt: None,
        })?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let err = &body["error"];
            return Err(ClientError {
                status: Some(status),
                code: err["code"].as_str().unwrap_or("error").to_string(),
                message: err["message"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string()),
                receipt: body.get("receipt").cloned(),
            });
        }
        Ok((status, body))
    }

    async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let rb = self.request(reqwest::Method::GET, path, None).await?;
        Self::read(rb.send().await).await.map(|(_, v)| v)
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let bytes = body.to_string().into_bytes();
        let rb = self.request(reqwest::Method::POST, path, Some(("application/json", bytes))).await?;
        Self::read(rb.send().await).await.map(|(_, v)| v)
    }

    /// `GET path` as bytes (`Ok(None)` for 404), for the binary routes.
    pub async fn get_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let rb = self.request(reqwest::Method::GET, path, None).await?;
        let resp = rb.timeout(Duration::from_secs(120)).send().await.map_err(|e| unreachable_err(describe(&e)))?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Self::read(Ok(resp)).await.map(|_| None);
        }
        Ok(Some(resp.bytes().await.map_err(unreachable_err)?.to_vec()))
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.get(path).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Value, ClientError> {
        self.get("/v1/status").await
    }

    /// `GET /v1/txs/{id}`.
    pub async fn receipt(&self, tx_id: &str) -> Result<Value, ClientError> {
        self.get(&format!("/v1/txs/{tx_id}")).await
    }

    /// `GET /v1/blocks/{height}`.
    pub async fn block(&self, height: &str, receipts: bool) -> Result<Value, ClientError> {
        self.get(&format!("/v1/blocks/{height}?receipts={receipts}")).await
    }

    /// `GET /v1/contracts`.
    pub async fn contracts(&self) -> Result<Value, ClientError> {
        self.get("/v1/contracts").await
    }

    /// `POST /v1/admin/nodes`: a signed membership command. Adding a node waits
    /// until it has caught up, so this may take a while.
    pub async fn admin_nodes(&self, cmd: &phr_ledger::AdminCommand) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(cmd).expect("commands serialize");
        let req = self
            .request(reqwest::Method::POST, "/v1/admin/nodes", Some(("application/json", body)))
            .await?
            .timeout(Duration::from_secs(600));
        Self::read(req.send().await).await.map(|(_, v)| v)
    }

    /// `POST /v1/txs`, as JSON; with `wait`, returns the receipt once committed.
    /// A committed transaction that failed is an error carrying its receipt.
    /// The request is signed with the client's key ([`Client::signed_by`]),
    /// which need not be the transaction's signer.
    pub async fn submit(&self, tx: &SignedTx, wait: bool) -> Result<Submitted, ClientError> {
        let body = serde_json::to_vec(tx).expect("transactions serialize");
        let req = self
            .request(reqwest::Method::POST, &format!("/v1/txs?wait={wait}"), Some(("application/json", body)))
            .await?;
        let (_, body) = Self::read(req.send().await).await?;
        Ok(Self::submitted(body))
    }

    /// `POST /v1/txs` with the canonical bytes.
    pub async fn submit_raw(&self, bytes: Vec<u8>, wait: bool) -> Result<Submitted, ClientError> {
        let req = self
            .request(reqwest::Method::POST, &format!("/v1/txs?wait={wait}"), Some(("application/octet-stream", bytes)))
            .await?;
        let (_, body) = Self::read(req.send().await).await?;
        Ok(Self::submitted(body))
    }

    fn submitted(body: Value) -> Submitted {
        let tx_id = body["tx_id"].as_str().unwrap_or_default().to_string();
        let receipt = body.get("status").filter(|s| *s != "pending").map(|_| body.clone());
        Submitted { tx_id, receipt }
    }

    /// `POST /v1/query`; returns the contract's result.
    pub async fn query(&self, contract: &str, method: &str, args: &Value) -> Result<Value, ClientError> {
        let body = self.post_json("/v1/query", &json!({"contract": contract, "method": method, "args": args})).await?;
        Ok(body["result"].clone())
    }

    /// Sign a transaction for this node's chain, valid for `ttl` blocks.
    pub async fn sign(
        &self,
        key: &Keypair,
        contract: &str,
        method: &str,
        args: &Value,
        ttl: u64,
    ) -> Result<SignedTx, ClientError> {
        let st = self.status().await?;
        let chain_id = st["chain_id"].as_str().unwrap_or_default().to_string();
        let height = st["height"].as_u64().unwrap_or(0);
        Ok(sign(key, &chain_id, height + ttl, contract, method, args))
    }

    /// Sign with `key` and submit (the request signed with `key` too), waiting
    /// for the commit.
    pub async fn call(&self, key: &Keypair, contract: &str, method: &str, args: Value) -> Result<Value, ClientError> {
        let tx = self.sign(key, contract, method, &args, 100).await?;
        let s = self.signed_by(key).submit(&tx, true).await?;
        s.receipt.ok_or_else(|| ClientError {
            status: Some(202),
            code: "pending".into(),
            message: format!("transaction {} not committed in time", s.tx_id),
            receipt: None,
        })
    }

    /// Wait until this node has applied `height` (its `/v1/status` says so), polling
    /// every 100 ms; an error naming the node's height if it has not within `within`.
    /// A transaction committed through one node is visible on another only once that
    /// node has applied its block: call this before reading there.
    pub async fn wait_height(&self, height: u64, within: Duration) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let at = self.status().await?["height"].as_u64().unwrap_or(0);
            if at >= height {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError {
                    status: None,
                    code: "behind".into(),
                    message: format!("{} is at height {at}, not {height}, after {within:?}", self.base()),
                    receipt: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The event stream (`GET /v1/events`), one JSON event per item.
    pub async fn events(
        &self,
        topic: Option<&str>,
        from_height: Option<u64>,
    ) -> Result<impl Stream<Item = Value>, ClientError> {
        let mut path = "/v1/events".to_string();
        let mut q = Vec::new();
        if let Some(t) = topic {
            q.push(format!("topic={t}"));
        }
        if let Some(h) = from_height {
            q.push(format!("from_height={h}"));
        }
        if !q.is_empty() {
            path = format!("{path}?{}", q.join("&"));
        }
        let resp = self.request(reqwest::Method::GET, &path, None).await?.send().await.map_err(unreachable_err)?;
        if !resp.status().is_success() {
            return Err(Self::read(Ok(resp)).await.err().unwrap_or_else(|| unreachable_err("unexpected answer")));
        }
        use eventsource_stream::Eventsource;
        Ok(resp.bytes_stream().eventsource().filter_map(|ev| async move {
            let ev = ev.ok()?;
            serde_json::from_str::<Value>(&ev.data).ok()
        }))
    }
}

/// Sign a transaction with a random nonce.
pub fn sign(key: &Keypair, chain_id: &str, expiry_height: u64, contract: &str, method: &str, args: &Value) -> SignedTx {
    TxBody {
        chain_id: chain_id.to_string(),
        contract: contract.to_string(),
        method: method.to_string(),
        args: args.to_string(),
        nonce: rand_core::OsRng.next_u64(),
        expiry_height,
        signer: key.public_key(),
    }
    .sign(key)
}

/// The canonical bytes of a transaction, for `submit_raw`.
pub fn canonical(tx: &SignedTx) -> Vec<u8> {
    tx.to_canonical()
}

/// A record's content as a node served it.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub content: Vec<u8>,
    pub media_type: String,
    pub version: u32,
    /// The SHA-256 (hex) of the content as received, checked against what the node said it served.
    pub sha256: String,
    pub disclosure_tx: String,
    /// The node that served it (when forwarded).
    pub served_by: Option<String>,
}

impl Client {
    /// Send `body` of `content_type` with `method` to `path`; the JSON answer.
    pub async fn send_bytes(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value, ClientError> {
        let body = if body.is_empty() { None } else { Some((content_type, body)) };
        let rb = self.request(method, path, body).await?.timeout(Duration::from_secs(120));
        Self::read(rb.send().await).await.map(|(_, v)| v)
    }

    /// `GET /v1/records/{id}`: the content, if the chain allows this caller
    /// (the node logs the disclosure or the refusal on chain either way). The
    /// content's SHA-256 is checked against the digest the node sends.
    pub async fn fetch_record(&self, record_id: &str, purpose: &str) -> Result<Fetched, ClientError> {
        let path = format!("/v1/records/{record_id}?purpose={purpose}");
        let resp = self
            .request(reqwest::Method::GET, &path, None)
            .await?
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|e| unreachable_err(describe(&e)))?;
        if !resp.status().is_success() {
            return Err(Self::read(Ok(resp)).await.err().unwrap_or_else(|| unreachable_err("unexpected answer")));
        }
        let h = resp.headers().clone();
        let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let content = resp.bytes().await.map_err(unreachable_err)?.to_vec();
        let sha256 = phr_ledger::sha256(&[&content]).to_hex();
        if header("etag").trim_matches('"') != sha256 {
            return Err(ClientError {
                status: Some(200),
                code: "hash-mismatch".into(),
                message: format!("the content received has SHA-256 {sha256}, the node said {}", header("etag")),
                receipt: None,
            });
        }
        Ok(Fetched {
            media_type: header("content-type"),
            version: header("x-phr-record-version").parse().unwrap_or(0),
            disclosure_tx: header("x-phr-disclosure-tx"),
            served_by: h.get("x-phr-served-by").and_then(|v| v.to_str().ok()).map(str::to_string),
            sha256,
            content,
        })
    }
}
