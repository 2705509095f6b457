//! Envelope encryption of record content.
//!
//! Every stored version of a record gets a fresh 256-bit data key; the content
//! is sealed with it (XChaCha20-Poly1305, a random 192-bit nonce), and the data
//! key is sealed in turn with the node's key-encryption key (the KEK, the same
//! AEAD). Both seals bind, as associated data, the record id and version, so a
//! ciphertext or a wrapped key copied to another record does not open.
//! Destroying the wrapped key makes every copy of the ciphertext unreadable,
//! except a copy that came with its wrapped key (a backup taken before the
//! destruction), which the key-encryption key still opens.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

const NONCE: usize = 24;

/// Why content could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the sealed content or key does not open (altered, or another record's)")]
    Open,
    #[error("key-encryption key {path}: {message}")]
    Kek { path: String, message: String },
}

/// The node's key-encryption key. Kept in a file outside the database, never
/// in a backup of the store.
#[derive(Zeroize)]
#[zeroize(drop)]
pub struct Kek([u8; 32]);

impl Kek {
    /// A fresh key.
    pub fn generate() -> Kek {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        Kek(k)
    }

    /// Write a fresh key to `path` (must not exist), readable by its owner
    /// only: 64 hex characters.
    pub fn create(path: &Path) -> Result<Kek, CryptoError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |e: std::io::Error| CryptoError::Kek { path: path.display().to_string(), message: e.to_string() };
        let k = Kek::generate();
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(err)?;
        let mut text = Zeroizing::new(hex::encode(k.0));
        f.write_all(text.as_bytes()).map_err(err)?;
        text.zeroize();
        Ok(k)
    }

    /// The key in `path`, refusing a file others may read.
    pub fn load(path: &Path) -> Result<Kek, CryptoError> {
        use std::os::unix::fs::PermissionsExt;
        let err = |m: String| CryptoError::Kek { path: path.display().to_string(), message: m };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(err("readable by others than its owner; chmod 600 it".into()));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let mut k = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut k).map_err(|_| err("must hold 64 hex characters".into()))?;
        Ok(Kek(k))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Sealed content and its wrapped data key, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// `nonce || ciphertext || tag` of the content.
    pub ciphertext: Vec<u8>,
    /// `nonce || ciphertext || tag` of the data key.
    pub wrapped_key: Vec<u8>,
}

fn aad(what: &[u8], record_id: &str, version: u32) -> Vec<u8> {
    let mut a = b"phr/record/v1\0".to_vec();
    a.extend_from_slice(what);
    a.push(0);
    a.extend_from_slice(record_id.as_bytes());
    a.push(0);
    a.extend_from_slice(&version.to_be_bytes());
    a
}

fn seal_with(cipher: &XChaCha20Poly1305, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad })
        .expect("XChaCha20-Poly1305 seals any length a record may have");
    [nonce.as_slice(), &ct].concat()
}

fn open_with(cipher: &XChaCha20Poly1305, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce, ct) = sealed.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().expect("split at the nonce length");
    cipher.decrypt(&XNonce::from(nonce), Payload { msg: ct, aad }).map_err(|_| CryptoError::Open)
}

/// Seal version `version` of record `record_id` under a fresh data key.
pub fn seal(kek: &Kek, record_id: &str, version: u32, plaintext: &[u8]) -> Sealed {
    let mut dk = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(dk.as_mut());
    let data = XChaCha20Poly1305::new(dk.as_ref().into());
    let ciphertext = seal_with(&data, plaintext, &aad(b"content", record_id, version));
    let wrapped_key = seal_with(&kek.cipher(), dk.as_ref(), &aad(b"data-key", record_id, version));
    Sealed { ciphertext, wrapped_key }
}

/// Open what [`seal`] sealed for the same record and version.
pub fn open(kek: &Kek, record_id: &str, version: u32, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let dk = Zeroizing::new(open_with(&kek.cipher(), &sealed.wrapped_key, &aad(b"data-key", record_id, version))?);
    if dk.len() != 32 {
        return Err(CryptoError::Open);
    }
    let data = XChaCha20Poly1305::new(dk.as_slice().into());
    Ok(Zeroizing::new(open_with(&data, &sealed.ciphertext, &aad(b"content", record_id, version))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_opens_only_for_its_record_version_and_kek() {
        let kek = Kek::generate();
        let s = seal(&kek, "stmarys/lab/1", 1, b"CBC: Hb 13.8");
        assert_eq!(open(&kek, "stmarys/lab/1", 1, &s).unwrap().as_slice(), b"CBC: Hb 13.8");
        assert!(!s.ciphertext.windows(4).any(|w| w == b"CBC:"), "the content is not in the clear");
        assert!(matches!(open(&kek, "stmarys/lab/2", 1, &s), Err(CryptoError::Open)), "another record");
        assert!(matches!(open(&kek, "stmarys/lab/1", 2, &s), Err(CryptoError::Open)), "another version");
        assert!(matches!(open(&Kek::generate(), "stmarys/lab/1", 1, &s), Err(CryptoError::Open)), "another KEK");
        let mut bad = s.clone();
        let n = bad.ciphertext.len() - 1;
        bad.ciphertext[n] ^= 1;
        assert!(matches!(open(&kek, "stmarys/lab/1", 1, &bad), Err(CryptoError::Open)), "altered");
        // Two seals of the same content share nothing.
        let t = seal(&kek, "stmarys/lab/1", 1, b"CBC: Hb 13.8");
        assert_ne!(s.ciphertext, t.ciphertext);
        assert_ne!(s.wrapped_key, t.wrapped_key);
    }

    #[test]
    fn a_kek_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek.key");
        let k = Kek::create(&path).unwrap();
        let s = seal(&k, "r", 1, b"x");
        let again = Kek::load(&path).unwrap();
        assert_eq!(open(&again, "r", 1, &s).unwrap().as_slice(), b"x");
        assert!(Kek::create(&path).is_err(), "never overwrites a key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(Kek::load(&path), Err(CryptoError::Kek { .. })), "a readable KEK is refused");
    }
}
