/**
 * The page's client library for a PHR Ledger node (issue 12): keys, signed requests,
 * transactions, the event stream and record fetches, in the browser (and in Node.js 20
 * for tests). It speaks the node's API exactly as docs/api.md and docs/encoding.md
 * describe it:
 *
 * - `Identity`: a secp256k1 key from a `phr keygen` key file (or a new one). The secret
 *   stays in a private field of the object: it is never sent and never stored.
 * - Signed requests (docs/api.md "Signed requests", RFC 9421 in one profile):
 *   `signRequest` builds `Content-Digest`, `Signature-Input` and `Signature`; it is pure
 *   given `created` and `nonce`, so `tests/web/sign_check.mjs` checks it against the
 *   worked example byte for byte.
 * - Transactions (docs/encoding.md "Transactions"): `txSigningBytes` is
 *   `"phr/tx-signature/v1" || 0x00 || 0x01 || borsh(TxBody)`, `txId` the digest of the
 *   canonical signed transaction.
 * - `Client`: status, session (`whoami`), JSON GET/POST, queries, transactions waited
 *   for until committed, the server-sent event stream read with `fetch`, and record
 *   fetches checked against the anchored SHA-256.
 *
 * ECDSA: `@noble/secp256k1` (vendored, web/vendor/), RFC 6979 deterministic and low-S,
 * over SHA-256 of the message (WebCrypto), 64 bytes r || s, as the node's k256 signs.
 */

import * as secp from '../vendor/noble-secp256k1.js';

// ---------------------------------------------------------------------------
// Bytes, hex, base64, SHA-256.

const enc = new TextEncoder();

/** UTF-8 bytes of a string (refusing lone surrogates, which would not round-trip). */
export function utf8(s) {
  if (typeof s.isWellFormed === 'function' && !s.isWellFormed()) {
    throw new Error('text with an unpaired surrogate cannot be signed');
  }
  return enc.encode(s);
}

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error('not hex');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** SHA-256 with WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

// ---------------------------------------------------------------------------
// Keys.

const KEY_KIND = 'phr-secp256k1-key';
const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX66 = /^0[23][0-9a-f]{64}$/;

/** The identity id of a compressed public key: the first 20 bytes of its SHA-256, hex. */
export async function identityId(publicKeyBytes) {
  return toHex((await sha256(publicKeyBytes)).slice(0, 20));
}

/**
 * A person's key. The secret lives only in the private field `#secret`; the object
 * signs with it and writes it back out only as the key file (`keyFileText`), for a key
 * the user has just created.
 */
export class Identity {
  #secret;
  #public;
  #id;
  #label;

