"""Schemathesis hooks for the PHR Ledger API: every generated request is signed.

Loaded by `check_api.py` (through SCHEMATHESIS_HOOKS), which sets:

    PHR_API_URL  the node, for example https://127.0.0.1:7700
    PHR_API_CA   the network's CA certificate (ca.pem)
    PHR_API_KEY  the key file that signs: an org admin of the node's organisation,
                 a chain reader there, so that every route serves it

Authentication: every request is signed with the RFC 9421 profile of
docs/api.md (phr_sign.py), with a fresh nonce and `created` each time, over the
bytes actually sent. DELETE /v1/session takes a session token instead: a fresh
one is opened for it with a signed POST /v1/session. A case in which
Schemathesis deliberately leaves the credentials out is sent as generated.

Data: random ids and heights almost never name something on the chain, so
path and query parameters that name a transaction, a block, contract code or
an identity are sometimes replaced by real ones, read from the node at load
time; query bodies sometimes name a real contract and method; and transaction
bodies are sometimes signed for real (phr_sign.sign_tx) by the admin or a fresh
key, so that they pass admission, run, and commit with generated arguments.
That way the fuzzer also checks the 200 answers and the receipts against the
description.
"""

from __future__ import annotations

import json
import os
import sys

import requests
import schemathesis
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phr_sign import Signer, canonical_tx, sign_prepared, sign_tx, tx_id  # noqa: E402

URL = os.environ["PHR_API_URL"].rstrip("/")
CA = os.environ["PHR_API_CA"]
KEY = os.environ["PHR_API_KEY"]

# `verify` is given with each request: a session's own is overridden by REQUESTS_CA_BUNDLE.
_http = requests.Session()


def _chain_id() -> str:
    r = _http.get(URL + "/v1/status", verify=CA, timeout=30)
    r.raise_for_status()
    return r.json()["chain_id"]


SIGNER = Signer.from_key_file(KEY, _chain_id())


class PhrAuth(requests.auth.AuthBase):
    """Signs each prepared request; gives DELETE /v1/session a live token."""

    def __call__(self, request):
        if request.method == "DELETE" and request.path_url.split("?")[0] == "/v1/session":
            request.headers.pop("Signature", None)
            request.headers.pop("Signature-Input", None)
            request.headers.pop("Content-Digest", None)
            request.headers["Authorization"] = "Bearer " + _new_token()
            return request
        return sign_prepared(SIGNER, request)


def _signed(method: str, path: str, body: bytes = b"") -> requests.Response:
    req = requests.Request(method, URL + path, data=body or None).prepare()
    sign_prepared(SIGNER, req)
    return _http.send(req, verify=CA, timeout=30)


def _new_token() -> str:
    r = _signed("POST", "/v1/session", b'{"ttl_s":60}')
    r.raise_for_status()
    return r.json()["token"]


schemathesis.auth.set_from_requests(PhrAuth())


def _known() -> dict[str, list[str]]:
    """Heights, transaction ids, code hashes and identity ids on the chain."""
    blocks = _signed("GET", "/v1/blocks?from=0&limit=1000").json()["blocks"]
    heights = [str(b["height"]) for b in blocks]
    txs, ids = [], set()
    for h in heights:
        block = _signed("GET", f"/v1/blocks/{h}?receipts=true").json()
        for t in block["txs"]:
            # phr_sign.py encodes transactions as the node does.
            assert tx_id(t) == t["id"], f"phr_sign.tx_id differs from the node's id {t['id']}"
            txs.append(t["id"])
        for r in block.get("receipts", []):
            for e in r["events"]:
                ids.update(e["topics"])
    code = [c["code_hash"] for c in _signed("GET", "/v1/contracts").json()["contracts"]]
    return {"heights": heights, "txs": txs, "code": code, "topics": sorted(ids)}


KNOWN = _known()
print(
    f"phr hooks: signing as {SIGNER.keyid} on {SIGNER.chain_id}; the chain holds "
    f"{len(KNOWN['heights'])} blocks, {len(KNOWN['txs'])} transactions, {len(KNOWN['topics'])} topics",
    file=sys.stderr,
)


def _or_known(value, known: list[str], convert=str):
    """The generated value, or one of the known ones."""
    if not known:
        return st.just(value)
    return st.one_of(st.just(value), st.sampled_from([convert(k) for k in known]))


