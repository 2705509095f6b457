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

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client of the node at `base` (for example `http://127.0.0.1:7700`).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()
            .expect("HTTP client");
        Client { http, base: base.trim_end_matches('/').to_string() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn read(resp: Result<reqwest::Response, reqwest::Error>) -> Result<(u16, Value), ClientError> {
        let resp = resp.map_err(|e| ClientError {
            status: None,
            code: "unreachable".into(),
            message: format!("cannot reach the node: {e}"),
            receipt: None,
        })?;
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
        Self::read(self.http.get(format!("{}{path}", self.base)).send().await).await.map(|(_, v)| v)
    }

    /// `GET path` as bytes (`Ok(None)` for 404), for the binary routes.
    pub async fn get_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let resp = self.http.get(format!("{}{path}", self.base)).timeout(Duration::from_secs(120)).send().await;
        let unreachable = |e: reqwest::Error| ClientError {
            status: None,
            code: "unreachable".into(),
            message: format!("cannot reach the node: {e}"),
            receipt: None,
        };
        let resp = resp.map_err(unreachable)?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Self::read(Ok(resp)).await.map(|_| None);
        }
        Ok(Some(resp.bytes().await.map_err(unreachable)?.to_vec()))
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
        let url = format!("{}/v1/admin/nodes", self.base);
        let req = self.http.post(url).timeout(Duration::from_secs(600)).json(cmd);
        Self::read(req.send().await).await.map(|(_, v)| v)
    }

    /// `POST /v1/txs`, as JSON; with `wait`, returns the receipt once committed.
    /// A committed transaction that failed is an error carrying its receipt.
    pub async fn submit(&self, tx: &SignedTx, wait: bool) -> Result<Submitted, ClientError> {
        let url = format!("{}/v1/txs?wait={wait}", self.base);
        let (_, body) = Self::read(self.http.post(url).json(tx).send().await).await?;
        Ok(Self::submitted(body))
    }

    /// `POST /v1/txs` with the canonical bytes.
    pub async fn submit_raw(&self, bytes: Vec<u8>, wait: bool) -> Result<Submitted, ClientError> {
        let url = format!("{}/v1/txs?wait={wait}", self.base);
        let req = self.http.post(url).header("content-type", "application/octet-stream").body(bytes);
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
        let url = format!("{}/v1/query", self.base);
        let (_, body) = Self::read(
            self.http.post(url).json(&json!({"contract": contract, "method": method, "args": args})).send().await,
        )
        .await?;
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

    /// Sign and submit, waiting for the commit.
    pub async fn call(&self, key: &Keypair, contract: &str, method: &str, args: Value) -> Result<Value, ClientError> {
        let tx = self.sign(key, contract, method, &args, 100).await?;
        let s = self.submit(&tx, true).await?;
        s.receipt.ok_or_else(|| ClientError {
            status: Some(202),
            code: "pending".into(),
            message: format!("transaction {} not committed in time", s.tx_id),
            receipt: None,
        })
    }

    /// The event stream (`GET /v1/events`), one JSON event per item.
    pub async fn events(
        &self,
        topic: Option<&str>,
        from_height: Option<u64>,
    ) -> Result<impl Stream<Item = Value>, ClientError> {
        let mut url = format!("{}/v1/events?", self.base);
        if let Some(t) = topic {
            url.push_str(&format!("topic={t}&"));
        }
        if let Some(h) = from_height {
            url.push_str(&format!("from_height={h}"));
        }
        let resp = self.http.get(url).send().await.map_err(|e| ClientError {
            status: None,
            code: "unreachable".into(),
            message: e.to_string(),
            receipt: None,
        })?;
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
