// Checks the page's signing code (web/js/phr.js) byte for byte:
//
// 1. the worked example of docs/api.md "Signed requests" (read from the doc itself):
//    Content-Digest, Signature-Input, the signature base and the Signature;
// 2. key files: the example key's id and public key, a key file round trip, and the
//    refusal of files that are not `phr keygen` key files;
// 3. transactions (docs/encoding.md): fixed transactions signed with the example key
//    give the signature, canonical bytes and id of the second implementation in
//    tests/api/phr_sign.py (Python `ecdsa`, vectors below), verify with noble's verify,
//    are low-S, and their JSON keeps a u64 nonce above 2^53 exact;
// 4. optionally, against a running node (`PHR_NODE=http://127.0.0.1:7700`, or an https
//    URL with `NODE_EXTRA_CA_CERTS=<network>/ca.pem`): a fresh key enrols as a patient
//    with a transaction signed here, the node's receipt names the id computed here, and a
//    signed `POST /v1/session` is accepted by the node's verifier (host/node/src/auth).
//
// Run: `node tests/web/sign_check.mjs` (Node.js 20). Exits non-zero on any mismatch.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  Identity, Client, signRequest, signatureBase, signatureParams, contentDigest, txSigningBytes, txId, signTx,
  canonicalSignedTx, signedTxJson, verifySignature, toHex, fromHex, utf8,
} from '../../web/js/phr.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let failures = 0;
let checks = 0;
function check(what, got, want) {
  checks += 1;
  if (got === want) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}\n     got:  ${got}\n     want: ${want}`);
  }
}

// ---------------------------------------------------------------------------
// 1. The worked example, as docs/api.md gives it.

const api = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
const section = api.slice(api.indexOf('### Worked example'));
const http = /```http\n([\s\S]*?)```/.exec(section)[1];
const header = (name) => new RegExp(`^${name}: (.*)$`, 'm').exec(http)[1];
const docBody = http.trimEnd().split('\n').pop();
const docBase = /```text\n([\s\S]*?)\n```/.exec(section)[1];
const docKeyid = /public key\s+`([0-9a-f]{66})`/.exec(section)[1];
const [, docChain, docCreated, docNonce] = /chain\s+`([^`]+)` at `created=(\d+)` with the nonce `([^`]+)`/.exec(section);

const example = await Identity.fromSecret('11'.repeat(32));
check('example public key', example.publicKey, docKeyid);
const statedLen = /exactly the (\d+) bytes/.exec(section);
if (statedLen && Number(statedLen[1]) !== utf8(docBody).length) {
  // Not a signing mismatch (the digest and signature below cover the body): the prose is off.
  console.log(`WARN docs/api.md says the body is ${statedLen[1]} bytes; it is ${utf8(docBody).length}`);
}
const headers = await signRequest(example, {
  method: 'POST', path: '/v1/query', query: '', body: utf8(docBody), chainId: docChain, created: Number(docCreated), nonce: docNonce,
});
check('Content-Digest', headers['Content-Digest'], header('Content-Digest'));
check('Signature-Input', headers['Signature-Input'], header('Signature-Input'));
const params = headers['Signature-Input'].replace(/^phr=/, '');
const base = signatureBase({ method: 'POST', path: '/v1/query', query: '', digest: headers['Content-Digest'], params });
check('signature base', base, docBase);
check('Signature', headers.Signature, header('Signature'));
check('empty body digest', await contentDigest(new Uint8Array(0)), 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
let refused = false;
try { signatureParams({ created: 1, nonce: 'short', keyid: docKeyid, tag: 'x' }); } catch (e) { refused = true; }
check('a nonce under 8 characters is refused', refused, true);

// ---------------------------------------------------------------------------
// 2. Key files.

const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', fromHex(docKeyid)));
check('identity id = first 20 bytes of SHA-256(public key)', example.id, toHex(sha.slice(0, 20)));
const fresh = await Identity.generate('test');
const back = await Identity.fromKeyFile(fresh.keyFileText());
check('key file round trip (id)', back.id, fresh.id);
check('key file round trip (public key)', back.publicKey, fresh.publicKey);
const kf = JSON.parse(fresh.keyFileText());
check('key file fields, in phr keygen order', Object.keys(kf).join(','), 'kind,label,id,public_key,secret_key');
check('key file kind', kf.kind, 'phr-secp256k1-key');
check('the identity does not expose its secret in JSON', JSON.stringify(fresh).includes(kf.secret_key), false);
for (const [what, text] of [
  ['not JSON', 'hello'],
  ['another kind', JSON.stringify({ ...kf, kind: 'ssh-key' })],
  ['a mismatched id', JSON.stringify({ ...kf, id: '00'.repeat(20) })],
  ['a mismatched public key', JSON.stringify({ ...kf, public_key: example.publicKey })],
  ['a short secret', JSON.stringify({ ...kf, secret_key: 'ab' })],
]) {
  let err = null;
  try { await Identity.fromKeyFile(text); } catch (e) { err = e; }
  check(`a key file with ${what} is refused`, err instanceof Error, true);
}

// ---------------------------------------------------------------------------
// 3. Transactions: vectors from tests/api/phr_sign.py (Python `ecdsa`, RFC 6979,
//    canonical low S), signed with the example key.

const VECTORS = [
  {
    body: {
      chain_id: 'phr-demo', contract: 'consent', method: 'create',
      args: '{"patient":"9a1d1e7f9e33b1ae3e6a2d6c31f4a5b3e7d1c0aa","decision":"permit","note":"café ✓"}',
      nonce: 18446744073709551615n, expiry_height: 112n, signer: docKeyid,
    },
    signature: 'c13fece6dd59d1afcedfcf947c436d05720622c5d69e96c011472cc84412d94629d8e91116548b55b1da886e848e0b4747765fa8a707e211a0591f8e6ba18f50',
    id: '0895395083d1c5904d4cb4cc86393a0edd578676b1f13bac3c5988f52ecd4540',
    canonical: '01080000007068722d64656d6f07000000636f6e73656e74060000006372656174655d0000007b2270617469656e74223a2239613164316537663965333362316165336536613264366333316634613562336537643163306161222c226465636973696f6e223a227065726d6974222c226e6f7465223a22636166c3a920e29c93227dffffffffffffffff7000000000000000034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aac13fece6dd59d1afcedfcf947c436d05720622c5d69e96c011472cc84412d94629d8e91116548b55b1da886e848e0b4747765fa8a707e211a0591f8e6ba18f50',
  },
  {
    body: {
      chain_id: 'phr-demo', contract: 'identity', method: 'enrol_patient', args: '{}',
      nonce: 8391650283746512345n, expiry_height: 5n, signer: docKeyid,
    },
    signature: 'f4dc7af5c4b14ee41c1727598fd0003fd51dc91916d4692b1214a4b6a6f37c172073815ee8e6b91214ccc08b250d3ea7b50e551bf0d1b442804ab7a2234e9588',
    id: '3f78ad27b354fadba90c3b9853952fb508b85c4dfce11a72eb2ccfcf9e2fafad',
  },
];
const N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
for (const [i, v] of VECTORS.entries()) {
  const t = await signTx(example, v.body);
  check(`tx ${i}: signature (as phr_sign.py)`, toHex(t.signature), v.signature);
  check(`tx ${i}: id (as phr_sign.py)`, t.id, v.id);
  check(`tx ${i}: id recomputed`, await txId(v.body, fromHex(v.signature)), v.id);
  if (v.canonical) check(`tx ${i}: canonical bytes`, toHex(canonicalSignedTx(v.body, t.signature)), v.canonical);
  check(`tx ${i}: verifies (noble, low-S only)`, await verifySignature(t.signature, txSigningBytes(v.body), example.publicKeyBytes), true);
  check(`tx ${i}: s is low`, BigInt(`0x${toHex(t.signature.slice(32))}`) <= N_HALF, true);
  const parsed = JSON.parse(t.json);
  check(`tx ${i}: JSON args kept byte for byte`, parsed.body.args, v.body.args);
  check(`tx ${i}: JSON nonce is a bare integer, exact`, /"nonce":(\d+),/.exec(t.json)[1], v.body.nonce.toString());
  check(`tx ${i}: JSON has exactly the fields of SignedTx`, `${Object.keys(parsed)}|${Object.keys(parsed.body)}`,
    'body,signature|chain_id,contract,method,args,nonce,expiry_height,signer');
  check(`tx ${i}: signedTxJson is deterministic`, signedTxJson(v.body, t.signature), t.json);
}
let tampered = false;
{
  const t = await signTx(example, VECTORS[1].body);
  const other = { ...VECTORS[1].body, nonce: 1n };
  tampered = await verifySignature(t.signature, txSigningBytes(other), example.publicKeyBytes);
}
check('a changed nonce breaks the signature', tampered, false);

// ---------------------------------------------------------------------------
// 4. Against a running node, if one is named.

if (process.env.PHR_NODE) {
  const node = process.env.PHR_NODE;
  const me = await Identity.generate('sign-check');
  const client = new Client(me, node);
  let seenId = null;
  const receipt = await client.tx('identity', 'enrol_patient', {}, { onStage: (s, info) => { if (s === 'submitted') seenId = info; } });
  check('node: enrol_patient signed here is committed ok', receipt.status, 'ok');
  check('node: the receipt names the tx id computed here', receipt.tx_id, seenId);
  check('node: the enrolled id is the id computed here', receipt.result && receipt.result.id, me.id);
  const who = await client.whoami();
  check('node: a signed POST /v1/session is accepted (caller kind)', who.caller && who.caller.kind, 'patient');
  check('node: the session names the id computed here', who.id, me.id);
  const q = await client.query('consent', 'list', { patient: me.id });
  check('node: a signed query with a body is accepted', Array.isArray(q.consents), true);
  await client.endSession();
}

console.log(`\n${checks - failures}/${checks} checks passed`);
if (failures) {
  console.log(`${failures} mismatch(es): the page's signing code differs from the specification`);
  process.exit(1);
}
