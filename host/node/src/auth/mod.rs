//! Who sent a request: a signature (RFC 9421, see [`scheme`]), a session
//! token obtained with one, or nobody.
//!
//! The node accepts a signature only if it verifies over what was received,
//! names this chain, is fresh ([`replay::MAX_SKEW_S`]) and its nonce was not
//! used before by that key. Everything here is about authentication; what an
//! authenticated caller may see is decided by the route rules
//! (`api::rules`) and the contracts.

pub mod replay;
pub mod scheme;
pub mod sessions;

use crate::clock::now_ms;
use axum::http::{header, HeaderMap};
use parking_lot::Mutex;
use phr_ledger::PublicKey;
use replay::{NonceCache, ReplayError};
use scheme::SchemeError;
use sessions::Sessions;

/// Who sent a request, as far as authentication tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No signature and no token.
    Anonymous,
    /// A verified signature by this key.
    Signed(PublicKey),
    /// A live session token of this key.
    Session(PublicKey),
}

impl Principal {
    /// The caller's key, if authenticated.
    pub fn key(&self) -> Option<PublicKey> {
        match self {
            Principal::Anonymous => None,
            Principal::Signed(k) | Principal::Session(k) => Some(*k),
        }
    }
}

/// Why a request's credentials are refused (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("bad signature: {0}")]
    Scheme(#[from] SchemeError),
    #[error("bad signature: {0}")]
    Replay(#[from] ReplayError),
    #[error("bad signature: tag {got:?} names another chain; this node serves {want:?}")]
    WrongChain { got: String, want: String },
    #[error("the session token is unknown or expired; sign POST /v1/session for a new one")]
    BadToken,
    #[error("send either a signature or a session token, not both")]
    Both,
}

/// Checks credentials; shared by every request of one node.
pub struct Authenticator {
    chain_id: String,
    nonces: Mutex<NonceCache>,
    pub sessions: Mutex<Sessions>,
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
}

impl Authenticator {
    pub fn new(chain_id: &str) -> Self {
        Authenticator {
            chain_id: chain_id.to_string(),
            nonces: Mutex::new(NonceCache::new(1_000_000)),
            sessions: Mutex::new(Sessions::new(100_000)),
        }
    }

    /// Authenticate a request from its headers and the body as received.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Principal, AuthError> {
        let input = header_str(headers, "signature-input");
        let sig = header_str(headers, "signature");
        if let Some(token) = bearer(headers) {
            if input.is_some() || sig.is_some() {
                return Err(AuthError::Both);
            }
            return self.sessions.lock().resolve(token, now_ms()).map(Principal::Session).ok_or(AuthError::BadToken);
        }
        let (input, sig) = match (input, sig) {
            (None, None) => return Ok(Principal::Anonymous),
            (Some(i), Some(s)) => (i, s),
            _ => {
                return Err(AuthError::Scheme(SchemeError::Malformed("send both Signature-Input and Signature".into())))
            }
        };
        let digest = scheme::content_digest(body);
        let req = scheme::Request { method, path, query, content_digest: &digest };
        let v = scheme::verify(input, sig, header_str(headers, "content-digest"), &req)?;
        if v.tag != self.chain_id {
            return Err(AuthError::WrongChain { got: v.tag, want: self.chain_id.clone() });
        }
        self.nonces.lock().check(v.key, &v.nonce, v.created, now_ms() / 1000)?;
        Ok(Principal::Signed(v.key))
    }
}
