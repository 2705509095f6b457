/**
 * The auditor view (issue 12, docs/web.md "The auditor view").
 *
 * For auditors, and for an organisation's admins as far as this node lets them
 * read the chain (chain routes serve auditors and the admins of the node's own
 * organisation; docs/api.md "Who may call what"):
 *
 * - **Chain**: the newest blocks (`GET /v1/blocks`, paged), and one block's
 *   transactions with their receipts (`GET /v1/blocks/{h}?receipts=true`); each
 *   transaction has "Explain".
 * - **Explain a transaction**: `GET /v1/audit/explain/{tx id}` — the transaction run
 *   again at its exact pre-state — in words (caller, contract and method, what
 *   decided, events, fuel, whether it matches the committed receipt), with the raw
 *   JSON in a `<details>`. Shown in `#explanation`.
 * - **Contracts**: `GET /v1/contracts` and each contract's code history
 *   (`lifecycle.history`).
 * - **Network**: this node's `GET /v1/status` — the Raft group's members with a
 *   status word each, the leader, term, height and whether the node can commit —
 *   refreshed every 10 s.
 * - **Accounting of disclosures**: a patient's `access-grant.disclosures` (every
 *   page) in `#auditor-disclosures`, with downloads as CSV and as FHIR JSON (the
 *   `GET /fhir/AuditEvent` Bundle, following its `next` links, merged into one).
 *   An auditor's read is itself recorded on chain, and the page says so.
 *
 * Requests go one at a time (queries, block reads, explain and FHIR searches count
 * against the node's limit of two heavy requests per caller) and are retried after a
 * 429. Data is put into the page as text only (CSP `default-src 'self'`).
 */

import * as ui from '../ui.js';
import {
  h, clear, nextId, fmtTime, short, dataTable, scroller, field, fieldError, announcer, plain, makeQueue,
  purposeWords, HEX40,
} from './kit.js';

const json = (v) => JSON.stringify(v, null, 2);
const download = ui.download;

/** A `<dl>` of [term, description] pairs (pairs with an undefined description are left out). */
function dl(pairs) {
  return h('dl', { class: 'v-dl' }, pairs.filter((p) => p && p[1] !== undefined).map(([t, d]) => [h('dt', {}, t), h('dd', {}, d ?? '—')]));
}

// ---------------------------------------------------------------------------
// Words for the chain's codes.

const AUTH_WORDS = {
  consent: 'Consent',
  'patient-approval': 'Patient\'s approval',
  'break-glass': 'Break-glass (emergency)',
  audit: 'Audit (an auditor\'s read)',
  patient: 'The patient themself',
  author: 'The record\'s author',
  none: 'Nothing: refused',
};

