"""Signing PHR Ledger API requests in Python: a second, independent implementation
of the request signature scheme of docs/api.md ("Signed requests").

The node's implementation is host/node/src/auth/scheme.rs. This one is written
from the document alone, with the PyPI package `ecdsa` for secp256k1 and
hashlib for SHA-256, to show that a client in another language can sign
requests from the description.

A signed request carries three headers (HTTP Message Signatures, RFC 9421):

    Content-Digest:  sha-256=:<base64 of SHA-256 of the body, empty or not>:
    Signature-Input: phr=("@method" "@path" "@query" "content-digest");created=<unix s>;
                     nonce="<nonce>";keyid="<public key hex>";alg="ecdsa-secp256k1-sha256";tag="<chain id>"
    Signature:       phr=:<base64 of the 64-byte low-S ECDSA signature r || s>:

(Signature-Input is one line.) The signature is ECDSA over secp256k1 with
SHA-256 of the signature base: one line per covered component, then the
`@signature-params` line, joined by LF with no LF at the end.

Use:

    signer = Signer.from_key_file("net/keys/stmarys-admin.key", chain_id)
    headers = signer.sign("POST", "https://127.0.0.1:7700/v1/query", body)
    requests.post(url, data=body, headers={**headers, "Content-Type": "application/json"})

or, with requests, `auth=PhrAuth(signer)` to sign every prepared request.
`sign_tx` and `canonical_tx` make transactions for POST /v1/txs (docs/encoding.md).

`python phr_sign.py` checks the worked example of docs/api.md byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import struct
import time
from urllib.parse import urlsplit

from ecdsa import SECP256k1, SigningKey
from ecdsa.util import sigencode_string_canonize

ALG = "ecdsa-secp256k1-sha256"
LABEL = "phr"
# The components every signature covers, in the order this client lists them.
COMPONENTS = ("@method", "@path", "@query", "content-digest")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def content_digest(body: bytes) -> str:
    """The Content-Digest header value of `body` (RFC 9530, sha-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def signature_params(created: int, nonce: str, keyid: str, tag: str) -> str:
    """The Signature-Input member value: the covered components and the parameters,
    serialized as an RFC 8941 inner list."""
    if not NONCE_RE.match(nonce):
        raise ValueError("nonce must be 8 to 128 characters of A-Z, a-z, 0-9, - and _")
    components = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({components});created={created};nonce="{nonce}";keyid="{keyid}";alg="{ALG}";tag="{tag}"'


def signature_base(method: str, path: str, query: str | None, digest: str, params: str) -> str:
    """The signature base (RFC 9421 section 2.5) of a request.

    `path` is the path as sent (without the query), `query` the query string as
    sent without its `?` (None or "" when there is none).
    """
    values = {
        "@method": method.upper(),
        "@path": path or "/",
        "@query": "?" + (query or ""),
        "content-digest": digest,
    }
    lines = [f'"{c}": {values[c]}' for c in COMPONENTS]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines)


def fresh_nonce() -> str:
    """A random nonce: 24 characters of the URL-safe base64 alphabet."""
    return secrets.token_urlsafe(18)


