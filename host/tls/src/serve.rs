//! The HTTP server loop of a node: TLS (or, for a loopback demo only, plain
//! TCP), HTTP/1.1, bounded connections, and what each request is told about
//! its connection.
//!
//! Every request carries a [`ConnInfo`] extension: the remote address and,
//! on a mutual-TLS listener, the fingerprint of the certificate the peer
//! presented. A TLS handshake must finish within the handshake timeout and a
//! request's headers within the header timeout, so a slow client cannot hold
//! a connection; beyond `max_connections` in all, or `max_per_ip` from one
//! address, new connections are closed at once.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use phr_ledger::Hash32;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// What a request knows of the connection it came on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    /// SHA-256 of the client certificate, on a mutual-TLS listener.
    pub peer_cert: Option<Hash32>,
    /// Whether the connection is encrypted.
    pub tls: bool,
}

/// How a listener serves.
#[derive(Clone)]
pub struct ServeOptions {
    /// `None` serves plain HTTP (only for a loopback demo).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
    /// How long open requests may finish once the server stops.
    pub grace: Duration,
}

impl ServeOptions {
    /// Defaults for a listener with `tls`.
    pub fn new(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        ServeOptions {
            tls,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_per_ip: 512,
            grace: Duration::from_secs(3),
        }
    }
}

/// Open connections per remote address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// Counts one connection of an address until dropped.
struct IpSlot {
    ip: IpAddr,
    table: Arc<PerIp>,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot { ip, table: self.clone() })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serve `app` on `listener` until the returned sender fires (or is dropped);
/// `what` names the listener in logs. The task ends after open requests
/// finished or the grace period ran out, whichever is first; connections
/// still open then (event streams) are closed.
pub fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    what: &'static str,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop_tx, mut stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut conns = JoinSet::new();
        let per_ip = Arc::new(PerIp::default());
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => {
                    let (tcp, remote) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            tracing::warn!("{what}: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    if conns.len() >= opts.max_connections {
                        tracing::warn!(%remote, "{what}: {} connections open; closed a new one", conns.len());
                        continue;
                    }
                    let Some(slot) = per_ip.take(remote.ip(), opts.max_per_ip) else {
                        tracing::warn!(%remote, "{what}: {} connections from this address; closed a new one", opts.max_per_ip);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let conn = Conn {
                        app: app.clone(),
                        remote,
                        header_timeout: opts.header_timeout,
                        watcher: graceful.watcher(),
                    };
                    let acceptor = acceptor.clone();
                    let handshake_timeout = opts.handshake_timeout;
                    conns.spawn(async move {
                        let _slot = slot;
                        match acceptor {
                            None => conn.run(TokioIo::new(tcp), None, false).await,
                            Some(acceptor) => {
                                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                                    Ok(Ok(stream)) => {
                                        let peer_cert = stream
                                            .get_ref()
                                            .1
                                            .peer_certificates()
                                            .and_then(|c| c.first())
                                            .map(crate::certs::fingerprint);
                                        conn.run(TokioIo::new(stream), peer_cert, true).await
                                    }
                                    Ok(Err(e)) => tracing::warn!(%remote, "{what}: TLS handshake refused: {e}"),
                                    Err(_) => tracing::debug!(%remote, "{what}: TLS handshake timed out"),
                                }
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        if tokio::time::timeout(opts.grace, graceful.shutdown()).await.is_err() {
            tracing::debug!("{what}: closing {} connections still open", conns.len());
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    (stop_tx, task)
}

/// One accepted connection.
struct Conn {
    app: Router,
    remote: SocketAddr,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Conn {
    async fn run<I>(self, io: TokioIo<I>, peer_cert: Option<Hash32>, tls: bool)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let info = ConnInfo { remote: self.remote, peer_cert, tls };
        let app = self.app;
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(info.clone());
            app.clone().oneshot(req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .serve_connection(io, svc);
        if let Err(e) = self.watcher.watch(conn).await {
            tracing::debug!(remote = %self.remote, "connection ended: {e}");
        }
    }
}
