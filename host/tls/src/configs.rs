//! The rustls configurations of a node and its clients. TLS 1.3 and 1.2 with
//! the `ring` provider's safe defaults; HTTP/1.1 over ALPN.

use crate::certs::Identity;
use crate::pinned::{PeerCertPolicy, PinnedPeers};
use crate::{provider, TlsError};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

fn cfg(e: rustls::Error) -> TlsError {
    TlsError::Config(e.to_string())
}

/// A root store holding only `ca`.
pub fn roots(ca: &CertificateDer<'static>) -> Result<RootCertStore, TlsError> {
    let mut r = RootCertStore::empty();
    r.add(ca.clone()).map_err(|e| TlsError::Cert(format!("the CA certificate is not usable: {e}")))?;
    Ok(r)
}

/// The API server: the node's certificate, no client certificates (API
/// callers prove who they are by signing their requests).
pub fn api_server(id: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let mut c = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg)?
        .with_no_client_auth()
        .with_single_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(cfg)?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

/// The peer server: mutual TLS, the client's certificate pinned by `policy`.
pub fn peer_server(id: &Identity, policy: Arc<dyn PeerCertPolicy>) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = Arc::new(PinnedPeers::new(policy, Arc::new(roots(&id.ca)?), provider()));
    let mut c = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(cfg)?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

/// The peer client: presents the node's certificate, accepts a server whose
/// certificate `policy` pins.
pub fn peer_client(id: &Identity, policy: Arc<dyn PeerCertPolicy>) -> Result<ClientConfig, TlsError> {
    let verifier = Arc::new(PinnedPeers::new(policy, Arc::new(roots(&id.ca)?), provider()));
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(cfg)?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// An API client trusting the network's CA (and only it); server names are
/// checked against the node certificates.
pub fn api_client(ca: &CertificateDer<'static>) -> Result<ClientConfig, TlsError> {
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg)?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}
