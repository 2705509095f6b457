//! Encrypted links of PHR Ledger.
//!
//! - [`certs`]: the consortium CA that `phr network init` creates and the node
//!   certificates it issues (one per node, for its API and its peer links);
//!   a certificate's identity on the network is the SHA-256 of its DER bytes,
//!   which the genesis (or a signed membership change) pins.
//! - [`pinned`]: rustls verifiers that accept a peer only if its certificate
//!   chains to the consortium CA *and* is pinned for a current member.
//! - [`configs`]: the rustls configurations of the API server, the peer server
//!   (mutual TLS), the peer client and API clients.
//! - [`serve`]: the HTTP/1.1 server loop (TLS or, for a loopback demo only,
//!   plain TCP) that hands every request the connection's peer address and
//!   certificate.
//!
//! Only the `ring` provider is used, the same on every node.
//!
//! ```no_run
//! # fn demo(dir: &std::path::Path) -> Result<(), phr_tls::TlsError> {
//! let ca = phr_tls::certs::Ca::generate("phr-demo")?;
//! let node = ca.issue("node0", &["127.0.0.1".into(), "localhost".into()])?;
//! println!("pin {} in the genesis", node.fingerprint());
//! let server = phr_tls::configs::api_server(&node.identity()?)?;
//! # let _ = (server, dir); Ok(()) }
//! ```

pub mod certs;
pub mod configs;
pub mod pinned;
pub mod serve;

pub use rustls;

use std::sync::Arc;

/// What went wrong with a certificate, a key or a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{what} is not valid PEM: {message}")]
    Pem { what: String, message: String },
    #[error("certificate: {0}")]
    Cert(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The one crypto provider every link uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
