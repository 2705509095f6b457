/**
 * The patient view (issue 12, docs/web.md "The patient view"): everything the chain
 * holds about the signed-in patient, read with their own signed requests, and what
 * they decide, as transactions they sign in the page.
 *
 * - **My records** (`record-anchor.list_by_patient`), across every institution; "Open"
 *   fetches the content through the gateway (purpose `PATRQT`, logged like every read)
 *   and checks it against the chain's SHA-256 before showing it.
 * - **My consents** (`consent.list`), "New consent" in plain words (who, for what
 *   purpose, which data, until when) → `consent.create`, the FHIR R5 Consent it becomes
 *   (`GET /fhir/Consent`), and "Revoke" (`consent.revoke`).
 * - **Access requests** (pending: `access-grant.approve` / `deny`), **Active grants**
 *   (`access-grant.revoke`) and emergency (break-glass) accesses with their review.
 * - **Access log** (`access-grant.disclosures`), `#access-log`, one row per entry
 *   (`data-tx`): new entries come live from the patient's event stream; a reader's first
 *   access and break-glass accesses carry a badge in words and a notice at the top.
 *   Downloads: CSV, and FHIR JSON (the `GET /fhir/AuditEvent` Bundle, all pages).
 *
 * One search box filters every list; filters by status and by data class too.
 */

import { h, clear, table, formatTime, shortId, download, confirmDialog, errorText, csv } from '../ui.js';
import { CLASSES, CLASS_WORDS, classWords, LABEL_WORDS } from '../words.js';

// ---------------------------------------------------------------------------
// Words for the chain's codes.

export const PURPOSES = [
  ['TREAT', 'Treatment'],
  ['ETREAT', 'Emergency treatment'],
  ['CAREMGT', 'Care management (coordinating your care)'],
  ['HPAYMT', 'Payment (insurance and billing)'],
  ['HOPERAT', 'Running the health service'],
  ['HRESCH', 'Research'],
  ['PUBHLTH', 'Public health'],
  ['FAMRQT', 'A request by your family'],
  ['PATRQT', 'Your own request'],
  ['HMARKT', 'Marketing'],
];
const PURPOSE_WORDS = Object.fromEntries([...PURPOSES, ['HCOMPL', 'Compliance audit']]);
const purposeWords = (p) => (PURPOSE_WORDS[p] ? `${PURPOSE_WORDS[p]} (${p})` : p || '—');

const AUTH_WORDS = {
  consent: 'Your consent',
  'patient-approval': 'Your approval',
  'break-glass': 'Emergency access (break-glass)',
  audit: 'Audit (an auditor\'s read)',
  patient: 'You (your own read)',
  author: 'The record\'s author',
  none: 'Nothing: refused',
};

const STATUS_WORDS = {
  active: 'Active', pending: 'Waiting for you', denied: 'Denied', revoked: 'Revoked', expired: 'Expired',
  inactive: 'Revoked', disposed: 'Disposed of', success: 'Served', failure: 'Refused', gone: 'Gone',
};

const TEXT_TYPES = ['application/json', 'application/fhir+json', 'application/xml', 'text/plain', 'text/csv'];
const IMAGE_TYPES = ['image/png', 'image/jpeg'];

const SLUG = /^[a-z0-9-]{1,40}$/;
const ID40 = /^[0-9a-f]{40}$/;

// ---------------------------------------------------------------------------
// Reading every page of a list.

async function allPages(client, contract, method, args, key, max = 50) {
  const items = [];
  let after = null;
  let height = null;
  for (let i = 0; i < max; i++) {
    const r = await client.queryFull(contract, method, after ? { ...args, after } : args);
    if (height === null) height = r.height;
    const page = r.result || {};
    items.push(...(page[key] || []));
    if (!page.next) break;
    after = page.next;
  }
  return { items, height };
}

/** Every entry of a FHIR search, following `next` links. */
async function fhirAll(client, path, max = 50) {
  const entries = [];
  let next = path;
  for (let i = 0; next && i < max; i++) {
    const b = await client.get(next);
    entries.push(...(b.entry || []));
    const link = (b.link || []).find((l) => l.relation === 'next');
    next = link ? (() => { const u = new URL(link.url); return u.pathname + u.search; })() : null;
  }
  return entries;
}

// ---------------------------------------------------------------------------
// Small presentational pieces.

const code = (text, full) => h('code', { class: 'wrap', title: full || null }, text);
const badge = (text, kind) => h('span', { class: `badge badge-${kind}` }, text);
const statusWord = (s) => h('span', { class: `state state-${s}` }, STATUS_WORDS[s] || s);

function describeActor(a, me) {
  if (!a) return '—';
  if (a.kind === 'organization') return `organisation ${a.id}`;
  if (a.kind === 'practitioner') return a.id === me ? 'you' : `practitioner ${shortId(a.id)}`;
  if (a.kind === 'role') return `anyone with the role ${a.id}`;
  return `${a.kind} ${a.id}`;
}

function listWords(xs, words, none) {
  if (!xs || !xs.length) return none;
  return xs.map(words).join(', ');
}

/** A consent in plain words. */
export function describeConsent(c, me) {
  const parts = [];
  for (const p of c.provisions || []) {
    const who = listWords(p.actors, (a) => describeActor(a, me), 'anyone');
    const what = listWords(p.data_classes, (x) => CLASS_WORDS[x] || x, 'all your data');
    const why = listWords(p.purposes, (x) => PURPOSE_WORDS[x] || x, 'any purpose');
    const how = p.actions && p.actions.length ? ` (${p.actions.join(', ')})` : '';
    const labels = p.security_labels && p.security_labels.length
      ? `, ${p.security_labels.map((l) => LABEL_WORDS[l] || l).join('/')} data only` : '';
    const until = p.period && p.period.end_ms ? `, until ${formatTime(p.period.end_ms)}` : '';
    parts.push(`${p.type === 'permit' ? 'Allows' : 'Refuses'} ${who} to see ${what}${how} for ${why}${labels}${until}.`);
  }
  parts.push(c.decision === 'permit'
    ? 'Anything else: allowed (except restricted data).'
    : (c.provisions || []).length ? 'Anything else: refused.' : 'Refuses everything.');
  return parts.join(' ');
}

function accessTarget(a) {
  return a.record_id ? `record ${a.record_id} (${classWords(a.data_class)})` : `all ${classWords(a.data_class)}`;
}

function requesterWords(r, me) {
  if (!r) return '—';
  if (r.id === me) return 'You';
  const roles = (r.roles || []).join(', ');
  return `${r.org ? `${r.org}: ` : ''}practitioner ${shortId(r.id)}${roles ? ` (${roles})` : ''}`;
}

