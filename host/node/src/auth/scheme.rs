//! The request signature scheme: HTTP Message Signatures (RFC 9421) with one
//! profile, so that a client in any language can sign a request.
//!
//! A signed request carries three headers:
//!
//! ```text
//! Content-Digest: sha-256=:<base64 of SHA-256 of the body, empty or not>:
//! Signature-Input: <label>=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<nonce>";keyid="<public key hex>";alg="ecdsa-secp256k1-sha256";tag="<chain id>"
//! Signature: <label>=:<base64 of the 64-byte low-S ECDSA signature r||s>:
//! ```
//!
//! The signature is ECDSA over secp256k1 with SHA-256 of the signature base
//! (RFC 9421 §2.5): one line per covered component, in the order
//! `Signature-Input` lists them, then the `@signature-params` line, joined by
//! `\n` with no newline at the end. The four components must all be covered
//! (in any order); `created`, `nonce`, `keyid` and `tag` are required, `alg`
//! is optional. `docs/api.md` has a worked example whose bytes can be checked.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use phr_ledger::{sha256, KeyError, Keypair, PublicKey, Signature};
use sfv::{BareItem, FieldType, InnerList, Item, ListEntry, Parser};

/// The one algorithm.
pub const ALG: &str = "ecdsa-secp256k1-sha256";
/// The components every signature covers.
pub const COMPONENTS: [&str; 4] = ["@method", "@path", "@query", "content-digest"];

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("{0}")]
    Malformed(String),
    #[error("Content-Digest does not match the body that was sent")]
    DigestMismatch,
    #[error("the signature does not verify: it was not made by keyid over this method, path, query and body")]
    BadSignature,
    #[error("the signature has a high S value; sign with low S")]
    HighS,
}

fn malformed(m: impl Into<String>) -> SchemeError {
    SchemeError::Malformed(m.into())
}

/// The `Content-Digest` value of `body`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(sha256(&[body]).0))
}

/// What a signature covers, as the server saw the request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Upper case, as sent.
    pub method: &'a str,
    /// The path as sent, without the query.
    pub path: &'a str,
    /// The query without its `?`, if any.
    pub query: Option<&'a str>,
    pub content_digest: &'a str,
}

impl Request<'_> {
    fn component(&self, name: &str) -> Option<String> {
        match name {
            "@method" => Some(self.method.to_string()),
            "@path" => Some(if self.path.is_empty() { "/".to_string() } else { self.path.to_string() }),
            "@query" => Some(format!("?{}", self.query.unwrap_or(""))),
            "content-digest" => Some(self.content_digest.to_string()),
            _ => None,
        }
    }
}

/// The signature parameters a client chooses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Unix time in seconds.
    pub created: u64,
    pub nonce: String,
    pub keyid: PublicKey,
    /// The chain id of the network.
    pub tag: String,
}

/// A verified signature: who signed, when, with which nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub key: PublicKey,
    pub created: u64,
    pub nonce: String,
    pub tag: String,
}

/// The three headers of a signed request.
#[derive(Clone, Debug)]
pub struct SignedHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

/// The `Signature-Input` member value (an inner list with parameters) for
/// the standard components and `p`.
fn params_list(p: &Params) -> InnerList {
    let key = |k: &str| sfv::Key::from_string(k.to_string()).expect("a valid key");
    let s = |v: &str| BareItem::String(sfv::String::from_string(v.to_string()).expect("printable ASCII"));
    let mut params = sfv::Parameters::new();
    params.insert(key("created"), BareItem::Integer(sfv::Integer::constant(p.created as i64)));
    params.insert(key("nonce"), s(&p.nonce));
    params.insert(key("keyid"), s(&p.keyid.to_hex()));
    params.insert(key("alg"), s(ALG));
    params.insert(key("tag"), s(&p.tag));
    InnerList { items: COMPONENTS.iter().map(|c| Item::new(s(c))).collect(), params }
}

/// The serialization of an inner list with its parameters (the value of the
/// `@signature-params` line).
fn serialize_inner(il: &InnerList) -> String {
    vec![ListEntry::InnerList(il.clone())].serialize().expect("a non-empty list")
}

/// The signature base (RFC 9421 §2.5) for `req` under the signature
/// parameters `il`.
fn base(req: &Request<'_>, il: &InnerList) -> Result<String, SchemeError> {
    let mut out = String::new();
    for item in &il.items {
        let name = item.bare_item.as_string().ok_or_else(|| malformed("covered components must be strings"))?.as_str();
        if !item.params.is_empty() {
            return Err(malformed(format!("component {name:?} may not have parameters")));
        }
        let value = req.component(name).ok_or_else(|| {
            malformed(format!("component {name:?} is not supported; cover exactly {}", COMPONENTS.join(" ")))
        })?;
        out.push_str(&format!("\"{name}\": {value}\n"));
    }
    out.push_str(&format!("\"@signature-params\": {}", serialize_inner(il)));
    Ok(out)
}