/** A receipt's or an explanation's status, in words. */
function statusWords(s, r) {
  const st = s && typeof s === 'object' ? s : { status: s, code: r && r.code, message: r && r.message, reason: r && r.reason };
  switch (st.status) {
    case 'ok': return 'OK';
    case 'rejected': return `Rejected by the contract (${st.code}): ${st.message}`;
    case 'out-of-fuel': return 'Failed: used all the fuel of a transaction';
    case 'trapped': return `Failed: trapped (${st.reason})`;
    case 'invalid': return `Not executed: invalid (${st.reason})`;
    default: return st.status || '—';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------
// The view.

export async function render(container, ctx) {
  const { client } = ctx;
  const caller = (ctx.whoami && ctx.whoami.caller) || {};
  const isAuditor = caller.kind === 'auditor';
  const q = makeQueue(client);

  const root = h('div', { class: 'v-view v-auditor' });
  clear(container).append(root);
  root.append(h('p', { class: 'v-intro' }, isAuditor
    ? 'Signed in as an auditor. You read the whole chain; every read of a patient\'s data is itself recorded on chain.'
    : `Signed in as an administrator of ${caller.org || 'an organisation'}: this node shows its chain to the admins of its own organisation and to auditors.`));

  const explain = explainSection(root, ctx, q);
  const chain = chainSection(root, ctx, q, explain);
  const contracts = contractsSection(root, ctx, q);
  const network = networkSection(root, ctx, client);
  disclosuresSection(root, ctx, q, isAuditor);
  // The chain first on the page, then the explanation.
  root.insertBefore(chain.section, explain.section);

  const timer = setInterval(() => {
    if (!root.isConnected) { clearInterval(timer); return; }
    if (!document.hidden) network.reload();
  }, 10_000);

  await network.reload();
  await chain.latest();
  await contracts.reload();
}

// --- Chain -------------------------------------------------------------------

function chainSection(root, ctx, q, explain) {
  const headingId = nextId('h');
  const PAGE = 10;
  const list = h('div', { class: 'v-results' });
  const detail = h('div', { class: 'v-detail', hidden: true });
  const newer = h('button', { type: 'button', on: { click: () => page(shown.to + 1) } }, 'Newer blocks');
  const older = h('button', { type: 'button', on: { click: () => page(Math.max(0, shown.from - PAGE)) } }, 'Older blocks');
  const latestBtn = h('button', { type: 'button', on: { click: () => latest() } }, 'Latest blocks');
  const section = h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Chain'),
    h('p', {}, 'The blocks as this node holds them, newest first. Choose a block to see its transactions and their receipts.'),
    h('div', { class: 'v-actions', role: 'group', 'aria-label': 'Pages of blocks' }, latestBtn, newer, older),
    list, detail);
  root.append(section);
  const shown = { from: 0, to: -1, tip: -1 };

  async function load(path) {
    try {
      const r = await q.get(path);
      const blocks = (r.blocks || []).slice().sort((a, b) => b.height - a.height);
      shown.tip = r.height;
      shown.to = blocks.length ? blocks[0].height : -1;
      shown.from = blocks.length ? blocks[blocks.length - 1].height : 0;
      newer.disabled = shown.to >= shown.tip;
      older.disabled = shown.from <= 0;
      clear(list);
      list.append(h('p', {}, blocks.length
        ? `Blocks ${shown.from} to ${shown.to} of a chain at height ${r.height}.`
        : `No blocks here (the chain is at height ${r.height}).`));
      if (blocks.length) {
        list.append(dataTable({
          caption: `Blocks ${shown.from} to ${shown.to}`,
          columns: [
            {
              label: 'Block',
              render: (b) => h('button', {
                type: 'button', class: 'v-small', 'aria-label': `Show block ${b.height}`,
                on: { click: () => block(b.height) },
              }, String(b.height)),
            },
            { label: 'Time', render: (b) => fmtTime(b.time_ms) },
            { label: 'Transactions', render: (b) => String(b.tx_count) },
            { label: 'Proposer', render: (b) => b.proposer },
            { label: 'Hash', render: (b) => h('code', {}, short(b.hash)) },
          ],
          rows: blocks,
          rowAttrs: (b) => ({ 'data-height': b.height }),
        }));
      }
    } catch (e) {
      newer.disabled = true;
      older.disabled = true;
      clear(list).append(h('p', { class: 'v-error' }, `Could not read the blocks: ${plain(e)}`));
    }
  }

  const latest = () => load(`/v1/blocks?limit=${PAGE}`);
  const page = (from) => load(`/v1/blocks?from=${from}&limit=${PAGE}`);

  async function block(height) {
    clear(detail);
    detail.hidden = false;
    const title = h('h3', { tabindex: '-1' }, `Block ${height}`);
    detail.append(title, h('p', {}, 'Loading…'));
    title.focus();
    let b;
    try {
      b = await q.get(`/v1/blocks/${height}?receipts=true`);
    } catch (e) {
      detail.lastChild.remove();
      detail.append(h('p', { class: 'v-error' }, `Could not read block ${height}: ${plain(e)}`));
      return;
    }
    detail.lastChild.remove();
    const hd = b.header || {};
    detail.append(dl([
      ['Hash', h('code', { class: 'v-wrap' }, b.hash)],
      ['Previous block', h('code', { class: 'v-wrap' }, hd.prev_hash || '—')],
      ['Time', fmtTime(hd.time_ms)],
      ['Proposer', hd.proposer],
      ['Transactions', String(hd.tx_count ?? (b.txs || []).length)],
      ['State root before it', h('code', { class: 'v-wrap' }, hd.prev_state_root || '—')],
    ]));
    const receipts = new Map((b.receipts || []).map((r) => [r.tx_id, r]));
    const txs = (b.txs || []).map((t, i) => ({ ...t, index: i, receipt: receipts.get(t.id) }));
    if (!txs.length) {
      detail.append(h('p', {}, 'No transactions in this block.'));
      return;
    }
    detail.append(dataTable({
      caption: `Transactions of block ${height}`,
      columns: [
        { label: '#', render: (t) => String(t.index) },
        { label: 'Call', render: (t) => `${t.body.contract}.${t.body.method}` },
        { label: 'Transaction', render: (t) => h('code', {}, short(t.id)) },
        { label: 'Signer', render: (t) => h('code', {}, short(t.body.signer)) },
        { label: 'Receipt', render: (t) => (t.receipt ? statusWords(t.receipt.status, t.receipt) : '—') },
        { label: 'Fuel', render: (t) => (t.receipt ? Number(t.receipt.fuel_used).toLocaleString('en') : '—') },
        {
          label: 'Events',
          render: (t) => (t.receipt && t.receipt.events && t.receipt.events.length
            ? t.receipt.events.map((e) => e.name).join(', ') : 'none'),
        },
        {
          label: 'Explain',
          render: (t) => h('button', {
            type: 'button', class: 'v-small', 'aria-label': `Explain transaction ${short(t.id)}`,
            on: { click: () => explain.show(t.id) },
          }, 'Explain'),
        },
      ],
      rows: txs,
      rowAttrs: (t) => ({ 'data-tx': t.id }),
    }));
    detail.append(h('details', { class: 'v-details' },
      h('summary', {}, `Block ${height} as JSON`),
      scroller(h('pre', { class: 'v-content' }, json(b)), `Block ${height} as JSON`)));
  }

  return { section, latest, block };
}

// --- Explain a transaction ---------------------------------------------------

function explainSection(root, ctx, q) {
  const say = announcer(ctx);
  const headingId = nextId('h');
  const input = h('input', { type: 'text', name: 'tx', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: '64', class: 'v-mono' });
  const out = h('div', { id: 'explanation', class: 'v-detail' });
  const form = h('form', { class: 'v-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); show(input.value); } } },
    field('Transaction id', input, '64 characters, 0-9 and a-f.'),
    h('div', { class: 'v-actions' }, h('button', { type: 'submit' }, 'Explain')));
  const section = h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Explain a transaction'),
    h('p', {}, 'The node runs a committed transaction again at its exact pre-state, with the code that served it then, '
      + 'and compares what it computes with the committed receipt.'),
    form, out);
  root.append(section);

  async function show(raw) {
    const id = String(raw || '').trim().toLowerCase();
    input.value = id;
    if (!fieldError(input, HEX64.test(id) ? null : 'A transaction id is 64 characters, 0-9 and a-f.')) {
      say('Check the transaction id: 64 characters, 0-9 and a-f.', 'error');
      input.focus();
      return;
    }
    fieldError(input, null);
    say(`Explaining transaction ${id}…`, 'info');
    clear(out).append(h('p', {}, 'Running it again…'));
    let e;
    try {
      e = await q.get(`/v1/audit/explain/${id}`);
    } catch (err) {
      clear(out).append(h('p', { class: 'v-error' }, `Could not explain ${id}: ${plain(err)}`));
      say(`Failed: explaining ${short(id)}: ${plain(err)}`, 'error');
      return;
    }
    clear(out).append(explanation(e));
    say(`Transaction ${short(id)} explained: ${e.matches ? 'it matches the committed receipt' : 'it DIFFERS from the committed receipt'}.`, e.matches ? 'ok' : 'error');
    const title = out.querySelector('h3');
    if (title) title.focus();
  }

  return { section, show: (id) => { section.scrollIntoView({ block: 'start' }); return show(id); } };
}

function explanation(e) {
  const frag = document.createDocumentFragment();
  const c = e.caller || {};
  frag.append(h('h3', { tabindex: '-1' }, `Transaction ${short(e.tx_id)}: ${e.contract}.${e.method}`));
  frag.append(e.matches
    ? h('p', { class: 'v-ok' }, h('strong', {}, '✓ Matches. '),
      'Run again, it gives the committed receipt field for field: status, code, fuel, result, events, reads and writes.')
    : h('div', { class: 'v-error' }, h('p', {}, h('strong', {}, '✗ Differs. '), 'Run again, it does not give the committed receipt:'),
      h('ul', {}, (e.differences || []).map((d) => h('li', {}, d)))));
  const roles = (c.roles || []).join(', ');
  frag.append(dl([
    ['Transaction', h('code', { class: 'v-wrap' }, e.tx_id)],
    ['Block', `${e.height}, transaction ${e.tx_index}, at ${fmtTime(e.block_time_ms)}, proposed by ${e.proposer}`],
    ['Caller', [h('code', { class: 'v-wrap' }, e.signer), ` — ${c.kind || 'unknown'}${c.org ? ` of ${c.org}` : ''}${roles ? `, roles ${roles}` : ''}`]],
    ['Contract and method', `${e.contract}.${e.method}`],
    ['Code that ran', h('code', { class: 'v-wrap' }, e.code_hash)],
    ['Outcome', statusWords(e.status)],
    ['Decided by', e.decided_by ? decision(e.decided_by) : 'Nothing in the result records a decision.'],
    ['Fuel used', Number(e.fuel_used).toLocaleString('en')],
  ]));
  frag.append(h('h4', {}, 'Arguments'), scroller(h('pre', { class: 'v-content' }, json(e.args)), 'Arguments'));
  frag.append(h('h4', {}, 'Result'), scroller(h('pre', { class: 'v-content' }, json(e.result)), 'Result'));
  const events = e.events || [];
  frag.append(h('h4', {}, `Events (${events.length})`));
  if (events.length) {
    frag.append(h('ul', { class: 'v-list' }, events.map((ev) => h('li', {},
      h('strong', {}, ev.name || '—'), ` from ${ev.contract || e.contract}, about `,
      (ev.topics || []).map((t, i) => [i ? ', ' : '', h('code', {}, t.length > 20 ? short(t) : t)])))));
  } else {
    frag.append(h('p', {}, 'None.'));
  }
  const keyOf = (r) => r.key_text || `0x${short(r.key)}`;
  frag.append(h('details', { class: 'v-details' },
    h('summary', {}, `Reads (${(e.reads || []).length}) and writes (${(e.writes || []).length})`),
    dataTable({
      caption: 'Keys read, with the version seen',
      columns: [
        { label: 'Namespace', key: 'namespace' },
        { label: 'Key', render: (r) => h('code', { class: 'v-wrap' }, keyOf(r)) },
        { label: 'Version', render: (r) => (r.version ? `block ${r.version[0]}, tx ${r.version[1]}` : 'absent') },
        { label: 'Value SHA-256', render: (r) => h('code', {}, short(r.value_sha256)) },
      ],
      rows: e.reads || [],
    }),
    dataTable({
      caption: 'Keys written',
      columns: [
        { label: 'Namespace', key: 'namespace' },
        { label: 'Key', render: (r) => h('code', { class: 'v-wrap' }, keyOf(r)) },
        { label: 'Value SHA-256', render: (r) => (r.value_sha256 ? h('code', {}, short(r.value_sha256)) : 'deleted') },
      ],
      rows: e.writes || [],
    })));
  frag.append(h('details', { class: 'v-details' },
    h('summary', {}, 'The explanation as JSON'),
    scroller(h('pre', { class: 'v-content' }, json(e)), 'The explanation as JSON')));
  return frag;
}

/** `decided_by` in words. */
function decision(d) {
  const items = [];
  const a = d.authorization;
  if (a && typeof a === 'object') {
    let s = AUTH_WORDS[a.kind] || a.kind;
    if (a.consent_id) s += `: ${a.consent_id}`;
    if (a.provision !== null && a.provision !== undefined) s += `, provision ${a.provision}`;
    if (a.access_id) s += ` (access ${a.access_id})`;
    items.push(`Authorisation: ${s}`);
  }
  if (d.decision) items.push(`Decision: ${d.decision}${d.basis ? ` (basis: ${d.basis})` : ''}`);
  if (d.consent_id && !(a && a.consent_id)) items.push(`Consent: ${d.consent_id}${d.provision !== null && d.provision !== undefined ? `, provision ${d.provision}` : ''}`);
  if (d.break_glass !== undefined) items.push(`Break-glass: ${d.break_glass ? 'yes' : 'no'}`);
  if (d.decision_reason) items.push(`Reason: ${d.decision_reason}`);
  if (d.reason) items.push(`Reason: ${d.reason}`);
  return items.length ? h('ul', { class: 'v-list' }, items.map((i) => h('li', {}, i))) : json(d);
}

// --- Contracts ---------------------------------------------------------------

function contractsSection(root, ctx, q) {
  const headingId = nextId('h');
  const list = h('div', { class: 'v-results' });
  const histories = h('div', { class: 'v-results' });
  root.append(h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Contracts'),
    h('p', {}, 'The code serving each contract, and where it was committed. An upgrade needs the approval of a majority '
      + 'of the organisations; from the next transaction on, every node runs the new code.'),
    list, histories));

  async function reload() {
    let r;
    try {
      r = await q.get('/v1/contracts');
    } catch (e) {
      clear(list).append(h('p', { class: 'v-error' }, `Could not read the contracts: ${plain(e)}`));
      return;
    }
    const contracts = r.contracts || [];
    clear(list).append(dataTable({
      caption: 'Contracts on chain',
      columns: [
        { label: 'Contract', key: 'name' },
        { label: 'Serving code', render: (c) => h('code', {}, short(c.code_hash)) },
        { label: 'Version', render: (c) => `sequence ${c.sequence}` },
        { label: 'Live since', render: (c) => liveSince(c.committed_at) },
        { label: 'Replaced', render: (c) => (c.previous_code_hash ? h('code', {}, short(c.previous_code_hash)) : 'nothing (first version)') },
        { label: 'Approved by', render: (c) => approvals(c.approvals) },
        { label: 'Migrated', render: (c) => (c.migrated ? 'yes' : 'no') },
      ],
      rows: contracts,
    }));
    if (r.system && r.system.length) {
      list.append(h('p', {}, `Built into every node: ${r.system.join(', ')}.`));
    }
    clear(histories);
    for (const c of contracts) {
      const box = h('div', { class: 'v-history' }, h('h3', {}, `Code history of ${c.name}`), h('p', {}, 'Loading…'));
      histories.append(box);
    }
    let i = 0;
    for (const c of contracts) {
      const box = histories.children[i++];
      try {
        const hist = await q.query('lifecycle', 'history', { name: c.name, limit: 100 });
        box.lastChild.remove();
        box.append(history(c.name, hist));
      } catch (e) {
        box.lastChild.remove();
        box.append(h('p', { class: 'v-error' }, `Could not read its history: ${plain(e)}`));
      }
    }
  }

  return { reload };
}