def _path(context) -> str:
    return context.operation.path if context.operation is not None else ""


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    path = _path(context)
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    if path in ("/v1/txs/{id}", "/v1/audit/explain/{id}") and "id" in path_parameters:
        return _or_known(path_parameters["id"], KNOWN["txs"]).map(lambda v: {**path_parameters, "id": v})
    if path == "/v1/code/{hash}" and "hash" in path_parameters:
        return _or_known(path_parameters["hash"], KNOWN["code"]).map(lambda v: {**path_parameters, "hash": v})
    if path == "/v1/blocks/{height}" and "height" in path_parameters:
        return _or_known(path_parameters["height"], KNOWN["heights"] + ["latest"]).map(
            lambda v: {**path_parameters, "height": v}
        )
    return st.just(path_parameters)


@schemathesis.hook
def flatmap_query(context, query):
    path = _path(context)
    if not isinstance(query, dict):
        return st.just(query)
    if path in ("/v1/raw/blocks", "/v1/blocks") and isinstance(query.get("from"), int):
        return _or_known(query["from"], KNOWN["heights"], int).map(lambda v: {**query, "from": v})
    if path == "/v1/txs":
        # Wait for the commit (within the default 10 s) to see receipts, and refusals with them.
        return st.one_of(st.just(query), st.just({**query, "wait": "true", "timeout_ms": 10000}))
    if path == "/v1/events" and "topic" in query:
        return _or_known(query["topic"], KNOWN["topics"]).map(lambda v: {**query, "topic": v})
    return st.just(query)


# The read-only methods of each contract (docs/contracts.md): a query with a
# random contract or method name only ever meets 404 or 400.
QUERIES = {
    "identity": ["get", "list"],
    "lifecycle": ["list", "get", "history", "code", "installed"],
    "consent": ["get", "list", "evaluate", "rules"],
    "access-grant": ["get", "list_by_patient", "list_by_requester", "check", "disclosures", "open_reviews"],
    "record-anchor": ["get", "verify", "history", "list_by_patient"],
}
QUERY_METHODS = [(c, m) for c, ms in QUERIES.items() for m in ms]


def _query_args():
    """Arguments that name something on the chain, or none."""
    ids = KNOWN["topics"] or ["0" * 40]
    return st.one_of(
        st.just({}),
        st.builds(lambda p: {"patient": p}, st.sampled_from(ids)),
        st.builds(lambda p: {"id": p}, st.sampled_from(ids)),
    )


# What signed transactions call: random names only ever meet admission's refusals.
INVOKES = {
    "identity": ["enrol_patient", "enrol_practitioner", "set_roles", "revoke", "approve_auditor", "enrol_node"],
    "consent": ["create", "revoke"],
    "access-grant": ["request", "approve", "deny", "revoke", "break_glass", "review", "record_access"],
    "record-anchor": ["anchor", "amend", "dispose"],
}
INVOKE_METHODS = [(c, m) for c, ms in INVOKES.items() for m in ms]
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8,
)


def _signed_tx(body):
    """A transaction the node can admit: signed by the admin or by a fresh key
    (which only identity.enrol_patient admits), calling a real method or the
    generated one, with generated arguments."""
    generated = body.get("body") if isinstance(body, dict) and isinstance(body.get("body"), dict) else {}
    call = st.sampled_from(INVOKE_METHODS)
    if isinstance(generated.get("contract"), str) and isinstance(generated.get("method"), str):
        call = st.one_of(call, st.just((generated["contract"], generated["method"])))
    args = st.one_of(JSON_VALUES.map(json.dumps), st.just("{}"))
    if isinstance(generated.get("args"), str):
        args = st.one_of(args, st.just(generated["args"]))
    signer = st.one_of(
        st.just(SIGNER),
        st.integers(1, SECP256K1_ORDER - 1).map(lambda k: Signer(f"{k:064x}", SIGNER.chain_id)),
    )
    return st.builds(
        lambda who, c, a, nonce, expiry: sign_tx(who, c[0], c[1], a, nonce, expiry),
        signer,
        call,
        args,
        st.integers(0, 2**64 - 1),
        st.one_of(st.just(2**64 - 1), st.integers(0, 2**64 - 1)),
    )


@schemathesis.hook
def flatmap_body(context, body):
    if _path(context) == "/v1/txs":
        # Mostly signed for real: a generated signature never verifies.
        if isinstance(body, (bytes, bytearray)):
            return st.one_of(_signed_tx({}).map(canonical_tx), st.just(body))
        if isinstance(body, dict):
            return st.one_of(_signed_tx(body), st.just(body))
        return st.just(body)
    if _path(context) != "/v1/query" or not isinstance(body, dict):
        return st.just(body)
    real = st.tuples(st.sampled_from(QUERY_METHODS), st.one_of(st.just(body.get("args")), _query_args())).map(
        lambda t: {**body, "contract": t[0][0], "method": t[0][1], "args": t[1]}
    )
    return st.one_of(st.just(body), real)
