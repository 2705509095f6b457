//! secp256k1 identities: keys, ids, low-S ECDSA signatures, key files.

use crate::hash::sha256;
use borsh::{BorshDeserialize, BorshSerialize};
use k256::ecdsa::signature::{Signer, Verifier};
use k256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a key, signature or key file is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("public key is not a compressed secp256k1 point (33 bytes, 02/03 prefix)")]
    BadPublicKey,
    #[error("secret key is not a valid secp256k1 scalar")]
    BadSecretKey,
    #[error("signature is not 64 bytes of r and s in range")]
    MalformedSignature,
    #[error("signature has a high S value; only low-S signatures are accepted")]
    HighS,
    #[error("signature does not match the signed bytes and the signer's key")]
    BadSignature,
    #[error("key file: {0}")]
    File(String),
}

/// A compressed secp256k1 public key (33 bytes). Shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 33]);

/// Decompressed keys by their compressed bytes. Decompressing a point costs a
/// square root; a node sees the same few thousand signers again and again.
fn verifying_key(bytes: &[u8; 33]) -> Result<VerifyingKey, KeyError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<[u8; 33], VerifyingKey>>> = OnceLock::new();
    const CAPACITY: usize = 1 << 16;
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(k) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(bytes) {
        return Ok(*k);
    }
    let k = VerifyingKey::from_sec1_bytes(bytes).map_err(|_| KeyError::BadPublicKey)?;
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if c.len() >= CAPACITY {
        c.clear();
    }
    c.insert(*bytes, k);
    Ok(k)
}

impl PublicKey {
    /// Parse and check that the bytes are a point on the curve.
    pub fn from_bytes(b: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 33] = b.try_into().map_err(|_| KeyError::BadPublicKey)?;
        verifying_key(&arr)?;
        Ok(PublicKey(arr))
    }

    /// The identity id this key speaks for.
    pub fn id(&self) -> IdentityId {
        let h = sha256(&[&self.0]);
        let mut id = [0u8; 20];
        id.copy_from_slice(&h.0[..20]);
        IdentityId(id)
    }

    /// Verify a low-S signature over `message` (hashed with SHA-256).
    pub fn verify(&self, message: &[u8], sig: &Signature) -> Result<(), KeyError> {
        let vk = verifying_key(&self.0)?;
        let s = k256::ecdsa::Signature::from_slice(&sig.0).map_err(|_| KeyError::MalformedSignature)?;
        if s.normalize_s().is_some() {
            return Err(KeyError::HighS);
        }
        vk.verify(message, &s).map_err(|_| KeyError::BadSignature)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let b = hex::decode(s).map_err(|_| KeyError::BadPublicKey)?;
        PublicKey::from_bytes(&b)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            <String as Deserialize>::deserialize(d)?.parse().map_err(serde::de::Error::custom)
        } else {
            let b = crate::hash::bytes_de(d)?;
            PublicKey::from_bytes(&b).map_err(serde::de::Error::custom)
        }
    }
}

/// An identity id: the first 20 bytes of SHA-256 of the compressed public key,
/// shown as 40 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct IdentityId(pub [u8; 20]);

impl IdentityId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityId({})", self.to_hex())
    }
}

impl FromStr for IdentityId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 20];
        hex::decode_to_slice(s, &mut out).map_err(|_| format!("identity id must be 40 hex characters, got {s:?}"))?;
        Ok(IdentityId(out))
    }
}

impl Serialize for IdentityId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for IdentityId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A 64-byte ECDSA signature, `r || s`, big-endian. Shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = [0u8; 64];
        if d.is_human_readable() {
            let s = <String as Deserialize>::deserialize(d)?;
            hex::decode_to_slice(&s, &mut out)
                .map_err(|_| serde::de::Error::custom("signature must be 128 hex characters"))?;
        } else {
            let b = crate::hash::bytes_de(d)?;
            out = b.as_slice().try_into().map_err(|_| serde::de::Error::custom("signature must be 64 bytes"))?;
        }
        Ok(Signature(out))
    }
}