function liveSince(at) {
  if (!at) return '—';
  return at.height === 0 ? 'the genesis' : `block ${at.height}, transaction ${at.tx_index}`;
}

function approvals(list) {
  if (!list || !list.length) return 'the genesis';
  return list.map((a) => a.org).join(', ');
}

function history(name, hist) {
  const versions = (hist && hist.versions) || [];
  const frag = document.createDocumentFragment();
  frag.append(dataTable({
    caption: `Versions of ${name}, newest first`,
    columns: [
      { label: 'Sequence', render: (v) => String(v.sequence) },
      { label: 'Code', render: (v) => h('code', {}, short(v.code_hash)) },
      { label: 'Serves from', render: (v) => liveSince(v.committed_at) },
      { label: 'Committed in', render: (v) => (v.committed_tx ? h('code', {}, short(v.committed_tx)) : 'the genesis') },
      { label: 'Replaced', render: (v) => (v.previous_code_hash ? h('code', {}, short(v.previous_code_hash)) : '—') },
      { label: 'Approved by', render: (v) => approvals(v.approvals) },
      { label: 'Migrated', render: (v) => (v.migrated ? 'yes' : 'no') },
    ],
    rows: versions,
  }));
  const pending = (hist && hist.pending) || [];
  frag.append(h('p', {}, pending.length
    ? `Waiting to be committed: ${pending.map((p) => `${p.org} approved code ${short(p.code_hash)} as sequence ${p.sequence}`).join('; ')}.`
    : 'No upgrade is waiting for approval.'));
  return frag;
}

