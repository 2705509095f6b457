//! Peers are accepted by pinned certificate.
//!
//! A node accepts a peer's TLS certificate (as a server, the client
//! certificate of a node connecting to it; as a client, the server certificate
//! of the node it connects to) only if the certificate chains to the
//! consortium CA, is valid now, and its fingerprint is pinned for a node the
//! node currently accepts: a member of the Raft group, or before the group has
//! a membership a genesis node or configured peer, or a node being added by a
//! signed membership change. A certificate that the CA issued but that no
//! membership names (a stolen CA key, a removed node) is refused at the
//! handshake. Host names are not checked: the pin names the node.

use phr_ledger::Hash32;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Which certificates a node accepts from peers now.
pub trait PeerCertPolicy: Send + Sync + std::fmt::Debug + 'static {
    /// The name of the node whose pinned certificate has this fingerprint, if
    /// that node is accepted now.
    fn node_with_cert(&self, fingerprint: &Hash32) -> Option<String>;
}

/// A verifier of peer certificates, for both ends of a peer link.
#[derive(Debug)]
pub struct PinnedPeers {
    policy: Arc<dyn PeerCertPolicy>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl PinnedPeers {
    pub fn new(policy: Arc<dyn PeerCertPolicy>, roots: Arc<RootCertStore>, provider: Arc<CryptoProvider>) -> Self {
        PinnedPeers { policy, roots, provider }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let fp = crate::certs::fingerprint(end_entity);
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        match self.policy.node_with_cert(&fp) {
            Some(_) => Ok(()),
            None => {
                tracing::warn!(fingerprint = %fp, "refused a peer certificate that no current member pins");
                Err(rustls::Error::General(format!(
                    "certificate {fp} is not pinned for any node of this network (genesis or membership)"
                )))
            }
        }
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for PinnedPeers {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for PinnedPeers {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}