// ---------------------------------------------------------------------------
// The view.

export async function render(container, ctx) {
  const { client, announce } = ctx;
  const me = (ctx.whoami && ctx.whoami.id) || ctx.identity.id;
  const state = {
    records: null, consents: null, accesses: null, log: null, logTx: new Set(), newTx: new Set(),
    orgs: [], filter: { text: '', status: '', cls: '' }, errors: {},
  };
  const blobUrls = [];
  const cleanups = [];

  /** Run a transaction, saying each stage on the status line. */
  async function runTx(what, contract, method, args) {
    announce(`Signing… (${what})`, 'busy');
    try {
      const r = await client.tx(contract, method, args, {
        onStage: (s, info) => {
          if (s === 'submitted') announce(`Submitted, waiting for commit… (${what}, tx ${shortId(info)})`, 'busy');
        },
      });
      announce(`Committed in block ${r.height} (tx ${shortId(r.tx_id)}): ${what}.`, 'ok');
      return r;
    } catch (e) {
      announce(`${e && e.status >= 500 ? 'Failed' : 'Refused'} (${what}): ${errorText(e)}`, 'error');
      throw e;
    }
  }

  // --- Layout ------------------------------------------------------------------------
  const notices = h('div', { class: 'notices', id: 'notices', role: 'region', 'aria-label': 'Notices', hidden: true });
  const search = h('input', { type: 'search', id: 'p-search', autocomplete: 'off', 'aria-describedby': 'p-search-hint' });
  const statusSel = h('select', { id: 'p-status' },
    [['', 'Any status'], ['active', 'Active'], ['pending', 'Waiting for you'], ['revoked', 'Revoked'], ['expired', 'Expired'],
      ['denied', 'Denied'], ['disposed', 'Disposed of'], ['success', 'Served (access log)'], ['failure', 'Refused (access log)']]
      .map(([v, t]) => h('option', { value: v }, t)));
  const classSel = h('select', { id: 'p-class' }, h('option', { value: '' }, 'All data'));
  const shown = h('p', { class: 'hint', id: 'p-shown' });
  const filterBar = h('section', { class: 'card filters', 'aria-labelledby': 'p-filter-h' },
    h('h2', { id: 'p-filter-h' }, 'Search and filter'),
    h('div', { class: 'filter-grid' },
      h('div', { class: 'field' }, h('label', { for: 'p-search' }, 'Search'),
        h('p', { class: 'hint', id: 'p-search-hint' }, 'Filters every list below: names, ids, organisations, reasons…'), search),
      h('div', { class: 'field' }, h('label', { for: 'p-status' }, 'Status'), statusSel),
      h('div', { class: 'field' }, h('label', { for: 'p-class' }, 'Data class'), classSel)),
    shown);

  const section = (id, title, intro) => {
    const body = h('div', { class: 'section-body', id: `${id}-body` }, h('p', {}, 'Loading…'));
    const s = h('section', { class: 'card', id: `${id}-section`, 'aria-labelledby': `${id}-h` },
      h('h2', { id: `${id}-h` }, title), intro ? h('p', { class: 'intro' }, intro) : null, body);
    return { s, body };
  };
  const recordsS = section('records', 'My records', 'Every record anchored for you, at every institution. Opening one fetches it through the gateway; the read is logged like any other.');
  const viewer = h('div', { class: 'viewer', id: 'record-viewer', hidden: true });
  recordsS.s.append(viewer);

  const consentsS = section('consents', 'My consents', 'What you allow (or refuse), to whom, for what and until when. A consent applies until you revoke it or it ends.');
  const newConsentBtn = h('button', { type: 'button', class: 'primary', 'aria-expanded': 'false', 'aria-controls': 'consent-form' }, 'New consent');
  const formBox = h('div', { id: 'consent-form', class: 'consent-form', hidden: true });
  const fhirBox = h('div', { class: 'fhir-box', id: 'consent-fhir', hidden: true });
  consentsS.s.insertBefore(h('div', { class: 'actions' }, newConsentBtn), consentsS.body);
  consentsS.s.insertBefore(formBox, consentsS.body);
  consentsS.s.append(fhirBox);

  const requestsS = section('requests', 'Access requests', 'Practitioners who asked to see your records when no consent of yours covered it. You decide.');
  const grantsS = section('grants', 'Active grants', 'Who may see your records now, and why. Emergency (break-glass) accesses are listed here too, with their review.');
  const logS = section('log', 'Access log', 'Every read of your records and every refusal, as the chain logged it: who, from which organisation, which record, why, under which authorisation, and which node served it.');
  const liveLine = h('p', { class: 'hint live-line', id: 'live-line' }, 'Connecting to your live event stream…');
  const legend = h('p', { class: 'hint' }, 'Badges: "First access" marks the first read by someone; "Emergency access (break-glass)" marks a read without your consent, in an emergency, which their organisation must review.');
  const dlCsv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const dlFhir = h('button', { type: 'button', class: 'secondary' }, 'Download FHIR JSON');
  logS.s.insertBefore(h('div', { class: 'actions' }, dlCsv, dlFhir), logS.body);
  logS.s.insertBefore(liveLine, logS.body);
  logS.s.insertBefore(legend, logS.body);

  clear(container).append(
    h('div', { class: 'patient-view', id: 'patient-view' },
      h('p', { class: 'intro' }, 'Your identity id: ', code(me), '. Only you (and auditors, whose every read you see in your access log) can read this.'),
      notices, filterBar, recordsS.s, consentsS.s, requestsS.s, grantsS.s, logS.s),
  );

  // --- Filters ----------------------------------------------------------------------
  const norm = (s) => String(s ?? '').toLowerCase();
  function keep(hay, status, classes) {
    const f = state.filter;
    if (f.status && !(status || []).includes(f.status)) return false;
    if (f.cls && classes && classes.length && !classes.includes(f.cls)) return false;
    if (f.text) {
      const words = norm(f.text).split(/\s+/).filter(Boolean);
      const text = norm(hay);
      if (!words.every((w) => text.includes(w))) return false;
    }
    return true;
  }
  const hayOf = (...xs) => xs.map((x) => (typeof x === 'string' ? x : JSON.stringify(x ?? ''))).join(' ');

  function refreshClassOptions() {
    const seen = new Set();
    for (const r of state.records || []) seen.add(r.class);
    for (const a of state.accesses || []) seen.add(a.data_class);
    for (const c of state.consents || []) for (const p of c.provisions || []) for (const x of p.data_classes || []) seen.add(x);
    for (const e of state.log || []) if (e.record_id) seen.add(e.data_class);
    const current = classSel.value;
    const opts = [...seen].filter(Boolean).sort();
    clear(classSel).append(h('option', { value: '' }, 'All data'), opts.map((c) => h('option', { value: c }, classWords(c))));
    classSel.value = opts.includes(current) ? current : '';
  }

  let filterTimer = null;
  const onFilter = () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      state.filter = { text: search.value.trim(), status: statusSel.value, cls: classSel.value };
      renderAll();
    }, 120);
  };
  search.addEventListener('input', onFilter);
  statusSel.addEventListener('change', onFilter);
  classSel.addEventListener('change', onFilter);

  /** Replace a section's content, keeping the focus on the same control if it is redrawn. */
  function replace(body, ...children) {
    const active = document.activeElement;
    const key = active && body.contains(active) ? active.getAttribute('data-key') : null;
    clear(body).append(...children);
    if (key) {
      const again = body.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  function counted(n, total, what) {
    return h('p', { class: 'hint count' }, n === total ? `${total} ${what}.` : `Showing ${n} of ${total} ${what}.`);
  }

  function failed(body, what, err) {
    replace(body, h('p', { class: 'error-text' }, `Could not load ${what}: ${errorText(err)}`));
  }

  // --- My records ---------------------------------------------------------------------
  function renderRecords() {
    if (state.errors.records) return failed(recordsS.body, 'your records', state.errors.records);
    if (!state.records) return;
    const all = [...state.records].sort((a, b) => (b.updated_at_ms - a.updated_at_ms) || a.record_id.localeCompare(b.record_id));
    const rows = all.filter((r) => keep(
      hayOf(r.record_id, r.class, CLASS_WORDS[r.class], r.source, r.status, r.media_type, r.held_by),
      [r.status], [r.class],
    ));
    replace(recordsS.body, counted(rows.length, all.length, 'records'), table([
      { label: 'Record', render: (r) => code(r.record_id) },
      { label: 'Class', render: (r) => `${classWords(r.class)}${r.security_label && r.security_label !== 'N' ? `, ${LABEL_WORDS[r.security_label] || r.security_label}` : ''}` },
      { label: 'From', render: (r) => [r.source && r.source.org, h('br'), r.source && r.source.author === me
        ? 'you (self-reported)' : h('span', {}, 'author ', code(shortId(r.source && r.source.author), r.source && r.source.author))] },
      { label: 'Version', key: 'version' },
      { label: 'Status', render: (r) => statusWord(r.status) },
      { label: 'Anchored', render: (r) => formatTime(r.created_at_ms) },
      { label: 'Last change', render: (r) => formatTime(r.updated_at_ms) },
      { label: 'Content', render: (r) => (r.status === 'disposed'
        ? 'Destroyed'
        : (r.held_by
          ? h('button', { type: 'button', class: 'small', 'aria-label': `Open record ${r.record_id}`, 'data-key': `open:${r.record_id}`, on: { click: () => openRecord(r) } }, 'Open')
          : 'Not held by a node')) },
    ], rows, { id: 'records', caption: 'My records', captionHidden: true, rowAttrs: (r) => ({ 'data-record': r.record_id }), empty: all.length ? 'No record matches the filters.' : 'No record is anchored for you yet.' }));
  }

  function releaseBlobs() {
    for (const u of blobUrls.splice(0)) URL.revokeObjectURL(u);
  }

  async function openRecord(r) {
    releaseBlobs();
    viewer.hidden = false;
    const heading = h('h3', { tabindex: '-1' }, `Record ${r.record_id}`);
    const close = h('button', { type: 'button', class: 'secondary small', on: { click: () => { releaseBlobs(); clear(viewer); viewer.hidden = true; } } }, 'Close record');
    const wait = h('p', {}, 'Fetching it through the gateway…');
    clear(viewer).append(heading, wait);
    heading.focus();
    announce(`Opening record ${r.record_id}…`, 'busy');
    let rec;
    try {
      rec = await client.fetchRecord(r.record_id, 'PATRQT', { expectSha256: r.sha256 });
    } catch (e) {
      wait.remove();
      viewer.append(h('p', { class: 'error-text' }, h('strong', {}, 'Not shown. '), errorText(e)), close);
      announce(`Refused (opening record ${r.record_id}): ${errorText(e)}`, 'error');
      return;
    }
    wait.remove();
    const type = rec.mediaType.toLowerCase();
    viewer.append(h('p', { class: 'ok-text' },
      h('strong', {}, '✓ Checked against the chain\'s SHA-256: '), code(rec.sha256),
      `. Version ${rec.version ?? r.version}, ${type}, ${rec.bytes.length} bytes${rec.servedBy ? `, served by ${rec.servedBy}` : ''}. `,
      rec.disclosureTx ? ['This read is in your access log (tx ', code(shortId(rec.disclosureTx), rec.disclosureTx), ').'] : ''));
    if (type.startsWith('text/') || TEXT_TYPES.includes(type) || type.endsWith('+json')) {
      let text = new TextDecoder('utf-8').decode(rec.bytes);
      if (type.includes('json')) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* shown as is */ }
      }
      viewer.append(h('pre', { class: 'content', tabindex: '0', 'aria-label': `Content of record ${r.record_id}` }, text));
    } else if (IMAGE_TYPES.includes(type)) {
      const url = URL.createObjectURL(new Blob([rec.bytes], { type }));
      blobUrls.push(url);
      viewer.append(h('img', { class: 'content-image', src: url, alt: `Record ${r.record_id} (${classWords(r.class)})` }));
    } else {
      const url = URL.createObjectURL(new Blob([rec.bytes], { type }));
      blobUrls.push(url);
      const ext = { 'application/pdf': 'pdf', 'application/dicom': 'dcm' }[type] || 'bin';
      viewer.append(h('p', {}, 'This page does not show this kind of content. ',
        h('a', { href: url, download: `${r.record_id.replace(/[^A-Za-z0-9._-]+/g, '_')}.${ext}` }, `Download record ${r.record_id} (${type})`)));
    }
    viewer.append(h('div', { class: 'actions' }, close));
    announce(`Record ${r.record_id} opened: checked against the chain's SHA-256.`, 'ok');
  }

  // --- My consents ----------------------------------------------------------------------
  function renderConsents() {
    if (state.errors.consents) return failed(consentsS.body, 'your consents', state.errors.consents);
    if (!state.consents) return;
    const all = [...state.consents].sort((a, b) => ((a.status === 'active' ? 0 : 1) - (b.status === 'active' ? 0 : 1))
      || (b.created_at_ms - a.created_at_ms) || a.id.localeCompare(b.id));
    const rows = all.filter((c) => {
      const classes = (c.provisions || []).flatMap((p) => p.data_classes || []);
      const open = (c.provisions || []).some((p) => !(p.data_classes || []).length);
      return keep(hayOf(c.id, describeConsent(c, me), c.provisions, c.status), [c.status === 'inactive' ? 'revoked' : c.status],
        open ? [] : classes);
    });
    replace(consentsS.body, counted(rows.length, all.length, 'consents'), table([
      { label: 'Consent', render: (c) => code(c.id) },
      { label: 'Status', render: (c) => statusWord(c.status) },
      { label: 'What it says', render: (c) => describeConsent(c, me) },
      { label: 'Applies', render: (c) => (c.period && (c.period.start_ms || c.period.end_ms)
        ? `${c.period.start_ms ? `from ${formatTime(c.period.start_ms)} ` : ''}${c.period.end_ms ? `until ${formatTime(c.period.end_ms)}` : 'with no end'}`
        : 'until revoked') },
      { label: 'Given', render: (c) => [formatTime(c.created_at_ms), c.revoked_at_ms ? [h('br'), `revoked ${formatTime(c.revoked_at_ms)}`] : null] },
      { label: 'Actions', render: (c) => h('div', { class: 'row-actions' },
        c.status === 'active' ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke consent ${c.id}`, 'data-key': `revoke:${c.id}`, on: { click: () => revokeConsent(c) } }, 'Revoke') : null,
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Show consent ${c.id} as FHIR`, 'data-key': `fhir:${c.id}`, on: { click: () => showFhirConsent(c.id) } }, 'FHIR')) },
    ], rows, { id: 'consents', caption: 'My consents', captionHidden: true, rowAttrs: (c) => ({ 'data-consent': c.id }), empty: all.length ? 'No consent matches the filters.' : 'You have given no consent yet: nobody but you (and the author of a record) can see your records, except in an emergency.' }));
  }

  async function revokeConsent(c) {
    const yes = await confirmDialog(`Revoke consent ${c.id}? ${describeConsent(c, me)} Grants it gave stop working at once.`, { confirmLabel: 'Revoke', danger: true, title: 'Revoke this consent' });
    if (!yes) return;
    try {
      await runTx(`revoking consent ${c.id}`, 'consent', 'revoke', { id: c.id });
    } catch (e) { return; }
    await loadConsents();
  }

  async function showFhirConsent(id) {
    fhirBox.hidden = false;
    const heading = h('h3', { tabindex: '-1' }, `Consent ${id} as FHIR R5`);
    clear(fhirBox).append(heading, h('p', {}, 'Asking the node\'s FHIR facade (GET /fhir/Consent)…'));
    try {
      const entries = await fhirAll(client, `/fhir/Consent?patient=${me}&_count=200`);
      const found = entries.map((e) => e.resource).find((r) => r && r.id === id);
      clear(fhirBox).append(heading);
      if (!found) {
        fhirBox.append(h('p', { class: 'error-text' }, `The FHIR facade lists no Consent ${id}.`));
      } else {
        fhirBox.append(
          h('p', {}, 'This is the consent as other health systems see it (FHIR R5, from GET /fhir/Consent).'),
          h('pre', { class: 'content', tabindex: '0', 'aria-label': `FHIR Consent ${id}` }, JSON.stringify(found, null, 2)),
          h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary small', on: { click: () => { clear(fhirBox); fhirBox.hidden = true; } } }, 'Close FHIR view')));
      }
    } catch (e) {
      clear(fhirBox).append(heading, h('p', { class: 'error-text' }, `Could not read the FHIR Consent: ${errorText(e)}`));
    }
  }

  // --- New consent form -------------------------------------------------------------------
  function buildConsentForm() {
    const kinds = [['organization', 'An organisation (all its practitioners)', 'Organisation', 'Its short name, for example northclinic.'],
      ['practitioner', 'One practitioner', 'Practitioner id', 'Their identity id: 40 hex characters.'],
      ['role', 'Anyone with a role', 'Role', 'A role name, for example emergency.']];
    const kindSel = h('select', { id: 'c-kind' }, kinds.map(([v, t]) => h('option', { value: v }, t)));
    const whoLabel = h('label', { for: 'c-who' }, 'Organisation');
    const whoHint = h('p', { class: 'hint', id: 'c-who-hint' }, kinds[0][3]);
    const whoErr = h('p', { class: 'error-text', id: 'c-who-err', hidden: true });
    const orgList = h('datalist', { id: 'c-orgs' }, state.orgs.map((o) => h('option', { value: o })));
    const who = h('input', { type: 'text', id: 'c-who', list: 'c-orgs', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', 'aria-describedby': 'c-who-hint c-who-err', required: true });
    kindSel.addEventListener('change', () => {
      const k = kinds.find(([v]) => v === kindSel.value);
      whoLabel.textContent = k[2];
      whoHint.textContent = k[3];
      if (k[0] === 'organization') who.setAttribute('list', 'c-orgs'); else who.removeAttribute('list');
      preview();
    });
    const decision = h('select', { id: 'c-decision' }, h('option', { value: 'permit' }, 'Allow'), h('option', { value: 'deny' }, 'Refuse'));
    const purpose = h('select', { id: 'c-purpose' }, h('option', { value: '' }, 'Any purpose'),
      PURPOSES.map(([v, t]) => h('option', { value: v, selected: v === 'TREAT' }, `${t} (${v})`)));
    const classes = new Map([...CLASSES]);
    for (const r of state.records || []) if (!classes.has(r.class)) classes.set(r.class, r.class);
    const boxes = [...classes].map(([v, t], i) => {
      const id = `c-class-${i}`;
      const box = h('input', { type: 'checkbox', id, value: v, name: 'c-class' });
      return { v, el: h('div', { class: 'check' }, box, h('label', { for: id }, t)), box };
    });
    const other = h('input', { type: 'text', id: 'c-other', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', 'aria-describedby': 'c-other-hint' });
    const today = new Date();
    const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    const until = h('input', { type: 'date', id: 'c-until', min: iso(today), 'aria-describedby': 'c-until-hint c-until-err' });
    const untilErr = h('p', { class: 'error-text', id: 'c-until-err', hidden: true });
    const summary = h('p', { class: 'summary', id: 'c-summary' });
    const argsPre = h('pre', { class: 'content small-pre', tabindex: '0', 'aria-label': 'The arguments of consent.create' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create consent');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');

    function args() {
      const actorId = who.value.trim();
      const actor = { kind: kindSel.value, id: kindSel.value === 'practitioner' ? actorId.toLowerCase() : actorId };
      const dataClasses = boxes.filter((b) => b.box.checked).map((b) => b.v);
      for (const x of other.value.split(',').map((s) => s.trim()).filter(Boolean)) if (!dataClasses.includes(x)) dataClasses.push(x);
      const provision = { type: decision.value, actors: [actor], purposes: purpose.value ? [purpose.value] : [], actions: ['access'], data_classes: dataClasses };
      let period = null;
      if (until.value) {
        const [y, m, d] = until.value.split('-').map(Number);
        period = { start_ms: null, end_ms: new Date(y, m - 1, d + 1).getTime() };
      }
      return { decision: 'deny', period, provisions: [provision] };
    }
    function preview() {
      const a = args();
      const c = { decision: a.decision, provisions: a.provisions.map((p) => ({ ...p, period: a.period })) };
      summary.textContent = who.value.trim() ? describeConsent(c, me) : 'Say who it is for.';
      argsPre.textContent = JSON.stringify(a, null, 2);
    }
    function invalid(input, errEl, msg) {
      input.setAttribute('aria-invalid', 'true');
      errEl.textContent = msg;
      errEl.hidden = false;
      input.focus();
      announce(`Not created: ${msg}`, 'error');
    }
    for (const el of [who, decision, purpose, until, other, ...boxes.map((b) => b.box)]) {
      el.addEventListener('input', preview);
      el.addEventListener('change', preview);
    }
    const form = h('form', { class: 'stack', novalidate: true, 'aria-labelledby': 'c-form-h' },
      h('h3', { id: 'c-form-h', tabindex: '-1' }, 'New consent'),
      h('div', { class: 'field' }, h('label', { for: 'c-kind' }, 'Who is it for'), kindSel),
      h('div', { class: 'field' }, whoLabel, whoHint, who, orgList, whoErr),
      h('div', { class: 'field' }, h('label', { for: 'c-decision' }, 'Allow or refuse'), decision),
      h('div', { class: 'field' }, h('label', { for: 'c-purpose' }, 'Purpose'), purpose),
      h('fieldset', { class: 'field' }, h('legend', {}, 'Which data'),
        h('p', { class: 'hint' }, 'Tick none for all your data.'),
        h('div', { class: 'checks' }, boxes.map((b) => b.el)),
        h('label', { for: 'c-other' }, 'Other data classes'),
        h('p', { class: 'hint', id: 'c-other-hint' }, 'Optional: data class names, separated by commas.'),
        other),
      h('div', { class: 'field' }, h('label', { for: 'c-until' }, 'Until'),
        h('p', { class: 'hint', id: 'c-until-hint' }, 'The last day it applies. Leave empty for no end date; you can revoke it at any time.'),
        until, untilErr),
      h('div', { class: 'preview' }, h('h4', {}, 'What you are about to sign'), summary,
        h('details', {}, h('summary', {}, 'The transaction\'s arguments (consent.create)'), argsPre),
        h('p', { class: 'hint' }, 'Once it is committed, the FHIR R5 Consent it becomes is shown below the list.')),
      h('div', { class: 'actions' }, submit, cancel));
    cancel.addEventListener('click', () => toggleForm(false));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const el of [who, until]) el.removeAttribute('aria-invalid');
      whoErr.hidden = true;
      untilErr.hidden = true;
      const v = who.value.trim();
      const k = kindSel.value;
      if (k === 'practitioner' ? !ID40.test(v.toLowerCase()) : !SLUG.test(v)) {
        invalid(who, whoErr, k === 'practitioner' ? 'a practitioner id is 40 hex characters (0-9, a-f).' : 'use lowercase letters, digits and -, at most 40 characters.');
        return;
      }
      const bad = other.value.split(',').map((s) => s.trim()).filter(Boolean).find((x) => !SLUG.test(x));
      if (bad) {
        invalid(other, whoErr, `"${bad}" is not a data class name (lowercase letters, digits and -).`);
        return;
      }
      const a = args();
      if (a.period && a.period.end_ms <= Date.now()) {
        invalid(until, untilErr, 'the end date is in the past.');
        return;
      }
      submit.disabled = true;
      let receipt;
      try {
        receipt = await runTx('creating the consent', 'consent', 'create', a);
      } catch (e) {
        submit.disabled = false;
        return;
      }
      submit.disabled = false;
      toggleForm(false);
      await loadConsents();
      if (receipt.result && receipt.result.id) await showFhirConsent(receipt.result.id);
    });
    preview();
    return { form, focus: () => who.focus() };
  }

  let consentForm = null;
  function toggleForm(open) {
    newConsentBtn.setAttribute('aria-expanded', String(open));
    if (open) {
      consentForm = buildConsentForm();
      clear(formBox).append(consentForm.form);
      formBox.hidden = false;
      consentForm.focus();
    } else {
      clear(formBox);
      formBox.hidden = true;
      newConsentBtn.focus();
    }
  }
  newConsentBtn.addEventListener('click', () => toggleForm(newConsentBtn.getAttribute('aria-expanded') !== 'true'));

  // --- Access requests and grants -----------------------------------------------------------
  const accessHay = (a) => hayOf(a.id, a.requester, a.record_id, a.data_class, CLASS_WORDS[a.data_class], a.purpose, PURPOSE_WORDS[a.purpose], a.reason, a.decision_reason, a.effective_status, a.break_glass ? 'emergency break-glass' : '');
  const accessKeep = (a) => keep(accessHay(a), [a.effective_status], [a.data_class]);

  function renderAccesses() {
    for (const s of [requestsS, grantsS]) if (state.errors.accesses) failed(s.body, 'your access requests and grants', state.errors.accesses);
    if (state.errors.accesses || !state.accesses) return;
    const all = state.accesses;
    const pending = all.filter((a) => a.effective_status === 'pending');
    const pendingRows = pending.filter(accessKeep);
    replace(requestsS.body, counted(pendingRows.length, pending.length, 'requests waiting for you'), table([
      { label: 'Request', render: (a) => code(a.id) },
      { label: 'From', render: (a) => requesterWords(a.requester, me) },
      { label: 'For', render: (a) => accessTarget(a) },
      { label: 'Why', render: (a) => purposeWords(a.purpose) },
      { label: 'Their reason', render: (a) => a.reason || '—' },
      { label: 'How long', render: (a) => `${Math.round(a.duration_ms / 3600000)} hours` },
      { label: 'Asked', render: (a) => formatTime(a.requested_at_ms) },
      { label: 'Decide', render: (a) => h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'primary small', 'aria-label': `Approve request ${a.id}`, 'data-key': `approve:${a.id}`, on: { click: () => decide(a, true) } }, 'Approve'),
        h('button', { type: 'button', class: 'danger small', 'aria-label': `Deny request ${a.id}`, 'data-key': `deny:${a.id}`, on: { click: () => decide(a, false) } }, 'Deny')) },
    ], pendingRows, { id: 'requests', caption: 'Access requests waiting for you', captionHidden: true, rowAttrs: (a) => ({ 'data-access': a.id }), empty: pending.length ? 'No request matches the filters.' : 'No request is waiting for you.' }));

    const active = all.filter((a) => a.effective_status === 'active');
    const activeRows = active.filter(accessKeep);
    const emergency = all.filter((a) => a.break_glass).sort((a, b) => b.requested_at_ms - a.requested_at_ms);
    const emergencyRows = emergency.filter(accessKeep);
    const earlier = all.filter((a) => !['pending', 'active'].includes(a.effective_status)).sort((a, b) => b.requested_at_ms - a.requested_at_ms);
    const earlierRows = earlier.filter(accessKeep);
    replace(grantsS.body,
      counted(activeRows.length, active.length, 'active grants'),
      table([
        { label: 'Grant', render: (a) => code(a.id) },
        { label: 'Who', render: (a) => requesterWords(a.requester, me) },
        { label: 'For', render: (a) => accessTarget(a) },
        { label: 'Why', render: (a) => purposeWords(a.purpose) },
        { label: 'Because of', render: (a) => authorisationOfAccess(a) },
        { label: 'Until', render: (a) => formatTime(a.expires_at_ms) },
        { label: 'Actions', render: (a) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke grant ${a.id}`, 'data-key': `revoke-grant:${a.id}`, on: { click: () => revokeGrant(a) } }, 'Revoke grant') },
      ], activeRows, { id: 'grants', caption: 'Active grants', captionHidden: true, rowAttrs: (a) => ({ 'data-access': a.id, class: a.break_glass ? 'flag-emergency' : null }), empty: active.length ? 'No grant matches the filters.' : 'Nobody holds a grant to your records now.' }),
      h('h3', {}, 'Emergency accesses (break-glass)'),
      counted(emergencyRows.length, emergency.length, 'emergency accesses'),
      table([
        { label: 'When', render: (a) => formatTime(a.requested_at_ms) },
        { label: 'Who', render: (a) => requesterWords(a.requester, me) },
        { label: 'For', render: (a) => accessTarget(a) },
        { label: 'Their reason', render: (a) => a.reason || '—' },
        { label: 'Status', render: (a) => statusWord(a.effective_status) },
        { label: 'Review', render: (a) => reviewWords(a.review) },
      ], emergencyRows, { id: 'emergency', caption: 'Emergency accesses (break-glass)', captionHidden: true, rowAttrs: (a) => ({ 'data-access': a.id, class: 'flag-emergency' }), empty: emergency.length ? 'No emergency access matches the filters.' : 'Nobody has broken the glass on your records.' }),
      h('details', { class: 'earlier' }, h('summary', {}, `Earlier requests and grants (${earlier.length})`),
        table([
          { label: 'Id', render: (a) => code(a.id) },
          { label: 'Who', render: (a) => requesterWords(a.requester, me) },
          { label: 'For', render: (a) => accessTarget(a) },
          { label: 'Why', render: (a) => purposeWords(a.purpose) },
          { label: 'Status', render: (a) => statusWord(a.effective_status) },
          { label: 'Decided', render: (a) => [a.decision_reason || '—', h('br'), formatTime(a.decided_at_ms || a.requested_at_ms)] },
        ], earlierRows, { id: 'earlier-accesses', caption: 'Earlier requests and grants', captionHidden: true, empty: 'None.' })));
  }

  function authorisationOfAccess(a) {
    const auth = a.authorization || {};
    if (a.break_glass) return badge('Emergency access (break-glass)', 'emergency');
    if (auth.kind === 'consent') return ['Your consent ', code(auth.consent_id || '—')];
    if (auth.kind === 'patient-approval') return 'Your approval';
    return a.decision_reason || '—';
  }

  function reviewWords(r) {
    if (!r) return '—';
    if (r.status === 'open') return 'Not reviewed yet';
    const word = r.status === 'justified' ? 'Judged justified' : 'Judged not justified';
    return `${word} by ${shortId(r.reviewer)} on ${formatTime(r.reviewed_at_ms)}${r.note ? `: ${r.note}` : ''}`;
  }

  async function decide(a, approve) {
    if (!approve) {
      const yes = await confirmDialog(`Deny request ${a.id} from ${requesterWords(a.requester, me)} for ${accessTarget(a)}?`, { confirmLabel: 'Deny', danger: true, title: 'Deny this request' });
      if (!yes) return;
    }
    try {
      await runTx(`${approve ? 'approving' : 'denying'} request ${a.id}`, 'access-grant', approve ? 'approve' : 'deny', { access_id: a.id });
    } catch (e) { return; }
    await loadAccesses();
  }

  async function revokeGrant(a) {
    const yes = await confirmDialog(`Revoke grant ${a.id}? ${requesterWords(a.requester, me)} will no longer see ${accessTarget(a)}.`, { confirmLabel: 'Revoke grant', danger: true, title: 'Revoke this grant' });
    if (!yes) return;
    try {
      await runTx(`revoking grant ${a.id}`, 'access-grant', 'revoke', { access_id: a.id });
    } catch (e) { return; }
    await loadAccesses();
  }

  // --- Access log -------------------------------------------------------------------------------
  const isEmergency = (e) => !!(e.authorization && (e.authorization.break_glass || e.authorization.kind === 'break-glass'));
  const logOrder = (a, b) => (a.recorded_at_ms - b.recorded_at_ms) || String(a.tx_id).localeCompare(String(b.tx_id));

  /** Marks each entry: `first` for a reader's first entry in the log (not the patient's own). */
  function markFirsts() {
    const seen = new Set();
    for (const e of [...state.log].sort(logOrder)) {
      const id = e.agent && e.agent.id;
      e._first = !!id && id !== me && !seen.has(id);
      if (id) seen.add(id);
    }
  }

  function whoOf(e) {
    const a = e.agent || {};
    if (a.id === me) return 'You';
    const kind = e.authorization && e.authorization.kind === 'audit' ? 'auditor' : (a.role || 'reader');
    return h('span', {}, `${kind} `, code(shortId(a.id), a.id));
  }

  function outcomeOf(e) {
    if (e.outcome === 'success') return statusWord('success');
    const gone = /dispos|gone/i.test(e.reason || '');
    return [statusWord(gone ? 'gone' : 'failure'), e.reason ? `: ${e.reason}` : ''];
  }

  function authOf(e) {
    const a = e.authorization || {};
    const parts = [AUTH_WORDS[a.kind] || a.kind || '—'];
    if (a.consent_id) parts.push(' (', code(a.consent_id), ')');
    if (a.access_id) parts.push(', grant ', code(a.access_id));
    return parts;
  }

  function renderLog() {
    if (state.errors.log) return failed(logS.body, 'your access log', state.errors.log);
    if (!state.log) return;
    const all = [...state.log].sort((a, b) => -logOrder(a, b));
    const rows = all.filter((e) => keep(
      hayOf(e.agent, e.record_id, e.data_class, CLASS_WORDS[e.data_class], e.purpose, PURPOSE_WORDS[e.purpose], e.authorization,
        AUTH_WORDS[e.authorization && e.authorization.kind], e.outcome, e.reason, e.served_by, e.tx_id,
        e._first ? 'first access' : '', isEmergency(e) ? 'emergency break-glass' : ''),
      [e.outcome], e.record_id ? [e.data_class] : [],
    ));
    replace(logS.body, counted(rows.length, all.length, 'entries'), table([
      { label: 'When', render: (e) => formatTime(e.recorded_at_ms) },
      { label: 'Who', render: (e) => h('div', {},
        e._first ? badge(e.outcome === 'success' ? 'First access' : 'First access (refused)', 'first') : null,
        isEmergency(e) ? badge('Emergency access (break-glass)', 'emergency') : null,
        state.newTx.has(e.tx_id) ? badge('New', 'new') : null,
        whoOf(e)) },
      { label: 'Organisation', render: (e) => (e.agent && e.agent.org) || '—' },
      { label: 'Record', render: (e) => (e.record_id ? [code(e.record_id), h('br'), classWords(e.data_class)] : `query ${e.data_class || ''}`) },
      { label: 'Why', render: (e) => purposeWords(e.purpose) },
      { label: 'Authorisation', render: (e) => authOf(e) },
      { label: 'Outcome', render: (e) => outcomeOf(e) },
      { label: 'Served by', render: (e) => [e.served_by || '—', e.witness ? [h('br'), 'logged by ', code(shortId(e.witness), e.witness)] : null] },
      { label: 'Transaction', render: (e) => code(shortId(e.tx_id), e.tx_id) },
    ], rows, {
      id: 'access-log',
      caption: 'Access log, newest first',
      captionHidden: true,
      rowAttrs: (e) => ({ 'data-tx': e.tx_id, class: [isEmergency(e) ? 'flag-emergency' : null, e._first ? 'flag-first' : null, state.newTx.has(e.tx_id) ? 'flag-new' : null].filter(Boolean).join(' ') || null }),
      empty: all.length ? 'No entry matches the filters.' : 'Nobody has read your records yet.',
    }));
  }

  /** Add a disclosure entry (from the event stream); true when it is new. */
  function addLogEntry(e, live) {
    if (!e || !e.tx_id || !state.log || (e.patient && e.patient !== me)) return false;
    if (state.logTx.has(e.tx_id)) return false;
    state.logTx.add(e.tx_id);
    state.log.push(e);
    if (live) {
      markFirsts();
      state.newTx.add(e.tx_id);
      if (isEmergency(e)) {
        notice('emergency', `Emergency access (break-glass): ${readerWords(e)} read ${e.record_id || 'your data'} on ${formatTime(e.recorded_at_ms)} (${e.outcome === 'success' ? 'served' : 'refused'}). Their organisation reviews every emergency access.`, true);
      } else if (e._first) {
        notice('first', `First access: ${readerWords(e)} ${e.outcome === 'success' ? 'read' : 'tried to read'} ${e.record_id || 'your data'} for the first time, on ${formatTime(e.recorded_at_ms)}, for ${purposeWords(e.purpose)} (${e.outcome === 'success' ? 'served' : `refused${e.reason ? `: ${e.reason}` : ''}`}).`, true);
      }
    }
    return true;
  }

  function readerWords(e) {
    const a = e.agent || {};
    const kind = e.authorization && e.authorization.kind === 'audit' ? 'an auditor' : `${a.role || 'a reader'}`;
    return `${kind} ${shortId(a.id)}${a.org ? ` of ${a.org}` : ''}`;
  }

  // --- Notices -------------------------------------------------------------------------------------
  const noticed = new Set();
  function notice(kind, text, live) {
    if (noticed.has(text)) return;
    noticed.add(text);
    const label = kind === 'emergency' ? 'Emergency access (break-glass)' : kind === 'request' ? 'New request' : 'First access';
    const dismiss = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Dismiss notice: ${text.slice(0, 60)}` }, 'Dismiss');
    const n = h('div', { class: `notice notice-${kind === 'emergency' ? 'danger' : 'warn'}`, role: live ? 'alert' : null },
      h('p', {}, h('strong', {}, `${label}. `), text), dismiss);
    dismiss.addEventListener('click', () => {
      n.remove();
      if (!notices.querySelector('.notice')) notices.hidden = true;
      search.focus();
    });
    notices.prepend(n);
    notices.hidden = false;
  }

  function noticesOnLoad() {
    const day = Date.now() - 86400000;
    for (const a of state.accesses || []) {
      if (a.break_glass && (a.effective_status === 'active' || (a.review && a.review.status === 'open'))) {
        notice('emergency', `${requesterWords(a.requester, me)} broke the glass on ${formatTime(a.requested_at_ms)} for ${accessTarget(a)}: "${a.reason || ''}". ${reviewWords(a.review)}.`, false);
      }
    }
    for (const e of state.log || []) {
      if (e._first && e.recorded_at_ms >= day && !isEmergency(e)) {
        notice('first', `${readerWords(e)} first ${e.outcome === 'success' ? 'read' : 'tried to read'} ${e.record_id || 'your data'} on ${formatTime(e.recorded_at_ms)}.`, false);
      }
    }
  }

  // --- Downloads -------------------------------------------------------------------------------------
  dlCsv.addEventListener('click', () => {
    if (!state.log) { announce('The access log is not loaded yet.', 'error'); return; }
    const head = ['recorded_at', 'recorded_at_ms', 'tx_id', 'patient', 'agent_id', 'agent_org', 'agent_role', 'record_id', 'data_class',
      'security_label', 'action', 'purpose', 'authorization_kind', 'access_id', 'consent_id', 'break_glass', 'outcome', 'reason',
      'served_by', 'witness', 'first_access'];
    const rows = [...state.log].sort(logOrder).map((e) => {
      const a = e.authorization || {};
      return [new Date(e.recorded_at_ms).toISOString(), e.recorded_at_ms, e.tx_id, e.patient, e.agent && e.agent.id, e.agent && e.agent.org,
        e.agent && e.agent.role, e.record_id, e.data_class, e.security_label, e.action, e.purpose, a.kind, a.access_id, a.consent_id,
        a.break_glass ? 'true' : 'false', e.outcome, e.reason, e.served_by, e.witness, e._first ? 'true' : 'false'];
    });
    download(`accounting-of-disclosures-${me.slice(0, 8)}.csv`, 'text/csv;charset=utf-8', csv([head, ...rows]));
    announce(`Downloaded your accounting of disclosures as CSV (${rows.length} entries).`, 'ok');
  });

  dlFhir.addEventListener('click', async () => {
    announce('Reading your accounting of disclosures as FHIR (GET /fhir/AuditEvent)…', 'busy');
    dlFhir.disabled = true;
    try {
      const entries = await fhirAll(client, `/fhir/AuditEvent?patient=${me}&_count=200`);
      const bundle = {
        resourceType: 'Bundle', type: 'searchset', timestamp: new Date().toISOString(), total: entries.length,
        link: [{ relation: 'self', url: `${client.base}/fhir/AuditEvent?patient=${me}` }], entry: entries,
      };
      download(`accounting-of-disclosures-${me.slice(0, 8)}.fhir.json`, 'application/fhir+json', `${JSON.stringify(bundle, null, 2)}\n`);
      announce(`Downloaded your accounting of disclosures as FHIR JSON (${entries.length} AuditEvents).`, 'ok');
    } catch (e) {
      announce(`Failed (FHIR download): ${errorText(e)}`, 'error');
    } finally {
      dlFhir.disabled = false;
    }
  });

  // --- Loading ---------------------------------------------------------------------------------------
  function renderAll() {
    renderRecords();
    renderConsents();
    renderAccesses();
    renderLog();
    const f = state.filter;
    shown.textContent = f.text || f.status || f.cls ? 'Filters are on: the lists below show only what matches.' : '';
  }

  async function load(key, fn, after) {
    try {
      await fn();
      delete state.errors[key];
    } catch (e) {
      state.errors[key] = e;
    }
    refreshClassOptions();
    if (after) after();
  }
  const loadRecords = () => load('records', async () => {
    state.records = (await allPages(client, 'record-anchor', 'list_by_patient', { patient: me, limit: 500 }, 'records')).items;
  }, renderRecords);
  const loadConsents = () => load('consents', async () => {
    state.consents = (await allPages(client, 'consent', 'list', { patient: me, limit: 500 }, 'consents')).items;
  }, renderConsents);
  const loadAccesses = () => load('accesses', async () => {
    state.accesses = (await allPages(client, 'access-grant', 'list_by_patient', { patient: me, limit: 500 }, 'accesses')).items;
  }, renderAccesses);
  let logHeight = null;
  const loadLog = () => load('log', async () => {
    const r = await allPages(client, 'access-grant', 'disclosures', { patient: me, limit: 500 }, 'disclosures', 200);
    logHeight = r.height;
    const old = state.log || [];
    state.log = [];
    state.logTx = new Set();
    for (const e of [...r.items, ...old]) addLogEntry(e, false);
    markFirsts();
  }, renderLog);

  // Debounced reloads for live events.
  const timers = {};
  const soon = (key, fn) => {
    clearTimeout(timers[key]);
    timers[key] = setTimeout(fn, 300);
  };

  client.get('/v1/genesis').then((g) => {
    state.orgs = ((g && g.orgs) || []).map((o) => o.name).filter(Boolean);
  }).catch(() => {});

  await Promise.all([loadRecords(), loadConsents(), loadAccesses(), loadLog()]);
  noticesOnLoad();
  renderLog();

  // --- Live --------------------------------------------------------------------------------------------
  let logTimer = null;
  const rerenderLog = () => { clearTimeout(logTimer); logTimer = setTimeout(() => { refreshClassOptions(); renderLog(); }, 100); };
  const stream = client.events(me, (d) => {
    const name = (d && d.name) || '';
    if (name === 'access.disclosed' || name === 'access.audited') {
      if (addLogEntry(d.payload, true)) rerenderLog();
    } else if (name === 'access.break-glass') {
      const a = d.payload || {};
      notice('emergency', `${requesterWords(a.requester, me)} broke the glass for ${accessTarget(a)}: "${a.reason || ''}". Their organisation will review it.`, true);
      soon('accesses', loadAccesses);
    } else if (name === 'access.requested') {
      const a = d.payload || {};
      notice('request', `${requesterWords(a.requester, me)} asks to see ${accessTarget(a)} for ${purposeWords(a.purpose)}. Decide under "Access requests".`, true);
      soon('accesses', loadAccesses);
    } else if (name.startsWith('access.')) {
      soon('accesses', loadAccesses);
    } else if (name.startsWith('consent.')) {
      soon('consents', loadConsents);
    } else if (name.startsWith('record.')) {
      soon('records', loadRecords);
    } else if (name === 'lagged') {
      soon('all', () => Promise.all([loadRecords(), loadConsents(), loadAccesses(), loadLog()]));
    }
  }, {
    fromHeight: logHeight !== null ? logHeight + 1 : undefined,
    onOpen: () => { liveLine.textContent = 'Live: new entries appear here as soon as they are committed.'; },
    onError: (e) => { liveLine.textContent = `Live updates interrupted (${errorText(e)}); reconnecting…`; },
  });
  cleanups.push(() => stream.close(), releaseBlobs, () => Object.values(timers).forEach(clearTimeout));
  const stop = () => { for (const f of cleanups.splice(0)) { try { f(); } catch (e) { /* closed */ } } };
  if (typeof ctx.onLeave === 'function') ctx.onLeave(stop);
  const watch = setInterval(() => { if (!container.isConnected || !container.contains(document.getElementById('patient-view'))) { stop(); clearInterval(watch); } }, 5000);
  cleanups.push(() => clearInterval(watch));
}