// --- Network -----------------------------------------------------------------

function networkSection(root, ctx, client) {
  const headingId = nextId('h');
  const body = h('div', { class: 'v-results' });
  const refresh = h('button', { type: 'button', on: { click: () => reload() } }, 'Refresh the network');
  root.append(h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Network'),
    h('p', {}, 'The nodes of the network as this node sees them (refreshed every 10 seconds).'),
    h('div', { class: 'v-actions' }, refresh),
    body));

  let busy = false;
  async function reload() {
    if (busy) return;
    busy = true;
    try {
      const s = await client.status();
      draw(s);
    } catch (e) {
      clear(body).append(h('p', { class: 'v-error' }, `Could not read this node's status: ${plain(e)}`));
    } finally {
      busy = false;
    }
  }

  function draw(s) {
    const raft = s.raft || {};
    const self = s.node_id;
    const halted = s.halted || raft.halted;
    const obstacle = s.commit_obstacle;
    const members = [
      ...(raft.voters || []).map((n) => ({ node: n, member: 'voter' })),
      ...(raft.learners || []).map((n) => ({ node: n, member: 'learner' })),
    ];
    if (self && !members.some((m) => m.node === self)) members.push({ node: self, member: 'not a member' });
    const word = (m) => {
      if (m.node === self) {
        if (halted) return 'Halted';
        if (obstacle) return 'Cannot commit';
        return 'Healthy';
      }
      if (m.node === raft.leader) return obstacle ? 'Unknown' : 'Leading';
      if (obstacle) return 'Unknown';
      return m.member === 'learner' ? 'Catching up or following' : 'In the group';
    };
    const role = (m) => {
      const r = m.node === raft.leader ? 'leader' : m.member === 'learner' ? 'learner' : m.member === 'voter' ? 'follower (voter)' : m.member;
      return m.node === self ? `${r}; this node (${raft.role || '—'})` : r;
    };
    clear(body);
    body.append(h('p', { class: obstacle || halted ? 'v-error' : 'v-ok' },
      h('strong', {}, halted ? 'Halted. ' : obstacle ? 'Cannot commit now. ' : 'Committing. '),
      halted ? `This node stopped applying blocks: ${halted}`
        : obstacle ? obstacle
          : `A leader (${raft.leader || '—'}) is elected and a majority of the voters reach each other.`));
    body.append(dataTable({
      caption: 'Nodes',
      columns: [
        { label: 'Node', render: (m) => m.node },
        { label: 'Role', render: role },
        { label: 'Status', render: (m) => h('span', { class: `v-badge v-${word(m).toLowerCase().replace(/[^a-z]+/g, '-')}` }, word(m)) },
      ],
      rows: members,
      rowAttrs: (m) => ({ 'data-node': m.node }),
    }));
    body.append(dl([
      ['This node', `${self} (phr ${s.version || '—'}), up for ${duration(s.uptime_s)}`],
      ['Chain', s.chain_id],
      ['Height', `${s.height}, last block at ${fmtTime(s.last_block_time_ms)}`],
      ['Last block', h('code', { class: 'v-wrap' }, s.last_block_hash || '—')],
      ['State root', h('code', { class: 'v-wrap' }, s.state_root || '—')],
      ['Raft', `term ${raft.term ?? '—'}, log ${raft.last_log_index ?? '—'}, applied ${raft.last_applied_index ?? '—'}, snapshot ${raft.snapshot_index ?? 'none'}`],
      ['Waiting transactions', String(s.mempool_txs ?? 0)],
      raft.millis_since_quorum_ack !== null && raft.millis_since_quorum_ack !== undefined
        ? ['Majority last acknowledged', `${raft.millis_since_quorum_ack} ms ago`] : null,
    ]));
    body.append(h('p', { class: 'v-hint' },
      'Each node reports its own health at its own address (GET /v1/status); "In the group" means the node is a member '
      + 'while this node can commit, which needs a majority of the voters.'));
  }

  return { reload };
}