  constructor(secret, pub, id, label, token) {
    if (token !== Identity.#token) throw new Error('use Identity.fromKeyFile, Identity.generate or Identity.fromSecret');
    this.#secret = secret;
    this.#public = pub;
    this.#id = id;
    this.#label = label;
  }

  static #token = Symbol('identity');

  /** From a 32-byte secret (bytes or 64 hex characters). */
  static async fromSecret(secret, label = '') {
    const bytes = typeof secret === 'string' ? fromHex(secret) : new Uint8Array(secret);
    if (bytes.length !== 32) throw new Error('a secret key is 32 bytes');
    let pub;
    try {
      pub = secp.getPublicKey(bytes, true);
    } catch (e) {
      throw new Error('the secret key is not a valid secp256k1 key');
    }
    return new Identity(bytes, pub, await identityId(pub), label, Identity.#token);
  }

  /** A new random key. */
  static async generate(label = '') {
    const u = secp.utils;
    const secret = typeof u.randomSecretKey === 'function' ? u.randomSecretKey() : u.randomPrivateKey();
    return Identity.fromSecret(secret, label);
  }

  /**
   * From the text of a key file as `phr keygen --out` writes it:
   * `{"kind": "phr-secp256k1-key", "label", "id", "public_key", "secret_key"}`.
   * Anything else is refused with an Error saying what is wrong.
   */
  static async fromKeyFile(text) {
    let f;
    try {
      f = JSON.parse(String(text).replace(/^\uFEFF/, ''));
    } catch (e) {
      throw new Error('This is not a key file: it is not JSON. Choose the file `phr keygen` wrote (or that this page made).');
    }
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw new Error('This is not a key file: it is not a JSON object.');
    if (f.kind !== KEY_KIND) {
      throw new Error(`This is not a PHR key file: its "kind" is ${JSON.stringify(f.kind ?? null)}, expected "${KEY_KIND}".`);
    }
    const sk = typeof f.secret_key === 'string' ? f.secret_key.toLowerCase() : '';
    if (!HEX64.test(sk)) throw new Error('The key file\'s "secret_key" is not 64 hex characters.');
    if (typeof f.public_key !== 'string' || !HEX66.test(f.public_key.toLowerCase())) {
      throw new Error('The key file\'s "public_key" is not a compressed public key (66 hex characters).');
    }
    if (typeof f.id !== 'string' || !HEX40.test(f.id.toLowerCase())) {
      throw new Error('The key file\'s "id" is not an identity id (40 hex characters).');
    }
    const label = typeof f.label === 'string' ? f.label : '';
    const me = await Identity.fromSecret(sk, label);
    if (me.publicKey !== f.public_key.toLowerCase() || me.id !== f.id.toLowerCase()) {
      throw new Error('The key file is damaged: its public_key or id does not match its secret_key.');
    }
    return me;
  }

  /** The key file (the same JSON as `phr keygen` writes), to download and keep. */
  keyFileText() {
    const f = { kind: KEY_KIND, label: this.#label, id: this.#id, public_key: this.publicKey, secret_key: toHex(this.#secret) };
    return `${JSON.stringify(f, null, 2)}\n`;
  }

  /** Compressed public key, 66 lowercase hex. */
  get publicKey() { return toHex(this.#public); }
  /** The 33 bytes of the compressed public key (a copy). */
  get publicKeyBytes() { return this.#public.slice(); }
  /** Identity id, 40 lowercase hex. */
  get id() { return this.#id; }
  get label() { return this.#label; }

  /** ECDSA (RFC 6979, low-S) over SHA-256(message): the 64 bytes r || s. */
  async sign(message) {
    const digest = await sha256(message);
    const sig = await secp.signAsync(digest, this.#secret, { prehash: false, lowS: true });
    return sig instanceof Uint8Array ? sig : sig.toCompactRawBytes();
  }

  toJSON() { return { id: this.#id, public_key: this.publicKey }; }
}

/** Verify a 64-byte low-S signature over SHA-256(message) (used by the tests). */
export async function verifySignature(sig, message, publicKeyBytes) {
  return secp.verifyAsync(sig, await sha256(message), publicKeyBytes, { prehash: false, lowS: true });
}

// ---------------------------------------------------------------------------
// Signed requests (docs/api.md "Signed requests").

export const SIG_ALG = 'ecdsa-secp256k1-sha256';
const COMPONENTS = '("@method" "@path" "@query" "content-digest")';

/** `sha-256=:<base64>:` of the body (RFC 9530). */
export async function contentDigest(body) {
  return `sha-256=:${toBase64(await sha256(body || new Uint8Array(0)))}:`;
}

/** The `Signature-Input` member value (without the `phr=` label). */
export function signatureParams({ created, nonce, keyid, tag }) {
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(nonce)) throw new Error('a nonce is 8 to 128 characters of A-Z a-z 0-9 - _');
  if (!/^[\x20-\x7e]*$/.test(tag) || /["\\]/.test(tag)) throw new Error('the chain id must be printable ASCII');
  return `${COMPONENTS};created=${created};nonce="${nonce}";keyid="${keyid}";alg="${SIG_ALG}";tag="${tag}"`;
}

/** The signature base (RFC 9421 §2.5): five lines, no final newline. */
export function signatureBase({ method, path, query, digest, params }) {
  return [
    `"@method": ${method.toUpperCase()}`,
    `"@path": ${path || '/'}`,
    `"@query": ?${query || ''}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ].join('\n');
}

/** A fresh request nonce: 16 random bytes, base64url without padding (22 characters). */
export function freshNonce() {
  return toBase64(randomBytes(16)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The three headers of a signed request. `path` is the path as sent (percent-encoded,
 * without the query), `query` the query string as sent without its `?` ('' for none),
 * `body` the exact bytes sent. `created` (Unix seconds) and `nonce` are chosen here
 * unless given (the tests give them).
 */
export async function signRequest(identity, { method, path, query = '', body, chainId, created, nonce }) {
  const digest = await contentDigest(body);
  const params = signatureParams({
    created: created ?? Math.floor(Date.now() / 1000),
    nonce: nonce ?? freshNonce(),
    keyid: identity.publicKey,
    tag: chainId,
  });
  const base = signatureBase({ method, path, query, digest, params });
  const sig = await identity.sign(utf8(base));
  return {
    'Content-Digest': digest,
    'Signature-Input': `phr=${params}`,
    Signature: `phr=:${toBase64(sig)}:`,
  };
}

// ---------------------------------------------------------------------------
// Transactions (docs/encoding.md "Transactions").

function borshString(s) {
  const b = utf8(s);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, b.length, true);
  return concat(len, b);
}

function borshU64(v) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return out;
}

/** borsh(TxBody): chain_id, contract, method, args, nonce, expiry_height, signer. */
export function borshTxBody(body) {
  const signer = fromHex(body.signer);
  if (signer.length !== 33) throw new Error('signer must be a 33-byte compressed public key');
  return concat(
    borshString(body.chain_id), borshString(body.contract), borshString(body.method), borshString(body.args),
    borshU64(body.nonce), borshU64(body.expiry_height), signer,
  );
}

/** What a transaction's signer signs: "phr/tx-signature/v1" || 0x00 || 0x01 || borsh(body). */
export function txSigningBytes(body) {
  return concat(utf8('phr/tx-signature/v1'), Uint8Array.of(0, 1), borshTxBody(body));
}

/** canonical(SignedTx) = 0x01 || borsh(body) || signature (64 bytes). */
export function canonicalSignedTx(body, signature) {
  return concat(Uint8Array.of(1), borshTxBody(body), signature);
}

/** The transaction id: SHA-256("phr/tx/v1" || 0x00 || canonical(signed tx)), hex. */
export async function txId(body, signature) {
  return toHex(await sha256(concat(utf8('phr/tx/v1'), Uint8Array.of(0), canonicalSignedTx(body, signature))));
}

/**
 * The JSON text of a signed transaction, written by hand so that the u64 nonce (a
 * BigInt) is a bare integer, and `args` is the exact text that was signed.
 */
export function signedTxJson(body, signature) {
  const q = JSON.stringify;
  return `{"body":{"chain_id":${q(body.chain_id)},"contract":${q(body.contract)},"method":${q(body.method)},`
    + `"args":${q(body.args)},"nonce":${BigInt.asUintN(64, BigInt(body.nonce)).toString()},`
    + `"expiry_height":${BigInt(body.expiry_height).toString()},"signer":${q(body.signer)}},"signature":${q(toHex(signature))}}`;
}

/** Sign a transaction body: `{body, signature, id, json}`. */
export async function signTx(identity, body) {
  if (body.signer !== identity.publicKey) throw new Error('the body\'s signer is not this key');
  const signature = await identity.sign(txSigningBytes(body));
  return { body, signature, id: await txId(body, signature), json: signedTxJson(body, signature) };
}

/** A random u64 nonce, as a BigInt. */
export function randomU64() {
  return crypto.getRandomValues(new BigUint64Array(1))[0];
}

// ---------------------------------------------------------------------------
// Errors.

const CODE_WORDS = {
  unauthenticated: 'Not accepted as signed in',
  forbidden: 'Not allowed',
  unauthorized: 'Not allowed',
  denied: 'Refused',
  'not-found': 'Not found',
  conflict: 'Conflict',
  'bad-request': 'Not accepted',
  malformed: 'Not accepted',
  'rate-limited': 'Too many requests',
  'no-quorum': 'The network cannot commit now',
  unavailable: 'The network cannot commit now',
  busy: 'The node is busy',
  timeout: 'The node took too long',
  gone: 'Gone',
  'unknown-signer': 'This key is not enrolled',
  'revoked-signer': 'This key was revoked',
  expired: 'Expired',
  'out-of-fuel': 'Failed',
  trapped: 'Failed',
  invalid: 'Not executed',
  network: 'Could not reach the node',
};

/** An answer of the node that is not a success, in plain words. */
export class ApiError extends Error {
  /**
   * @param status HTTP status (0 when the node could not be reached)
   * @param code the node's or contract's stable code
   * @param detail the node's message for people
   * @param body the whole JSON body (`receipt`, `disclosure_tx`, `tx_id`, `retry_after_s`…)
   */
  constructor(status, code, detail, body = null) {
    const words = CODE_WORDS[code] || (status >= 500 ? 'The node could not do it' : 'Not accepted');
    super(detail ? `${words}: ${detail}` : words);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body;
  }
}

async function errorFrom(res) {
  let body = null;
  let text = '';
  try {
    text = await res.text();
    body = JSON.parse(text);
  } catch (e) { /* not JSON */ }
  let code = `http-${res.status}`;
  let message = text.slice(0, 300) || res.statusText;
  if (body && body.error && typeof body.error === 'object') {
    code = body.error.code || code;
    message = body.error.message || message;
  } else if (body && body.resourceType === 'OperationOutcome' && Array.isArray(body.issue)) {
    code = (body.issue[0] && body.issue[0].code) || code;
    message = body.issue.map((i) => i.diagnostics || (i.details && i.details.text) || i.code).join('; ');
  }
  if (res.status === 429 && body && body.retry_after_s) message = `${message} (try again in ${body.retry_after_s} s)`;
  return new ApiError(res.status, code, message, body);
}

function receiptError(receipt, httpStatus = 422) {
  const code = receipt.status === 'rejected' ? receipt.code : receipt.status;
  const message = receipt.message || receipt.reason
    || (receipt.status === 'out-of-fuel' ? 'the call used all the fuel of a transaction' : receipt.status);
  return new ApiError(httpStatus, code, message, { receipt });
}

// ---------------------------------------------------------------------------
// The client.

/** Routes the node counts as heavy (at most two at once per caller). */
const HEAVY = [/^\/v1\/query$/, /^\/fhir\/(?!metadata|Binary)/, /^\/v1\/blocks/, /^\/v1\/raw\//, /^\/v1\/audit\//];

/** A counting semaphore. */
class Slots {
  constructor(n) { this.free = n; this.waiting = []; }
  async take() {
    if (this.free > 0) { this.free -= 1; return; }
    await new Promise((r) => this.waiting.push(r));
  }
  give() {
    const next = this.waiting.shift();
    if (next) next(); else this.free += 1;
  }
}

export class Client {
  #identity;
  #base;
  #chainId = null;
  #offsetS = 0;
  #token = null;
  #heavy = new Slots(2);

  /**
   * @param identity the signer (an `Identity`), or null for anonymous requests
   * @param base the node's origin (default: the page's)
   */
  constructor(identity, base = globalThis.location ? globalThis.location.origin : 'http://127.0.0.1:7700') {
    this.#identity = identity || null;
    this.#base = String(base).replace(/\/+$/, '');
  }

  get identity() { return this.#identity; }
  get base() { return this.#base; }

  /** The chain id (from `GET /v1/status`, cached). */
  async chainId() {
    if (!this.#chainId) await this.status();
    return this.#chainId;
  }

  /**
   * Send one request, signed when there is an identity (and `sign` is not false), with
   * retries after 429 (nothing was acted on). Returns the Response, whatever its status.
   */
  async #send(method, path, { body = null, contentType = null, headers = {}, signal, sign = true, retries = 4 } = {}) {
    const url = new URL(path, `${this.#base}/`);
    const bytes = body == null ? new Uint8Array(0) : (typeof body === 'string' ? utf8(body) : new Uint8Array(body));
    const heavy = HEAVY.some((r) => r.test(url.pathname));
    if (heavy) await this.#heavy.take();
    try {
      for (let attempt = 0; ; attempt++) {
        const h = { ...headers };
        if (contentType) h['Content-Type'] = contentType;
        if (this.#identity && sign) {
          Object.assign(h, await signRequest(this.#identity, {
            method,
            path: url.pathname,
            query: url.search.replace(/^\?/, ''),
            body: bytes,
            chainId: await this.chainId(),
            created: Math.floor(Date.now() / 1000) + this.#offsetS,
          }));
        }
        let res;
        try {
          res = await fetch(url.href, {
            method,
            headers: h,
            body: method === 'GET' || method === 'HEAD' ? undefined : bytes,
            signal,
            cache: 'no-store',
            credentials: 'omit',
          });
        } catch (e) {
          if (signal && signal.aborted) throw e;
          throw new ApiError(0, 'network', `${e.message || e} (${this.#base})`);
        }
        if (res.status === 429 && attempt < retries) {
          const s = Number(res.headers.get('Retry-After')) || 1;
          await res.body?.cancel().catch(() => {});
          await sleep(1000 * Math.min(Math.max(s, 1), 10), signal);
          continue;
        }
        return res;
      }
    } finally {
      if (heavy) this.#heavy.give();
    }
  }

  async #json(method, path, opts) {
    const res = await this.#send(method, path, opts);
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    return type.includes('json') ? res.json() : res.text();
  }

  /** `GET /v1/status` (public, unsigned). Also learns the chain id and the node's clock. */
  async status() {
    const res = await this.#send('GET', '/v1/status', { sign: false });
    if (!res.ok) throw await errorFrom(res);
    const date = Date.parse(res.headers.get('Date') || '');
    if (Number.isFinite(date)) {
      const off = Math.round((date - Date.now()) / 1000);
      this.#offsetS = Math.abs(off) > 5 ? off : 0;
    }
    const s = await res.json();
    this.#chainId = s.chain_id;
    return s;
  }

  /**
   * Who the node takes this key for: `POST /v1/session` (signed). Returns its body,
   * `{token, expires_at_ms, id, caller: {kind, org, roles, …}}`. A key not enrolled is
   * 401 `unauthenticated`.
   */
  async whoami() {
    const r = await this.#json('POST', '/v1/session', { body: '', contentType: null });
    this.#token = r && r.token;
    return r;
  }

  /** End the session token `whoami` opened (best effort). */
  async endSession() {
    const token = this.#token;
    this.#token = null;
    if (!token) return;
    try {
      await this.#send('DELETE', '/v1/session', { sign: false, headers: { Authorization: `Bearer ${token}` } });
    } catch (e) { /* it expires anyway */ }
  }

  /** GET a JSON (or text) document; throws ApiError. */
  get(path) { return this.#json('GET', path); }

  /** POST a JSON body; the parsed answer; throws ApiError. */
  post(path, bodyObj) {
    return this.#json('POST', path, { body: JSON.stringify(bodyObj ?? {}), contentType: 'application/json' });
  }

  /** Any request, signed: the Response whatever its status (429 retried). */
  raw(method, path, bodyBytes = null, contentType = null) {
    return this.#send(method.toUpperCase(), path, { body: bodyBytes, contentType });
  }

  /** `POST /v1/query`: `{result, height, fuel_used}`. */
  queryFull(contract, method, args = {}) {
    return this.post('/v1/query', { contract, method, args });
  }

  /** `POST /v1/query`: the method's result. */
  async query(contract, method, args = {}) {
    return (await this.queryFull(contract, method, args)).result;
  }

  /**
   * Sign and submit a transaction, wait until it is committed, and return its receipt.
   * A receipt whose status is not `ok` (or a refusal at admission) throws ApiError.
   * `onStage(stage, info)` is told `signing`, `submitted` (info: the tx id) and
   * `committed` (info: the receipt).
   */
  async tx(contract, method, args = {}, { onStage, ttl = 100, timeoutMs = 60000 } = {}) {
    if (!this.#identity) throw new Error('sign in first');
    const stage = (s, i) => { try { if (onStage) onStage(s, i); } catch (e) { /* ignore */ } };
    stage('signing');
    const status = await this.status();
    const body = {
      chain_id: status.chain_id,
      contract,
      method,
      args: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
      nonce: randomU64(),
      expiry_height: BigInt(status.height) + BigInt(ttl),
      signer: this.#identity.publicKey,
    };
    const signed = await signTx(this.#identity, body);
    stage('submitted', signed.id);
    const res = await this.#send('POST', '/v1/txs?wait=true&timeout_ms=30000', { body: signed.json, contentType: 'application/json' });
    let receipt;
    if (res.status === 200) {
      receipt = await res.json();
    } else if (res.status === 202) {
      receipt = await this.#poll(signed.id, timeoutMs);
    } else {
      const err = await errorFrom(res);
      if (err.body && err.body.receipt) err.receipt = err.body.receipt;
      throw err;
    }
    if (receipt.status !== 'ok') throw receiptError(receipt);
    stage('committed', receipt);
    return receipt;
  }

  async #poll(id, timeoutMs) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      await sleep(1000);
      const res = await this.#send('GET', `/v1/txs/${id}`);
      if (res.status === 200) return res.json();
      if (res.status !== 202) throw await errorFrom(res);
      await res.body?.cancel().catch(() => {});
    }
    throw new ApiError(202, 'pending', `transaction ${id.slice(0, 12)}… is not committed yet; it may still commit`, { tx_id: id });
  }

  /**
   * Follow `GET /v1/events?topic=…` (server-sent events, read with fetch, signed).
   * `onEvent(data, {event, id})` gets each event's parsed `data` (`name`, `payload`,
   * `height`, `tx_id`, …); a `lagged` warning comes as `{name: 'lagged', missed}`.
   * Reconnects after errors, resuming after the last event (Last-Event-ID).
   * Options: `fromHeight` (replay from there first), `onError(err)`, `onOpen()`.
   */
  events(topic, onEvent, { fromHeight, onError, onOpen } = {}) {
    let closed = false;
    let ctrl = null;
    let lastId = null;
    const report = (e) => { try { if (onError) onError(e); } catch (x) { /* ignore */ } };
    const run = async () => {
      for (let attempt = 0; !closed; attempt++) {
        ctrl = new AbortController();
        try {
          const q = new URLSearchParams();
          if (topic) q.set('topic', topic);
          if (lastId === null && fromHeight != null) q.set('from_height', String(fromHeight));
          const qs = q.toString();
          const headers = { Accept: 'text/event-stream' };
          if (lastId) headers['Last-Event-ID'] = lastId;
          const res = await this.#send('GET', `/v1/events${qs ? `?${qs}` : ''}`, { headers, signal: ctrl.signal });
          if (!res.ok) {
            const err = await errorFrom(res);
            if ([400, 403, 404].includes(res.status)) { report(err); return; }
            throw err;
          }
          attempt = 0;
          if (onOpen) onOpen();
          await readSse(res.body, ctrl.signal, (frame) => {
            if (frame.id) lastId = frame.id;
            let data = frame.data;
            try { data = JSON.parse(frame.data); } catch (e) { /* text */ }
            if (data && typeof data === 'object' && !data.name) data.name = frame.event;
            try { onEvent(data, frame); } catch (e) { console.error(e); }
          });
        } catch (e) {
          if (closed) return;
          report(e);
        }
        if (closed) return;
        await sleep(Math.min(15000, 1000 * 2 ** Math.min(attempt, 4)), ctrl.signal);
      }
    };
    run();
    return { close() { closed = true; if (ctrl) ctrl.abort(); } };
  }

  /**
   * A record's content through the gateway: `GET /v1/records/{id}?purpose=…` (signed, so
   * that a node may forward it to the holder). The bytes' SHA-256 is checked against the
   * anchored digest the node sends (`ETag`, `Repr-Digest`) and against `expectSha256` (the
   * anchor as read from the chain) when given; a difference throws.
   * Returns `{bytes, mediaType, sha256, version, disclosureTx, servedBy}`.
   */
  async fetchRecord(recordId, purpose = 'TREAT', { expectSha256 } = {}) {
    const path = `/v1/records/${encodeURIComponent(recordId)}?purpose=${encodeURIComponent(purpose)}`;
    const res = await this.#send('GET', path);
    if (!res.ok) throw await errorFrom(res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const got = toHex(await sha256(bytes));
    const etag = (res.headers.get('ETag') || '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    const repr = /sha-256=:([A-Za-z0-9+/=]+):/.exec(res.headers.get('Repr-Digest') || '');
    const claims = [];
    if (HEX64.test(etag)) claims.push(['the anchored SHA-256 the node sent (ETag)', etag]);
    if (repr) claims.push(['the Repr-Digest the node sent', toHex(fromBase64(repr[1]))]);
    if (expectSha256) claims.push(['the SHA-256 anchored on chain', String(expectSha256).toLowerCase()]);
    if (!claims.length) throw new Error('The node sent no anchored SHA-256 to check the content against; it is not shown.');
    for (const [what, want] of claims) {
      if (want !== got) {
        throw new Error(`The content does not match ${what}: expected ${want}, got ${got}. It is not shown.`);
      }
    }
    const version = Number(res.headers.get('X-Phr-Record-Version'));
    return {
      bytes,
      mediaType: (res.headers.get('Content-Type') || 'application/octet-stream').split(';')[0].trim(),
      sha256: got,
      version: Number.isFinite(version) && version > 0 ? version : null,
      disclosureTx: res.headers.get('X-Phr-Disclosure-Tx'),
      servedBy: res.headers.get('X-Phr-Served-By'),
    };
  }
}

/** Read a server-sent event stream, calling `onFrame({event, id, data})` per event. */
async function readSse(stream, signal, onFrame) {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let frame = { event: 'message', id: null, data: [] };
  const line = (l) => {
    if (l === '') {
      if (frame.data.length) onFrame({ event: frame.event, id: frame.id, data: frame.data.join('\n') });
      frame = { event: 'message', id: null, data: [] };
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data.push(value);
    else if (field === 'id') frame.id = value;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      // Lines end with \n, \r\n or \r; a \r at the end of a chunk may be half of \r\n.
      let m;
      const re = /\r\n|\n|\r(?!$)/g;
      let start = 0;
      while ((m = re.exec(buf)) !== null) {
        line(buf.slice(start, m.index));
        start = m.index + m[0].length;
      }
      buf = buf.slice(start);
      if (signal && signal.aborted) return;
    }
  } finally {
    reader.releaseLock();
  }
}