/// The signature base of `req` signed with parameters `p`, as a client
/// builds it.
pub fn signature_base(req: &Request<'_>, p: &Params) -> String {
    base(req, &params_list(p)).expect("the standard components")
}

/// Sign `req` (whose `content_digest` is [`content_digest`] of its body)
/// with `key`: the headers to send, under the label `phr`.
pub fn sign(key: &Keypair, req: &Request<'_>, created: u64, nonce: &str, tag: &str) -> SignedHeaders {
    let p = Params { created, nonce: nonce.to_string(), keyid: key.public_key(), tag: tag.to_string() };
    let il = params_list(&p);
    let sig = key.sign(base(req, &il).expect("the standard components").as_bytes());
    SignedHeaders {
        content_digest: req.content_digest.to_string(),
        signature_input: format!("phr={}", serialize_inner(&il)),
        signature: format!("phr=:{}:", B64.encode(sig.0)),
    }
}

fn string_param<'a>(il: &'a InnerList, name: &str) -> Result<Option<&'a str>, SchemeError> {
    match il.params.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(|s| Some(s.as_str()))
            .ok_or_else(|| malformed(format!("Signature-Input parameter {name} must be a string"))),
    }
}

/// Verify the signature headers of a request against what was received:
/// `req` carries the digest the server computed of the body it read.
/// `content_digest_header` is the `Content-Digest` header as sent.
pub fn verify(
    signature_input: &str,
    signature: &str,
    content_digest_header: Option<&str>,
    req: &Request<'_>,
) -> Result<Verified, SchemeError> {
    let inputs: sfv::Dictionary =
        Parser::new(signature_input).parse().map_err(|e| malformed(format!("Signature-Input: {e}")))?;
    let sigs: sfv::Dictionary = Parser::new(signature).parse().map_err(|e| malformed(format!("Signature: {e}")))?;
    if inputs.len() != 1 || sigs.len() != 1 {
        return Err(malformed("send exactly one signature (one member in Signature-Input and in Signature)"));
    }
    let (label, input) = inputs.iter().next().expect("one member");
    let Some(ListEntry::InnerList(il)) = Some(input) else {
        return Err(malformed("Signature-Input must be an inner list of components with parameters"));
    };
    let sig_bytes = match sigs.get(label.as_str()) {
        Some(ListEntry::Item(i)) => {
            i.bare_item.as_byte_sequence().ok_or_else(|| malformed("Signature must be a byte sequence"))?
        }
        _ => return Err(malformed(format!("Signature has no member {:?} matching Signature-Input", label.as_str()))),
    };
    // Exactly the standard components, each once.
    let mut names: Vec<&str> = il.items.iter().filter_map(|i| i.bare_item.as_string().map(|s| s.as_str())).collect();
    names.sort_unstable();
    let mut want = COMPONENTS.to_vec();
    want.sort_unstable();
    if names != want {
        return Err(malformed(format!("the signature must cover exactly {}", COMPONENTS.join(" "))));
    }
    let created = match il.params.get("created") {
        Some(v) => v
            .as_integer()
            .and_then(|i| u64::try_from(i64::from(i)).ok())
            .ok_or_else(|| malformed("created must be a non-negative integer (Unix seconds)"))?,
        None => return Err(malformed("Signature-Input needs created")),
    };
    let nonce = string_param(il, "nonce")?.ok_or_else(|| malformed("Signature-Input needs nonce"))?;
    if nonce.len() < 8
        || nonce.len() > 128
        || !nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(malformed("nonce must be 8 to 128 characters of A-Z, a-z, 0-9, - and _"));
    }
    let keyid = string_param(il, "keyid")?.ok_or_else(|| malformed("Signature-Input needs keyid"))?;
    let key: PublicKey = keyid
        .parse()
        .map_err(|_| malformed("keyid must be a compressed secp256k1 public key in hex (66 characters)"))?;
    if let Some(alg) = string_param(il, "alg")? {
        if alg != ALG {
            return Err(malformed(format!("alg must be {ALG}")));
        }
    }
    let tag = string_param(il, "tag")?.ok_or_else(|| malformed("Signature-Input needs tag (the chain id)"))?;
    match content_digest_header {
        Some(d) if d == req.content_digest => {}
        Some(_) => return Err(SchemeError::DigestMismatch),
        None => return Err(malformed("a signed request needs Content-Digest")),
    }
    let sig: [u8; 64] = sig_bytes.try_into().map_err(|_| malformed("Signature must hold 64 bytes (r || s)"))?;
    key.verify(base(req, il)?.as_bytes(), &Signature(sig)).map_err(|e| match e {
        KeyError::HighS => SchemeError::HighS,
        _ => SchemeError::BadSignature,
    })?;
    Ok(Verified { key, created, nonce: nonce.to_string(), tag: tag.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(digest: &'a str) -> Request<'a> {
        Request { method: "POST", path: "/v1/query", query: None, content_digest: digest }
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let k = Keypair::generate();
        let body = br#"{"contract":"consent","method":"list","args":{}}"#;
        let d = content_digest(body);
        let h = sign(&k, &req(&d), 1_700_000_000, "n0nce-123", "phr-test");
        let v = verify(&h.signature_input, &h.signature, Some(&h.content_digest), &req(&d)).unwrap();
        assert_eq!(
            (v.key, v.created, v.nonce.as_str(), v.tag.as_str()),
            (k.public_key(), 1_700_000_000, "n0nce-123", "phr-test")
        );

        // Another body: the digest header no longer matches what arrived.
        let other = content_digest(b"{}");
        assert_eq!(
            verify(&h.signature_input, &h.signature, Some(&h.content_digest), &req(&other)),
            Err(SchemeError::DigestMismatch)
        );
        // Another digest header to match another body: the signature does not cover it.
        assert_eq!(
            verify(&h.signature_input, &h.signature, Some(&other), &req(&other)),
            Err(SchemeError::BadSignature)
        );
        // Another path, method or query.
        for r in [
            Request { path: "/v1/txs", ..req(&d) },
            Request { method: "PUT", ..req(&d) },
            Request { query: Some("wait=true"), ..req(&d) },
        ] {
            assert_eq!(verify(&h.signature_input, &h.signature, Some(&d), &r), Err(SchemeError::BadSignature));
        }
        // Another created or nonce in the input.
        let changed = h.signature_input.replace("created=1700000000", "created=1700000001");
        assert_eq!(verify(&changed, &h.signature, Some(&d), &req(&d)), Err(SchemeError::BadSignature));
        // Truncated or garbage headers.
        assert!(matches!(
            verify(&h.signature_input[..20], &h.signature, Some(&d), &req(&d)),
            Err(SchemeError::Malformed(_))
        ));
        assert!(matches!(verify(&h.signature_input, "phr=:AAAA:", Some(&d), &req(&d)), Err(SchemeError::Malformed(_))));
        assert!(matches!(verify(&h.signature_input, &h.signature, None, &req(&d)), Err(SchemeError::Malformed(_))));
    }

    #[test]
    fn components_may_come_in_any_order_but_all_must_be_covered() {
        let k = Keypair::generate();
        let d = content_digest(b"");
        let r = Request { method: "GET", path: "/v1/contracts", query: None, content_digest: &d };
        let input = format!(
            r#"sig1=("content-digest" "@query" "@path" "@method");created=5;nonce="abcdefgh";keyid="{}";tag="c""#,
            k.public_key()
        );
        let il = match &Parser::new(&input).parse::<sfv::Dictionary>().unwrap()["sig1"] {
            ListEntry::InnerList(il) => il.clone(),
            _ => unreachable!(),
        };
        let sig = k.sign(base(&r, &il).unwrap().as_bytes());
        let sig = format!("sig1=:{}:", B64.encode(sig.0));
        assert!(verify(&input, &sig, Some(&d), &r).is_ok());
        let fewer = input.replace(r#" "@query""#, "");
        assert!(matches!(verify(&fewer, &sig, Some(&d), &r), Err(SchemeError::Malformed(_))));
    }
}

#[cfg(test)]
mod worked_example {
    //! The worked example of docs/api.md, checked byte for byte.
    use super::*;

    /// The example's inputs.
    pub(super) fn example() -> (Keypair, &'static [u8], Request<'static>) {
        let key = Keypair::from_secret(&[0x11; 32]).unwrap();
        let body: &'static [u8] =
            br#"{"contract":"consent","method":"list","args":{"patient":"9a1d1e7f9e33b1ae3e6a2d6c31f4a5b3e7d1c0aa"}}"#;
        let digest: &'static str = Box::leak(content_digest(body).into_boxed_str());
        (key, body, Request { method: "POST", path: "/v1/query", query: None, content_digest: digest })
    }

    #[test]
    fn the_worked_example_of_docs_api_md_is_exact() {
        let (key, body, req) = example();
        let (created, nonce, tag) = (1_796_400_000, "Zm9vYmFyLW5vbmNlLTAx", "phr-demo");
        let h = sign(&key, &req, created, nonce, tag);
        let p = Params { created, nonce: nonce.into(), keyid: key.public_key(), tag: tag.into() };
        let base = signature_base(&req, &p);
        let doc = include_str!("../../../../docs/api.md");
        if std::env::var("PHR_PRINT_EXAMPLE").is_ok() {
            println!(
                "secret {}\npublic {}\nbody {}\n",
                hex::encode([0x11; 32]),
                key.public_key(),
                String::from_utf8_lossy(body)
            );
            println!(
                "Content-Digest: {}\nSignature-Input: {}\nSignature: {}\n",
                h.content_digest, h.signature_input, h.signature
            );
            println!("{base}");
        }
        for part in [&h.content_digest, &h.signature_input, &h.signature, &key.public_key().to_hex()] {
            assert!(doc.contains(part.as_str()), "docs/api.md lacks {part}");
        }
        assert!(doc.contains(&base), "docs/api.md lacks the signature base:\n{base}");
        // And what the node does with it.
        assert!(verify(&h.signature_input, &h.signature, Some(&h.content_digest), &req).is_ok());
    }
}
