//! The consortium CA and node certificates.
//!
//! `phr network init` creates a CA (an ECDSA P-256 key and a self-signed
//! certificate, valid 20 years) and issues each node one certificate, valid
//! 10 years, for both serving (its API and its peer address) and connecting
//! to peers. The CA key is only needed to issue certificates for nodes added
//! later; it never goes to a node. A node's certificate is known to the
//! network by its fingerprint, the SHA-256 of its DER bytes, which the genesis
//! pins (or the signed command that adds the node).

use crate::TlsError;
use phr_ledger::{sha256, Hash32};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The SHA-256 of a certificate's DER bytes: its identity on the network.
pub fn fingerprint(cert: &CertificateDer<'_>) -> Hash32 {
    sha256(&[cert.as_ref()])
}

fn cert_err(e: rcgen::Error) -> TlsError {
    TlsError::Cert(e.to_string())
}

/// The parameters every consortium CA has: the same for a CA created now and
/// for one loaded later to issue another node's certificate.
fn ca_params(network: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, format!("PHR Ledger consortium CA {network}"));
    p.distinguished_name.push(DnType::OrganizationName, "PHR Ledger consortium");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

/// The consortium certificate authority: its certificate and key.
pub struct Ca {
    network: String,
    cert_pem: String,
    key: KeyPair,
}

impl Ca {
    /// A new CA for the network named `network` (its chain id).
    pub fn generate(network: &str) -> Result<Ca, TlsError> {
        let key = KeyPair::generate().map_err(cert_err)?;
        let cert = ca_params(network).self_signed(&key).map_err(cert_err)?;
        Ok(Ca { network: network.to_string(), cert_pem: cert.pem(), key })
    }

    /// The CA of `network` from its certificate and key files.
    pub fn load(network: &str, cert: &Path, key: &Path) -> Result<Ca, TlsError> {
        let cert_pem = read(cert)?;
        let key = KeyPair::from_pem(&read(key)?)
            .map_err(|e| TlsError::Pem { what: key.display().to_string(), message: e.to_string() })?;
        Ok(Ca { network: network.to_string(), cert_pem, key })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA key, PEM: keep it apart from the nodes.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issue a certificate for node `name`, valid for `name` and each of
    /// `hosts` (DNS names or IP addresses), for serving and connecting.
    pub fn issue(&self, name: &str, hosts: &[String]) -> Result<NodeCert, TlsError> {
        let mut sans = vec![name.to_string()];
        for h in hosts {
            if !sans.contains(h) {
                sans.push(h.clone());
            }
        }
        let mut p = CertificateParams::new(sans).map_err(cert_err)?;
        p.distinguished_name.push(DnType::CommonName, name);
        p.distinguished_name.push(DnType::OrganizationName, format!("PHR Ledger {}", self.network));
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        // Valid from yesterday (clocks differ) for ten years.
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(3653);
        let key = KeyPair::generate().map_err(cert_err)?;
        let issuer = Issuer::new(ca_params(&self.network), &self.key);
        let cert = p.signed_by(&key, &issuer).map_err(cert_err)?;
        Ok(NodeCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), ca_pem: self.cert_pem.clone() })
    }
}

/// A node's certificate and key, PEM, and the CA that issued it.
#[derive(Clone)]
pub struct NodeCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

impl NodeCert {
    /// The certificate's fingerprint, as the genesis pins it.
    pub fn fingerprint(&self) -> Hash32 {
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).expect("a certificate made here");
        fingerprint(&der)
    }

    /// As a TLS identity.
    pub fn identity(&self) -> Result<Identity, TlsError> {
        Identity::from_pem(&self.cert_pem, &self.key_pem, &self.ca_pem, "node certificate")
    }
}

/// What a node presents and trusts: its certificate and key, and the
/// consortium CA.
#[derive(Debug)]
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub ca: CertificateDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { cert: self.cert.clone(), key: self.key.clone_key(), ca: self.ca.clone() }
    }
}

impl Identity {
    /// From PEM text (`what` names it in errors).
    pub fn from_pem(cert: &str, key: &str, ca: &str, what: &str) -> Result<Identity, TlsError> {
        let pem = |kind: &str, e: rustls::pki_types::pem::Error| TlsError::Pem {
            what: format!("{what} ({kind})"),
            message: e.to_string(),
        };
        Ok(Identity {
            cert: CertificateDer::from_pem_slice(cert.as_bytes()).map_err(|e| pem("certificate", e))?,
            key: PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| pem("key", e))?,
            ca: CertificateDer::from_pem_slice(ca.as_bytes()).map_err(|e| pem("CA certificate", e))?,
        })
    }

    /// From the certificate, key and CA files of a node.
    pub fn load(cert: &Path, key: &Path, ca: &Path) -> Result<Identity, TlsError> {
        Self::from_pem(&read(cert)?, &read(key)?, &read(ca)?, &cert.display().to_string())
    }

    /// The fingerprint of this node's certificate.
    pub fn fingerprint(&self) -> Hash32 {
        fingerprint(&self.cert)
    }
}

/// The CA certificate in a PEM file, to trust a network's nodes.
pub fn load_ca(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::from_pem_slice(read(path)?.as_bytes())
        .map_err(|e| TlsError::Pem { what: path.display().to_string(), message: e.to_string() })
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path)
        .map_err(|e| TlsError::Read { path: path.display().to_string(), message: e.to_string() })
}

/// Write `text` to a new file readable only by its owner (keys) or by all
/// (certificates).
pub fn write(path: &Path, text: &str, private: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e: std::io::Error| TlsError::Write { path: path.display().to_string(), message: e.to_string() };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_loaded_from_its_files_issues_certificates_that_chain_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::generate("phr-test").unwrap();
        write(&dir.path().join("ca.pem"), ca.cert_pem(), false).unwrap();
        write(&dir.path().join("ca.key"), &ca.key_pem(), true).unwrap();
        let again = Ca::load("phr-test", &dir.path().join("ca.pem"), &dir.path().join("ca.key")).unwrap();
        let a = ca.issue("node0", &["127.0.0.1".into()]).unwrap();
        let b = again.issue("node1", &["127.0.0.1".into()]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        let roots = crate::configs::roots(&load_ca(&dir.path().join("ca.pem")).unwrap()).unwrap();
        for c in [a, b] {
            let id = c.identity().unwrap();
            let parsed = rustls::server::ParsedCertificate::try_from(&id.cert).unwrap();
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &parsed,
                &roots,
                &[],
                rustls::pki_types::UnixTime::now(),
                crate::provider().signature_verification_algorithms.all,
            )
            .expect("chains to the CA");
        }
        // A certificate of another CA does not.
        let other = Ca::generate("phr-test").unwrap().issue("node0", &[]).unwrap().identity().unwrap();
        let parsed = rustls::server::ParsedCertificate::try_from(&other.cert).unwrap();
        assert!(rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            &[],
            rustls::pki_types::UnixTime::now(),
            crate::provider().signature_verification_algorithms.all,
        )
        .is_err());
        // Key files are private.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