class Signer:
    """Signs requests with one secp256k1 key for one chain."""

    def __init__(self, secret_key_hex: str, chain_id: str):
        self.key = SigningKey.from_string(bytes.fromhex(secret_key_hex), curve=SECP256k1)
        self.chain_id = chain_id
        # The 33-byte compressed public key, in lowercase hex (66 characters).
        self.keyid = self.key.get_verifying_key().to_string("compressed").hex()

    @classmethod
    def from_key_file(cls, path: str, chain_id: str) -> "Signer":
        """A signer from a `phr` key file (JSON with `secret_key` in hex)."""
        with open(path, encoding="utf-8") as f:
            key = json.load(f)
        signer = cls(key["secret_key"], chain_id)
        if key.get("public_key") and key["public_key"] != signer.keyid:
            raise ValueError(f"{path}: public_key does not match secret_key")
        return signer

    def signature_of(self, message: bytes) -> bytes:
        """ECDSA over SHA-256 of `message`: r || s, 64 bytes, s in the lower half
        of the curve order. RFC 6979 makes it deterministic."""
        return self.key.sign_deterministic(message, hashfunc=hashlib.sha256, sigencode=sigencode_string_canonize)

    def signature(self, base: str) -> bytes:
        """The signature of a request's signature base."""
        return self.signature_of(base.encode("utf-8"))

    def sign(
        self,
        method: str,
        url: str,
        body: bytes | None = b"",
        created: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The three headers that sign `method url` with `body`.

        `url` may be a full URL or a path with its query, exactly as it will be
        sent. A fresh nonce and the current time are used unless given.
        """
        parts = urlsplit(url)
        digest = content_digest(body or b"")
        params = signature_params(
            int(time.time()) if created is None else created,
            fresh_nonce() if nonce is None else nonce,
            self.keyid,
            self.chain_id,
        )
        base = signature_base(method, parts.path, parts.query, digest, params)
        sig = base64.b64encode(self.signature(base)).decode("ascii")
        return {
            "Content-Digest": digest,
            "Signature-Input": f"{LABEL}={params}",
            "Signature": f"{LABEL}=:{sig}:",
        }


# Transactions (docs/encoding.md, "Transactions"): the signature covers the Borsh
# encoding of the body; the id is the digest of the whole signed transaction.
ENCODING_VERSION = b"\x01"
TX_SIGNATURE_DOMAIN = b"phr/tx-signature/v1\x00"
TX_ID_DOMAIN = b"phr/tx/v1\x00"


def _borsh_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def borsh_tx_body(body: dict) -> bytes:
    """Borsh of TxBody: chain_id, contract, method, args (strings), nonce,
    expiry_height (u64 little-endian), signer (33 bytes)."""
    return (
        _borsh_string(body["chain_id"])
        + _borsh_string(body["contract"])
        + _borsh_string(body["method"])
        + _borsh_string(body["args"])
        + struct.pack("<QQ", body["nonce"], body["expiry_height"])
        + bytes.fromhex(body["signer"])
    )


def canonical_tx(tx: dict) -> bytes:
    """canonical(SignedTx) = 0x01 || borsh(body) || signature (64 bytes): what
    POST /v1/txs takes as application/octet-stream."""
    return ENCODING_VERSION + borsh_tx_body(tx["body"]) + bytes.fromhex(tx["signature"])


def tx_id(tx: dict) -> str:
    """The transaction id: SHA-256("phr/tx/v1" || 0x00 || canonical(tx)), in hex."""
    return hashlib.sha256(TX_ID_DOMAIN + canonical_tx(tx)).hexdigest()


def sign_tx(signer: Signer, contract: str, method: str, args: str, nonce: int, expiry_height: int) -> dict:
    """A signed transaction, as the JSON object POST /v1/txs takes. `args` is
    JSON text, signed byte for byte."""
    body = {
        "chain_id": signer.chain_id,
        "contract": contract,
        "method": method,
        "args": args,
        "nonce": nonce,
        "expiry_height": expiry_height,
        "signer": signer.keyid,
    }
    sig = signer.signature_of(TX_SIGNATURE_DOMAIN + ENCODING_VERSION + borsh_tx_body(body))
    return {"body": body, "signature": sig.hex()}


def sign_prepared(signer: Signer, request):
    """Sign a `requests.PreparedRequest` in place (and return it).

    A text body is encoded as UTF-8 first, so that the digest covers the bytes
    sent. A session token (Authorization) is dropped: a request carries a
    signature or a token, not both.
    """
    body = request.body
    if isinstance(body, str):
        body = body.encode("utf-8")
        request.body = body
        request.headers["Content-Length"] = str(len(body))
    elif body is not None and not isinstance(body, bytes):
        raise TypeError("only bytes or text bodies can be signed (not a stream)")
    request.headers.pop("Authorization", None)
    request.headers.update(signer.sign(request.method, request.url, body or b""))
    return request


try:
    import requests.auth

    class PhrAuth(requests.auth.AuthBase):
        """`requests` authentication that signs every request with `signer`."""

        def __init__(self, signer: Signer):
            self.signer = signer

        def __call__(self, request):
            return sign_prepared(self.signer, request)

except ImportError:  # requests is only needed for PhrAuth
    pass


# The worked example of docs/api.md ("Worked example").
EXAMPLE = {
    "secret_key": "11" * 32,
    "keyid": "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa",
    "chain_id": "phr-demo",
    "created": 1796400000,
    "nonce": "Zm9vYmFyLW5vbmNlLTAx",
    "body": b'{"contract":"consent","method":"list","args":{"patient":"9a1d1e7f9e33b1ae3e6a2d6c31f4a5b3e7d1c0aa"}}',
    "Content-Digest": "sha-256=:xpvH9rk9CV8fUdFs1Kv6Fa6RtpRuJQfya2G1OIyGzrU=:",
    "Signature": "phr=:1naFDpEepn4nrgVrwPJLH9sk9ngOYmqSsO0Awpzb+UVatcLDr8qnP89cnkZ1MELAkQ/aJzx3Z4LpkuA6ppWvDg==:",
}


def check_worked_example(api_md: str | None = None) -> None:
    """Sign the worked example and compare with the bytes of docs/api.md."""
    e = EXAMPLE
    signer = Signer(e["secret_key"], e["chain_id"])
    assert signer.keyid == e["keyid"], signer.keyid
    h = signer.sign("POST", "/v1/query", e["body"], created=e["created"], nonce=e["nonce"])
    assert h["Content-Digest"] == e["Content-Digest"], h
    assert h["Signature"] == e["Signature"], h
    if api_md is not None:
        params = h["Signature-Input"].split("=", 1)[1]
        base = signature_base("POST", "/v1/query", None, h["Content-Digest"], params)
        for part in (h["Content-Digest"], h["Signature-Input"], h["Signature"], base):
            assert part in api_md, f"docs/api.md lacks {part!r}"


if __name__ == "__main__":
    import os
    import sys

    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "api.md")
    with open(doc, encoding="utf-8") as f:
        check_worked_example(f.read())
    print("phr_sign: the worked example of docs/api.md is reproduced byte for byte", file=sys.stderr)