function duration(s) {
  if (s === null || s === undefined) return '—';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

// --- Accounting of disclosures ----------------------------------------------

const CSV_COLUMNS = [
  ['recorded_at', (d) => new Date(d.recorded_at_ms).toISOString()],
  ['recorded_at_ms', (d) => d.recorded_at_ms],
  ['tx_id', (d) => d.tx_id],
  ['patient', (d) => d.patient],
  ['agent_id', (d) => d.agent && d.agent.id],
  ['agent_org', (d) => d.agent && d.agent.org],
  ['agent_role', (d) => d.agent && d.agent.role],
  ['record_id', (d) => d.record_id],
  ['data_class', (d) => d.data_class],
  ['security_label', (d) => d.security_label],
  ['action', (d) => d.action],
  ['purpose', (d) => d.purpose],
  ['authorization_kind', (d) => d.authorization && d.authorization.kind],
  ['access_id', (d) => d.authorization && d.authorization.access_id],
  ['consent_id', (d) => d.authorization && d.authorization.consent_id],
  ['break_glass', (d) => d.authorization && d.authorization.break_glass],
  ['outcome', (d) => d.outcome],
  ['reason', (d) => d.reason],
  ['served_by', (d) => d.served_by],
  ['witness', (d) => d.witness],
];

function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no formulas when opened in a spreadsheet
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(entries) {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const d of entries) lines.push(CSV_COLUMNS.map(([, f]) => csvCell(f(d))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function disclosuresSection(root, ctx, q, isAuditor) {
  const say = announcer(ctx);
  const headingId = nextId('h');
  const section = h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Accounting of disclosures'));
  root.append(section);
  if (!isAuditor) {
    section.append(h('p', {}, 'A patient\'s accounting of disclosures is read by the patient and by auditors only.'));
    return;
  }
  section.append(h('p', {}, 'Every read of a patient\'s records, every refusal, every break-glass and every audit, from the chain. ',
    h('strong', {}, 'Your read is itself recorded on chain: '),
    'it appears in this patient\'s accounting as an audit entry, and the patient sees it.'));

  const patient = h('input', { type: 'text', name: 'patient', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: '40', class: 'v-mono' });
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const showBtn = h('button', { type: 'submit' }, 'Show disclosures');
  const csvBtn = h('button', { type: 'button', on: { click: () => downloadCsv() } }, 'Download CSV');
  const fhirBtn = h('button', { type: 'button', on: { click: () => downloadFhir() } }, 'Download FHIR JSON');
  const summary = h('p', { 'aria-live': 'polite' });
  const results = h('div', { class: 'v-results' });
  const form = h('form', { class: 'v-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); load(); } } },
    field('Patient id', patient, 'The patient\'s identity id: 40 characters, 0-9 and a-f.'),
    h('div', { class: 'v-row' },
      field('From (optional)', from, 'Block time, from the start of this day.'),
      field('Until (optional)', to, 'To the end of this day.')),
    h('div', { class: 'v-actions' }, showBtn, csvBtn, fhirBtn),
    h('p', { class: 'v-hint' }, 'The FHIR download is every AuditEvent of the patient (the dates do not apply to it).'));
  section.append(form, summary, results);

  let loaded = null; // {key, entries}

  function params() {
    const id = patient.value.trim().toLowerCase();
    patient.value = id;
    if (!fieldError(patient, HEX40.test(id) ? null : 'A patient id is 40 characters, 0-9 and a-f.')) {
      say('Check the patient id: 40 characters, 0-9 and a-f.', 'error');
      patient.focus();
      return null;
    }
    const day = (v, plus) => {
      if (!v) return undefined;
      const d = new Date(`${v}T00:00:00`);
      if (plus) d.setDate(d.getDate() + 1);
      return d.getTime();
    };
    const args = { patient: id, limit: 500 };
    const f = day(from.value, false);
    const t = day(to.value, true);
    if (f !== undefined) args.from_ms = f;
    if (t !== undefined) args.to_ms = t;
    return { id, args, key: JSON.stringify(args) };
  }

  async function load() {
    const p = params();
    if (!p) return null;
    say(`Reading the accounting of patient ${p.id} (your read is recorded on chain)…`, 'info');
    summary.textContent = 'Loading…';
    const entries = [];
    try {
      let after = null;
      for (let i = 0; i < 200; i++) {
        const page = await q.query('access-grant', 'disclosures', after ? { ...p.args, after } : p.args);
        entries.push(...((page && page.disclosures) || []));
        if (!page || !page.next) break;
        after = page.next;
      }
    } catch (e) {
      summary.textContent = '';
      clear(results).append(h('p', { class: 'v-error' }, `Could not read the accounting: ${plain(e)}`));
      say(`Failed: reading the accounting: ${plain(e)}`, 'error');
      return null;
    }
    loaded = { key: p.key, id: p.id, entries };
    draw(p.id, entries);
    say(`${entries.length} entries in the accounting of patient ${short(p.id)}.`, 'ok');
    return loaded;
  }

  function draw(id, entries) {
    const served = entries.filter((d) => d.outcome === 'success').length;
    const flagged = entries.filter((d) => d.authorization && d.authorization.break_glass).length;
    summary.textContent = `Patient ${id}: ${entries.length} entries; ${served} succeeded, ${entries.length - served} refused or failed; `
      + `${flagged} under break-glass.`;
    clear(results);
    if (!entries.length) {
      results.append(h('p', {}, 'No entries.'));
      return;
    }
    results.append(dataTable({
      id: 'auditor-disclosures',
      caption: `Accounting of disclosures of patient ${short(id)}, oldest first`,
      columns: [
        { label: 'When', render: (d) => fmtTime(d.recorded_at_ms) },
        {
          label: 'Who',
          render: (d) => [h('code', {}, short(d.agent && d.agent.id)),
            ` ${d.agent && d.agent.role ? d.agent.role : ''}${d.agent && d.agent.org ? `, ${d.agent.org}` : ''}`],
        },
        {
          label: 'What',
          render: (d) => (d.record_id ? ['Record ', h('code', { class: 'v-wrap' }, d.record_id)]
            : d.data_class ? `Read ${d.data_class}` : '—'),
        },
        { label: 'Why', render: (d) => `${d.action || 'access'}, ${purposeWords(d.purpose)}` },
        {
          label: 'Authorised by',
          render: (d) => {
            const a = d.authorization || {};
            return [
              AUTH_WORDS[a.kind] || a.kind || '—',
              a.consent_id ? ` (${a.consent_id})` : '',
              a.break_glass ? [' ', h('span', { class: 'v-badge v-flag' }, 'Break-glass')] : null,
            ];
          },
        },
        {
          label: 'Outcome',
          render: (d) => {
            const audit = d.authorization && d.authorization.kind === 'audit';
            const word = d.outcome === 'success' ? (audit ? 'Read' : 'Served') : 'Refused';
            return [h('span', { class: `v-badge v-${d.outcome === 'success' ? 'served' : 'refused'}` }, word), d.reason ? `: ${d.reason}` : ''];
          },
        },
        { label: 'Served by', render: (d) => `${d.served_by || '—'}${d.witness ? `, logged by ${short(d.witness)}` : ''}` },
        { label: 'Transaction', render: (d) => h('code', {}, short(d.tx_id)) },
      ],
      rows: entries,
      rowAttrs: (d) => ({ 'data-tx': d.tx_id }),
    }));
  }

  async function downloadCsv() {
    const p = params();
    if (!p) return;
    const data = loaded && loaded.key === p.key ? loaded : await load();
    if (!data) return;
    download(`disclosures-${data.id}.csv`, 'text/csv', toCsv(data.entries));
    say(`Downloaded the accounting of patient ${short(data.id)} as CSV (${data.entries.length} entries).`, 'ok');
  }

  async function downloadFhir() {
    const p = params();
    if (!p) return;
    say(`Reading the FHIR AuditEvents of patient ${p.id} (your read is recorded on chain)…`, 'info');
    const first = `/fhir/AuditEvent?patient=${p.id}&_count=200`;
    const entries = [];
    let path = first;
    try {
      for (let i = 0; path && i < 500; i++) {
        const bundle = await q.getJson(path);
        if (!bundle || bundle.resourceType !== 'Bundle') throw new Error(`not a FHIR Bundle: ${bundle && bundle.resourceType}`);
        entries.push(...(bundle.entry || []));
        const next = (bundle.link || []).find((l) => l.relation === 'next');
        if (!next || !next.url) break;
        const u = new URL(next.url, window.location.origin);
        path = `${u.pathname}${u.search}`;
      }
    } catch (e) {
      say(`Failed: reading the FHIR AuditEvents: ${plain(e)}`, 'error');
      return;
    }
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      timestamp: new Date().toISOString(),
      total: entries.length,
      link: [{ relation: 'self', url: new URL(first, window.location.origin).href }],
      entry: entries,
    };
    download(`disclosures-${p.id}.fhir.json`, 'application/fhir+json', `${json(bundle)}\n`);
    say(`Downloaded the accounting of patient ${short(p.id)} as FHIR JSON (${entries.length} AuditEvents).`, 'ok');
  }
}