/// A secret key and its public key.
#[derive(Clone)]
pub struct Keypair {
    secret: SigningKey,
    public: PublicKey,
}

impl Keypair {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::random(&mut rand_core::OsRng))
    }

    /// The key with this 32-byte secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyError> {
        let sk = SigningKey::from_slice(secret).map_err(|_| KeyError::BadSecretKey)?;
        Ok(Self::from_signing_key(sk))
    }

    fn from_signing_key(secret: SigningKey) -> Self {
        let point = secret.verifying_key().to_encoded_point(true);
        let mut pk = [0u8; 33];
        pk.copy_from_slice(point.as_bytes());
        Keypair { secret, public: PublicKey(pk) }
    }

    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    pub fn id(&self) -> IdentityId {
        self.public.id()
    }

    /// A deterministic (RFC 6979), low-S signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let sig: k256::ecdsa::Signature = self.secret.sign(message);
        let sig = sig.normalize_s().unwrap_or(sig);
        Signature(sig.to_bytes().into())
    }

    /// The key as the JSON key file `phr keygen` writes.
    pub fn to_file(&self, label: &str) -> KeyFile {
        KeyFile {
            kind: KeyFile::KIND.to_string(),
            label: label.to_string(),
            id: self.id(),
            public_key: self.public,
            secret_key: hex::encode(self.secret.to_bytes()),
        }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.id())
    }
}

/// A key file: JSON holding a secret key, its public key and id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub kind: String,
    #[serde(default)]
    pub label: String,
    pub id: IdentityId,
    pub public_key: PublicKey,
    pub secret_key: String,
}

impl KeyFile {
    pub const KIND: &'static str = "phr-secp256k1-key";

    /// The keypair, checking that the file is consistent.
    pub fn keypair(&self) -> Result<Keypair, KeyError> {
        if self.kind != Self::KIND {
            return Err(KeyError::File(format!("kind is {:?}, expected {:?}", self.kind, Self::KIND)));
        }
        let secret = hex::decode(&self.secret_key).map_err(|_| KeyError::File("secret_key is not hex".into()))?;
        let kp = Keypair::from_secret(&secret)?;
        if kp.public_key() != self.public_key || kp.id() != self.id {
            return Err(KeyError::File("public_key or id does not match secret_key".into()));
        }
        Ok(kp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::Neg;

    #[test]
    fn signatures_verify_and_bind_message_and_key() {
        let k = Keypair::generate();
        let sig = k.sign(b"hello");
        assert!(k.public_key().verify(b"hello", &sig).is_ok());
        assert_eq!(k.public_key().verify(b"hellp", &sig), Err(KeyError::BadSignature));
        let other = Keypair::generate();
        assert_eq!(other.public_key().verify(b"hello", &sig), Err(KeyError::BadSignature));
    }

    #[test]
    fn high_s_is_rejected_even_though_it_is_mathematically_valid() {
        let k = Keypair::generate();
        let sig = k.sign(b"msg");
        let s = k256::ecdsa::Signature::from_slice(&sig.0).unwrap();
        let (r, s_low) = s.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, s_low.as_ref().neg()).unwrap();
        let high = Signature(high.to_bytes().into());
        assert_eq!(k.public_key().verify(b"msg", &high), Err(KeyError::HighS));
    }

    #[test]
    fn key_file_round_trips_and_detects_mismatch() {
        let k = Keypair::generate();
        let f = k.to_file("alice");
        assert_eq!(f.keypair().unwrap().id(), k.id());
        let mut bad = f.clone();
        bad.public_key = Keypair::generate().public_key();
        assert!(bad.keypair().is_err());
    }

    #[test]
    fn public_key_parsing_rejects_garbage() {
        assert_eq!(PublicKey::from_bytes(&[0u8; 33]), Err(KeyError::BadPublicKey));
        assert_eq!(PublicKey::from_bytes(&[2u8; 32]), Err(KeyError::BadPublicKey));
        assert_eq!("zz".parse::<PublicKey>(), Err(KeyError::BadPublicKey));
    }
}
