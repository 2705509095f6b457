/**
 * The practitioner view (issue 12, docs/web.md "The practitioner view").
 *
 * What a clinician does with the ledger, through the node's API as the signed-in
 * practitioner, so the contracts decide what they see:
 *
 * - **Find a patient**: the patient's records this practitioner may read now
 *   (`record-anchor.list_by_patient`, filtered by the contract to the records it
 *   would show them) and their own requests and grants for that patient
 *   (`access-grant.list_by_requester`, kept to that patient).
 * - **Request access** (`access-grant.request`) with a purpose in plain words, for a
 *   data class or one record; the outcome says whether a consent granted it at once,
 *   the patient was asked, or it was denied and why.
 * - **Open** a record through the gateway (`client.fetchRecord`, `GET /v1/records/{id}`):
 *   text and JSON in a `<pre>`, pictures through a blob URL, anything else as a
 *   download, with its SHA-256 checked against the chain; a refusal shows the chain's
 *   reason (the refusal is logged in the patient's accounting too).
 * - **Break the glass** (`access-grant.break_glass`), for the `emergency` role, behind
 *   a warning and a confirm step, then the record is opened with purpose `ETREAT`.
 * - **Break-glass reviews** (`access-grant.open_reviews`, `access-grant.review`) for a
 *   privacy officer or an organisation admin: each open break-glass access of the
 *   organisation, marked justified or not with a note. An organisation admin sees
 *   only this part (admins cannot request access or read records).
 *
 * Every transaction announces "Signing…", "Waiting for commit…", then "Committed in
 * block N" or the refusal in plain words on the page's status line. Data is put into
 * the page as text only (CSP `default-src 'self'`: no inline script or style). Heavy
 * requests (queries) go one at a time and are retried after a 429, so the view stays
 * under the node's per-caller limit of two at once.
 */

import {
  h, clear, nextId, fmtTime, short, dataTable, scroller, field, fieldError, announcer, plain, makeQueue,
  purposeWords, HEX40,
} from './kit.js';
import { CLASSES, classWords, LABEL_WORDS } from '../words.js';

// ---------------------------------------------------------------------------
// Words for the chain's codes.

/** Purposes of use a practitioner may request (ETREAT goes through break-glass). */
const PURPOSES = [
  ['TREAT', 'Treatment'],
  ['CAREMGT', 'Care management'],
  ['PATRQT', 'At the patient\'s request'],
  ['FAMRQT', 'At the family\'s request'],
  ['HPAYMT', 'Payment'],
  ['HOPERAT', 'Healthcare operations'],
  ['PUBHLTH', 'Public health'],
  ['HRESCH', 'Research'],
  ['HMARKT', 'Marketing'],
];
const STATUS_WORDS = {
  active: 'Active: granted',
  pending: 'Pending: waiting for the patient',
  denied: 'Denied',
  revoked: 'Revoked by the patient',
  expired: 'Expired',
};

const AUTH_WORDS = {
  consent: 'the patient\'s consent',
  'patient-approval': 'the patient\'s approval',
  'break-glass': 'break-glass (emergency)',
};

const EXTERNAL_ID = /^[A-Za-z0-9._:/-]{1,128}$/;

/** What an access is for, in words. */
const target = (a) => (a.record_id ? `Record ${a.record_id}` : `All ${classWords(a.data_class)}`);

// ---------------------------------------------------------------------------
// Talking to the node.

/** Every page of a list query (at most `max` pages). */
async function allPages(q, contract, method, args, key, max = 20) {
  const items = [];
  let after = null;
  for (let i = 0; i < max; i++) {
    const page = await q.query(contract, method, after ? { ...args, after } : args);
    items.push(...((page && page[key]) || []));
    if (!page || !page.next) return { items, more: false };
    after = page.next;
  }
  return { items, more: true };
}

/** Submit a transaction, announcing each stage; resolves with the receipt, or throws
 *  after announcing the refusal. */
async function submit(ctx, contract, method, args, what) {
  const say = announcer(ctx);
  say(`Signing… (${what})`, 'info');
  try {
    const receipt = await ctx.client.tx(contract, method, args, {
      onStage: (stage) => { if (stage === 'submitted') say(`Waiting for commit… (${what})`, 'info'); },
    });
    say(`Committed in block ${receipt && receipt.height} (${what}).`, 'ok');
    return receipt;
  } catch (e) {
    const word = e && e.status && e.status < 500 ? 'Refused' : 'Failed';
    say(`${word} (${what}): ${plain(e)}`, 'error');
    throw e;
  }
}

// ---------------------------------------------------------------------------
// The view.

export async function render(container, ctx) {
  const { client } = ctx;
  const caller = (ctx.whoami && ctx.whoami.caller) || {};
  const me = (ctx.whoami && ctx.whoami.id) || (ctx.identity && ctx.identity.id) || caller.id;
  const roles = caller.roles || [];
  const isPractitioner = caller.kind === 'practitioner';
  const reviewer = roles.includes('privacy-officer') || caller.kind === 'org-admin';
  const q = makeQueue(client);

  const root = h('div', { class: 'v-view v-practitioner' });
  clear(container).append(root);

  root.append(h('p', { class: 'v-intro' },
    isPractitioner
      ? `Signed in as a practitioner of ${caller.org || 'an organisation'} (roles: ${roles.join(', ') || 'none'}). `
        + 'Every record you open is decided and logged on chain, and the patient sees it.'
      : `Signed in as an administrator of ${caller.org || 'an organisation'}. `
        + 'Administrators review their organisation\'s break-glass accesses; they cannot request access or read records.'));

  const subs = [];
  const state = { patient: null, accesses: [], records: [] };

  // A reviewer's queue comes first: it is their part of the work.
  let reviews = null;
  if (reviewer) reviews = reviewSection(root, ctx, q, caller.org, me);
  let find = null;
  let viewer = null;
  if (isPractitioner) {
    ({ find, viewer } = findSection(root, ctx, q, state, me));
    requestSection(root, ctx, q, state, find);
    breakGlassSection(root, ctx, q, state, find, viewer, roles);
  }

  // Live: the practitioner's own stream (its requests and grants), the organisation's
  // stream for reviewers. Updates are quiet: the status line is left to the user's actions.
  const follow = (topic, onEvent) => {
    try {
      if (typeof client.events === 'function') subs.push(client.events(topic, onEvent, {}));
    } catch (e) { /* no live updates; the lists still reload on every action */ }
  };
  if (isPractitioner && me) {
    follow(me, (ev) => {
      const name = (ev && (ev.name || ev.event)) || '';
      const p = ev && ev.payload;
      if (name.startsWith('access.') && name !== 'access.disclosed' && p && p.patient === state.patient && find) {
        find.refresh();
      }
    });
  }
  if (reviews && caller.org) {
    follow(`org:${caller.org}`, (ev) => {
      const name = (ev && (ev.name || ev.event)) || '';
      if (name === 'access.break-glass' || name === 'access.reviewed') reviews.reload();
    });
  }
  const stop = () => {
    for (const s of subs.splice(0)) { try { s && s.close && s.close(); } catch (e) { /* closed */ } }
    clearInterval(watch);
    if (viewer) viewer.release();
  };
  const watch = setInterval(() => { if (!root.isConnected) stop(); }, 5000);
  window.addEventListener('pagehide', stop, { once: true });

  if (reviews) await reviews.reload();
}

// --- Find a patient ---------------------------------------------------------

function findSection(root, ctx, q, state, me) {
  const say = announcer(ctx);
  const headingId = nextId('h');
  const input = h('input', {
    type: 'text', name: 'patient', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', maxlength: '40', class: 'v-mono',
  });
  const results = h('div', { class: 'v-results' });
  const viewerBox = h('div', { class: 'v-viewer', hidden: true });
  const viewer = recordViewer(viewerBox);

  const form = h('form', { class: 'v-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); run(false); } } },
    field('Patient id', input, 'The patient\'s identity id: 40 characters, 0-9 and a-f.'),
    h('div', { class: 'v-actions' }, h('button', { type: 'submit' }, 'Find')));

  root.append(h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Find a patient'),
    h('p', {}, 'The records of a patient that you may read now, and your own requests and grants for them. '
      + 'A record appears once a grant covers it (ask under "Request access": a consent of the patient may grant it at once).'),
    form, results, viewerBox));

  /** Open a record, as the user asked (announced) or after a break-glass (quiet). */
  async function open(recordId, purpose, quiet) {
    if (!quiet) say(`Opening record ${recordId} (${purposeWords(purpose)}); the chain decides and logs it…`, 'info');
    const anchored = state.records.find((r) => r.record_id === recordId);
    const ok = await viewer.open(ctx, recordId, purpose, anchored && anchored.sha256);
    if (!quiet) {
      if (ok === true) say(`Record ${recordId} opened, checked against the chain's SHA-256.`, 'ok');
      else say(`Record ${recordId} not opened. ${ok}`, 'error');
    }
    return ok;
  }

  /** The purpose to open a record with: that of the grant covering it (ETREAT for a break-glass). */
  function purposeFor(rec) {
    const g = state.accesses.find((a) => a.effective_status === 'active'
      && (a.record_id ? a.record_id === rec.record_id : a.data_class === rec.class));
    if (!g) return 'TREAT';
    return g.break_glass ? 'ETREAT' : g.purpose || 'TREAT';
  }

  function show() {
    const id = state.patient;
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.record : null;
    clear(results);
    const recs = state.records;
    const mine = state.accesses;
    results.append(h('h3', {}, `Patient ${id}`));
    results.append(h('p', {},
      `${recs.length} record${recs.length === 1 ? '' : 's'} you may read now; `
      + `${mine.length} request${mine.length === 1 ? '' : 's'} and grant${mine.length === 1 ? '' : 's'} of yours for this patient.`));
    if (recs.length) {
      results.append(dataTable({
        caption: 'Records you may read',
        columns: [
          { label: 'Record', render: (r) => h('code', { class: 'v-wrap' }, r.record_id) },
          { label: 'Class', render: (r) => `${classWords(r.class)}, ${LABEL_WORDS[r.security_label] || r.security_label}` },
          { label: 'From', render: (r) => `${r.source && r.source.org ? r.source.org : '—'}, by ${short(r.source && r.source.author)}${r.source && r.source.self_reported ? ' (self-reported)' : ''}` },
          { label: 'Version', render: (r) => String(r.version) },
          { label: 'Status', render: (r) => (r.status === 'disposed' ? 'Disposed: content destroyed' : 'Active') },
          { label: 'Anchored', render: (r) => fmtTime(r.created_at_ms) },
          {
            label: 'Content',
            render: (r) => (r.status === 'disposed' ? '—'
              : r.held_by
                ? h('button', {
                  type: 'button', class: 'v-small', 'data-record': r.record_id,
                  'aria-label': `Open record ${r.record_id}`,
                  on: { click: () => open(r.record_id, purposeFor(r), false) },
                }, 'Open')
                : 'No node holds its content'),
          },
        ],
        rows: recs,
        rowAttrs: (r) => ({ 'data-record-row': r.record_id }),
      }));
    } else {
      results.append(h('p', { class: 'v-note' },
        'No record of this patient is open to you now. Request access below: '
        + 'if the patient\'s consent covers it, it is granted at once; otherwise you may ask the patient.'));
    }
    if (mine.length) {
      results.append(accessTable(mine, 'Your requests and grants for this patient'));
    }
    if (focused) {
      const again = [...results.querySelectorAll('button[data-record]')].find((b) => b.dataset.record === focused);
      if (again) again.focus();
    }
  }

  async function load(id) {
    const [recs, accs] = [
      await allPages(q, 'record-anchor', 'list_by_patient', { patient: id, limit: 500 }, 'records'),
      await allPages(q, 'access-grant', 'list_by_requester', { requester: me, limit: 500 }, 'accesses'),
    ];
    if (state.patient !== id) return;
    state.records = recs.items;
    state.accesses = accs.items.filter((a) => a.patient === id)
      .sort((a, b) => (b.requested_at_ms || 0) - (a.requested_at_ms || 0)); // newest first
    show();
  }

  async function run(quiet) {
    const id = input.value.trim().toLowerCase();
    input.value = id;
    if (!fieldError(input, HEX40.test(id) ? null : 'A patient id is 40 characters, 0-9 and a-f.')) {
      if (!quiet) { say('Check the patient id: 40 characters, 0-9 and a-f.', 'error'); input.focus(); }
      return false;
    }
    if (state.patient !== id) { viewer.hide(); }
    state.patient = id;
    state.records = [];
    state.accesses = [];
    for (const other of document.querySelectorAll('input[data-follows-find]')) {
      if (!other.value || other.dataset.synced === other.value) { other.value = id; other.dataset.synced = id; }
    }
    if (!quiet) say(`Looking up patient ${id}…`, 'info');
    clear(results).append(h('p', {}, 'Loading…'));
    try {
      await load(id);
      if (!quiet) say(`Patient ${short(id)}: ${state.records.length} record(s) you may read, ${state.accesses.length} request(s) or grant(s) of yours.`, 'ok');
      return true;
    } catch (e) {
      clear(results).append(h('p', { class: 'v-error' }, `Could not look up the patient: ${plain(e)}`));
      if (!quiet) say(`Failed: looking up the patient: ${plain(e)}`, 'error');
      return false;
    }
  }

  const find = {
    /** Show patient `id` (quietly), as after a request or a break-glass. */
    async showPatient(id) { input.value = id; return run(true); },
    async refresh() { if (state.patient) { try { await load(state.patient); } catch (e) { /* kept as shown */ } } },
    open,
    purposeFor,
    get patient() { return state.patient; },
  };
  return { find, viewer };
}

/** A practitioner's accesses, in words. */
function accessTable(accesses, caption) {
  return dataTable({
    caption,
    columns: [
      { label: 'Access', render: (a) => h('code', { class: 'v-wrap' }, a.id) },
      { label: 'For', render: (a) => target(a) },
      { label: 'Purpose', render: (a) => purposeWords(a.purpose) },
      {
        label: 'Status',
        render: (a) => [
          h('span', { class: `v-badge v-${a.effective_status}` }, STATUS_WORDS[a.effective_status] || a.effective_status),
          a.break_glass ? [' ', h('span', { class: 'v-badge v-flag' }, 'Break-glass')] : null,
        ],
      },
      {
        label: 'Why',
        render: (a) => [
          a.decision_reason || (a.authorization ? `By ${AUTH_WORDS[a.authorization.kind] || a.authorization.kind}.` : '—'),
          a.effective_status === 'active' && a.authorization && a.authorization.kind === 'consent'
            ? [h('br', {}), 'Granted by a consent: usable only while the patient\'s consents still permit it.'] : null,
          a.reason ? [h('br', {}), 'Your reason: ', h('q', {}, a.reason)] : null,
        ],
      },
      { label: 'Until', render: (a) => (a.expires_at_ms ? fmtTime(a.expires_at_ms) : '—') },
      {
        label: 'Review',
        render: (a) => (a.review ? reviewWords(a.review) : '—'),
      },
    ],
    rows: accesses,
    rowAttrs: (a) => ({ 'data-access': a.id }),
  });
}

function reviewWords(r) {
  if (!r) return '—';
  if (r.status === 'open') return 'Not reviewed yet';
  const who = r.reviewer ? ` by ${short(r.reviewer)}` : '';
  const when = r.reviewed_at_ms ? `, ${fmtTime(r.reviewed_at_ms)}` : '';
  const note = r.note ? `: "${r.note}"` : '';
  return `${r.status === 'justified' ? 'Justified' : 'Not justified'}${who}${when}${note}`;
}

// --- The record viewer -------------------------------------------------------

const TEXT_TYPES = ['application/json', 'application/fhir+json'];
const IMAGE_TYPES = ['image/png', 'image/jpeg'];

function recordViewer(box) {
  let url = null;
  const release = () => { if (url) { URL.revokeObjectURL(url); url = null; } };
  const headingId = nextId('h');
  const start = (title) => {
    release();
    clear(box);
    box.hidden = false;
    const heading = h('h3', { id: headingId, tabindex: '-1' }, title);
    box.append(heading);
    return heading;
  };

  return {
    release,
    hide() { release(); clear(box); box.hidden = true; },
    /** Fetch and show a record; true when shown, else the reason in words. The
     *  content is checked against the anchored SHA-256 the node sends and, when the
     *  page read the anchor itself (`expectSha256`), against that too. */
    async open(ctx, recordId, purpose, expectSha256) {
      const heading = start(`Record ${recordId}`);
      const status = h('p', {}, `Asking the chain for record ${recordId}, for ${purposeWords(purpose)}…`);
      box.append(status);
      let rec;
      try {
        rec = await ctx.client.fetchRecord(recordId, purpose, expectSha256 ? { expectSha256 } : undefined);
      } catch (e) {
        status.remove();
        const why = refusalWords(e);
        box.append(h('p', { class: 'v-error' }, h('strong', {}, 'Not shown. '), why));
        const tx = e && e.body && e.body.disclosure_tx;
        if (tx) {
          box.append(h('p', {}, 'This refusal is logged on chain in the patient\'s accounting of disclosures (transaction ',
            h('code', { class: 'v-wrap' }, tx), ').'));
        }
        heading.focus();
        return why;
      }
      status.remove();
      const bytes = rec.bytes instanceof Uint8Array ? rec.bytes : new Uint8Array(rec.bytes || []);
      const type = (rec.mediaType || 'application/octet-stream').split(';')[0].trim().toLowerCase();
      box.append(h('p', { class: 'v-ok' },
        h('strong', {}, '✓ Checked against the chain\'s SHA-256: '),
        h('code', { class: 'v-wrap' }, rec.sha256 || ''),
        '. ',
        `Version ${rec.version ?? '—'}, ${type}, ${bytes.length} bytes, opened for ${purposeWords(purpose)}`,
        rec.servedBy ? `, served by ${rec.servedBy}` : '',
        '. This read is logged in the patient\'s accounting of disclosures',
        rec.disclosureTx ? [' (transaction ', h('code', { class: 'v-wrap' }, rec.disclosureTx), ')'] : '',
        '.'));
      if (type.startsWith('text/') || TEXT_TYPES.includes(type)) {
        const text = new TextDecoder('utf-8').decode(bytes);
        box.append(scroller(h('pre', { class: 'v-content' }, text), `Content of record ${recordId}`));
        if (type.includes('json')) {
          try {
            const pretty = JSON.stringify(JSON.parse(text), null, 2);
            if (pretty !== text) {
              box.append(h('details', { class: 'v-details' },
                h('summary', {}, 'Show it formatted'),
                scroller(h('pre', { class: 'v-content' }, pretty), `Formatted content of record ${recordId}`)));
            }
          } catch (e) { /* not JSON after all: shown as text */ }
        }
      } else if (IMAGE_TYPES.includes(type)) {
        url = URL.createObjectURL(new Blob([bytes], { type }));
        box.append(h('img', { class: 'v-image', src: url, alt: `The picture of record ${recordId}` }));
      } else {
        url = URL.createObjectURL(new Blob([bytes], { type }));
        const ext = { 'application/pdf': 'pdf', 'application/dicom': 'dcm', 'text/csv': 'csv' }[type] || 'bin';
        const name = `${recordId.replace(/[^A-Za-z0-9._-]+/g, '_')}.${ext}`;
        box.append(h('p', {}, 'The page does not show this kind of content. ',
          h('a', { href: url, download: name }, `Download record ${recordId} (${type}, ${bytes.length} bytes)`)));
      }
      heading.focus();
      return true;
    },
  };
}

function refusalWords(e) {
  if (!e) return 'unknown error';
  const why = e.detail ?? e.message; // the node's or chain's own words
  switch (e.status) {
    case 403: return `Refused by the chain: ${why || 'no grant or consent covers this access'}.`;
    case 410: return 'This record was disposed of: its content and keys were destroyed (the chain keeps its SHA-256).';
    case 404: return `No such record, or no node holds its content (${why || 'not found'}).`;
    case 401: return `The node needs a signed request for this record (${why || 'unauthenticated'}).`;
    default:
      if (e.status) return `The node refused (${e.status}): ${plain(e)}.`;
      return `Failed: ${plain(e)}.`;
  }
}

// --- Request access ----------------------------------------------------------

function requestSection(root, ctx, q, state, find) {
  const headingId = nextId('h');
  const patient = h('input', {
    type: 'text', name: 'patient', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
    maxlength: '40', class: 'v-mono', 'data-follows-find': '',
  });
  const purpose = h('select', { name: 'purpose' }, PURPOSES.map(([code, words]) =>
    h('option', { value: code }, `${words} (${code})`)));
  const klass = h('select', { name: 'data_class' }, CLASSES.map(([code, words]) =>
    h('option', { value: code }, words)));
  const record = h('input', { type: 'text', name: 'record_id', autocomplete: 'off', spellcheck: 'false', maxlength: '128', class: 'v-mono' });
  const duration = h('select', { name: 'duration' },
    h('option', { value: String(86400000) }, '24 hours'),
    h('option', { value: String(7 * 86400000) }, '7 days'),
    h('option', { value: String(30 * 86400000) }, '30 days'));
  const askId = nextId('f');
  const ask = h('input', { type: 'checkbox', id: askId, name: 'ask_patient', checked: true });
  const reason = h('textarea', { name: 'reason', rows: '2', maxlength: '200' });
  const button = h('button', { type: 'submit' }, 'Request access');
  const outcome = h('div', { class: 'v-outcome', 'aria-live': 'polite' });

  const form = h('form', { class: 'v-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); send(); } } },
    field('Patient id', patient, '40 characters, 0-9 and a-f.'),
    field('Purpose', purpose, 'Why you need it. The patient\'s consent is evaluated for this purpose.'),
    field('Data class', klass, 'Every record of this class, unless you name one record below.'),
    field('Record id (optional)', record, 'One record instead of a whole data class.'),
    field('For how long', duration),
    h('div', { class: 'v-check' }, ask, h('label', { for: askId }, 'Ask the patient if no consent covers it')),
    field('Reason (optional)', reason, 'Seen by the patient; at most 200 characters.'),
    h('div', { class: 'v-actions' }, button));

  root.append(h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Request access'),
    h('p', {}, 'The chain evaluates the patient\'s consents at once: access is granted if one permits it; '
      + 'otherwise it is denied, or (if you ask) waits for the patient to approve or deny it.'),
    form, outcome));

  async function send() {
    const id = patient.value.trim().toLowerCase();
    patient.value = id;
    const rid = record.value.trim();
    const okPatient = fieldError(patient, HEX40.test(id) ? null : 'A patient id is 40 characters, 0-9 and a-f.');
    const okRecord = fieldError(record, !rid || EXTERNAL_ID.test(rid) ? null
      : 'A record id is 1 to 128 characters of letters, digits and . _ : / -');
    const okReason = fieldError(reason, reason.value.length <= 200 ? null : 'At most 200 characters.');
    if (!(okPatient && okRecord && okReason)) {
      announcer(ctx)('Check the form: some fields need fixing.', 'error');
      (okPatient ? (okRecord ? reason : record) : patient).focus();
      return;
    }
    const args = { patient: id, purpose: purpose.value, duration_ms: Number(duration.value), ask_patient: ask.checked };
    if (rid) args.record_id = rid; else args.data_class = klass.value;
    if (reason.value.trim()) args.reason = reason.value.trim();
    button.disabled = true;
    clear(outcome);
    try {
      const receipt = await submit(ctx, 'access-grant', 'request', args,
        `request for ${rid ? `record ${rid}` : classWords(klass.value)} of patient ${short(id)}`);
      const a = (receipt && receipt.result) || {};
      outcome.append(requestOutcome(a, receipt));
      if (find) await find.showPatient(id);
    } catch (e) {
      outcome.append(h('p', { class: 'v-error' }, h('strong', {}, 'Not sent. '), plain(e)));
    } finally {
      button.disabled = false;
    }
  }
}

function requestOutcome(a, receipt) {
  const where = receipt && receipt.height ? ` (block ${receipt.height})` : '';
  const box = h('div', { class: 'v-card' });
  if (a.status === 'active') {
    const auth = a.authorization || {};
    box.append(h('p', { class: 'v-ok' }, h('strong', {}, 'Granted at once'),
      ` by ${AUTH_WORDS[auth.kind] || auth.kind || 'the chain'}`,
      auth.consent_id ? ` (${auth.consent_id}${auth.provision !== null && auth.provision !== undefined ? `, provision ${auth.provision}` : ''})` : '',
      `${where}, until ${fmtTime(a.expires_at_ms)}. You may open ${a.record_id ? 'the record' : 'these records'} under "Find a patient".`));
  } else if (a.status === 'pending') {
    box.append(h('p', {}, h('strong', {}, 'Waiting for the patient'),
      `${where}: no consent covers this request, so the patient was asked to approve or deny it. You will see their answer here.`));
  } else if (a.status === 'denied') {
    box.append(h('p', { class: 'v-error' }, h('strong', {}, 'Denied'), `${where}.`));
  } else {
    box.append(h('p', {}, `Recorded as ${a.status || 'unknown'}${where}.`));
  }
  if (a.decision_reason) box.append(h('p', {}, 'The chain\'s reason: ', h('q', {}, a.decision_reason)));
  if (a.id) box.append(h('p', { class: 'v-hint' }, 'Access ', h('code', {}, a.id), ` for ${target(a)}, ${purposeWords(a.purpose)}.`));
  return box;
}

// --- Break the glass ---------------------------------------------------------

function breakGlassSection(root, ctx, q, state, find, viewer, roles) {
  const headingId = nextId('h');
  const section = h('section', { class: 'v-section v-danger-zone', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Break the glass'));
  root.append(section);
  if (!roles.includes('emergency')) {
    section.append(h('p', {}, 'Emergency access without the patient\'s consent is for practitioners with the ',
      h('code', {}, 'emergency'), ' role; yours are ', roles.join(', ') || 'none',
      '. Your organisation\'s administrator gives roles.'));
    return;
  }

  const warnId = nextId('warn');
  section.append(h('div', { class: 'v-warning', id: warnId },
    h('p', {}, h('strong', {}, 'Warning: for emergencies only. '),
      'This emergency access is flagged, the patient is told, and your organisation\'s privacy officer reviews it. '
      + 'It opens the record or data class you name for 4 hours, for emergency treatment, without the patient\'s consent.')));

  const patient = h('input', {
    type: 'text', name: 'patient', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
    maxlength: '40', class: 'v-mono', 'data-follows-find': '',
  });
  const klass = h('select', { name: 'data_class' }, CLASSES.map(([code, words]) => h('option', { value: code }, words)));
  const record = h('input', { type: 'text', name: 'record_id', autocomplete: 'off', spellcheck: 'false', maxlength: '128', class: 'v-mono' });
  const reason = h('textarea', { name: 'reason', rows: '3', maxlength: '200', required: true });
  const button = h('button', { type: 'submit', class: 'v-danger', 'aria-describedby': warnId }, 'Break the glass');
  const confirmBox = h('div', { class: 'v-confirm', hidden: true });
  const outcome = h('div', { class: 'v-outcome', 'aria-live': 'polite' });

  const form = h('form', { class: 'v-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); ask(); } } },
    field('Patient id', patient, '40 characters, 0-9 and a-f.'),
    field('Data class', klass, 'What you need, unless you name one record below.'),
    field('Record id (optional)', record, 'One record instead of a whole data class.'),
    field('Reason (required)', reason, 'Why this is an emergency. The patient and the reviewer read it; at most 200 characters.'),
    h('div', { class: 'v-actions' }, button));
  section.append(form, confirmBox, outcome);

  /** Checks the form, then shows the confirm step (synchronously, in the page). */
  function ask() {
    const id = patient.value.trim().toLowerCase();
    patient.value = id;
    const rid = record.value.trim();
    const why = reason.value.trim();
    const okPatient = fieldError(patient, HEX40.test(id) ? null : 'A patient id is 40 characters, 0-9 and a-f.');
    const okRecord = fieldError(record, !rid || EXTERNAL_ID.test(rid) ? null
      : 'A record id is 1 to 128 characters of letters, digits and . _ : / -');
    const okReason = fieldError(reason, !why ? 'Say why this is an emergency.'
      : why.length > 200 ? 'At most 200 characters.' : null);
    if (!(okPatient && okRecord && okReason)) {
      announcer(ctx)('Check the form: some fields need fixing.', 'error');
      (okPatient ? (okRecord ? reason : record) : patient).focus();
      return;
    }
    const args = { patient: id, reason: why };
    if (rid) args.record_id = rid; else args.data_class = klass.value;
    const what = rid ? `record ${rid}` : `all ${classWords(klass.value)}`;

    clear(confirmBox);
    const textId = nextId('confirm');
    const cancel = h('button', { type: 'button', on: { click: () => { confirmBox.hidden = true; clear(confirmBox); button.focus(); } } }, 'Cancel');
    const go = h('button', {
      type: 'button', class: 'v-danger',
      on: { click: () => { go.disabled = true; cancel.disabled = true; breakGlass(args, what); } },
    }, 'Break the glass now');
    confirmBox.append(
      h('div', { role: 'alert', id: textId },
        h('p', {}, h('strong', {}, 'Are you sure? '),
          `You are about to open ${what} of patient ${short(id)} for 4 hours without their consent. `
          + 'This emergency access is flagged, the patient is told, and your organisation\'s privacy officer reviews it.'),
        h('p', {}, 'Your reason: ', h('q', {}, why))),
      h('div', { class: 'v-actions', role: 'group', 'aria-labelledby': textId }, go, cancel));
    confirmBox.hidden = false;
    cancel.focus();
  }

  async function breakGlass(args, what) {
    button.disabled = true;
    clear(outcome);
    let receipt;
    try {
      receipt = await submit(ctx, 'access-grant', 'break_glass', args, `break-glass access to ${what} of patient ${short(args.patient)}`);
    } catch (e) {
      outcome.append(h('p', { class: 'v-error' }, h('strong', {}, 'Refused. '), plain(e)));
      confirmBox.hidden = true;
      clear(confirmBox);
      button.disabled = false;
      return;
    }
    confirmBox.hidden = true;
    clear(confirmBox);
    button.disabled = false;
    reason.value = '';
    const a = (receipt && receipt.result) || {};
    outcome.append(h('div', { class: 'v-card' },
      h('p', { class: 'v-ok' }, h('strong', {}, 'Emergency access open'),
        ` (block ${receipt && receipt.height}) until ${fmtTime(a.expires_at_ms)}, for ${target(a)}. `
        + 'It is flagged for review; the patient is told.'),
      a.id ? h('p', { class: 'v-hint' }, 'Access ', h('code', {}, a.id), '.') : null));
    // Then the record, opened for emergency treatment: quietly, so the status line
    // keeps the commit. With a data class, the patient's records of that class now
    // show under "Find a patient", each with its Open button.
    await find.showPatient(args.patient);
    let toOpen = args.record_id;
    if (!toOpen) {
      const ofClass = state.records.filter((r) => r.class === args.data_class && r.status !== 'disposed' && r.held_by);
      if (ofClass.length === 1) toOpen = ofClass[0].record_id;
      else {
        outcome.append(h('p', {}, ofClass.length
          ? `${ofClass.length} records of this class are listed under "Find a patient": open the one you need.`
          : 'The patient has no record of this class held by a node yet.'));
      }
    }
    if (toOpen) await find.open(toOpen, 'ETREAT', true);
  }
}

// --- Break-glass reviews -----------------------------------------------------

function reviewSection(root, ctx, q, org, me) {
  const headingId = nextId('h');
  const list = h('div', { class: 'v-results' });
  const section = h('section', { class: 'v-section', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Break-glass reviews'),
    h('p', {}, `Emergency accesses by practitioners of ${org || 'your organisation'} that nobody has reviewed yet. `
      + 'Say whether each was justified; the patient sees your review in their accounting.'),
    list);
  root.append(section);
  let loading = null;

  async function reload() {
    if (loading) return loading;
    loading = (async () => {
      try {
        const { items, more } = await allPages(q, 'access-grant', 'open_reviews', { org, limit: 500 }, 'accesses');
        draw(items.sort((a, b) => (a.requested_at_ms || 0) - (b.requested_at_ms || 0)), more); // oldest first
      } catch (e) {
        clear(list).append(h('p', { class: 'v-error' }, `Could not read the open reviews: ${plain(e)}`));
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function draw(items, more) {
    const keepFocus = document.activeElement && list.contains(document.activeElement);
    clear(list);
    if (!items.length) {
      list.append(h('p', {}, 'No break-glass access is waiting for review.'));
      return;
    }
    list.append(h('p', {}, `${items.length}${more ? '+' : ''} break-glass access${items.length === 1 ? '' : 'es'} to review.`));
    const ul = h('ul', { class: 'v-cards' });
    for (const a of items) ul.append(reviewCard(a));
    list.append(ul);
    if (keepFocus) {
      const first = list.querySelector('textarea, button');
      if (first) first.focus();
    }
  }

  function reviewCard(a) {
    const titleId = nextId('h');
    const note = h('textarea', { rows: '2', maxlength: '200', name: 'note' });
    const mine = a.requester && a.requester.id === me;
    const act = (outcome) => async () => {
      const n = note.value.trim();
      if (!fieldError(note, n.length <= 200 ? null : 'At most 200 characters.')) { note.focus(); return; }
      for (const b of buttons) b.disabled = true;
      const args = { access_id: a.id, outcome };
      if (n) args.note = n;
      try {
        await submit(ctx, 'access-grant', 'review', args,
          `review of ${a.id}: ${outcome === 'justified' ? 'justified' : 'not justified'}`);
        await reload();
      } catch (e) {
        for (const b of buttons) b.disabled = false;
      }
    };
    const buttons = [
      h('button', { type: 'button', 'aria-label': `Mark justified: ${a.id}`, on: { click: act('justified') } }, 'Mark justified'),
      h('button', { type: 'button', class: 'v-danger', 'aria-label': `Mark not justified: ${a.id}`, on: { click: act('unjustified') } }, 'Mark not justified'),
    ];
    const req = a.requester || {};
    return h('li', { class: 'v-card', 'data-access': a.id },
      h('h3', { id: titleId }, `Break-glass ${a.id}`),
      h('dl', { class: 'v-dl' },
        h('dt', {}, 'When'), h('dd', {}, fmtTime(a.requested_at_ms)),
        h('dt', {}, 'Practitioner'), h('dd', {}, h('code', {}, req.id || '—'), ` (${req.org || '—'}; ${(req.roles || []).join(', ') || 'no roles'})`),
        h('dt', {}, 'Patient'), h('dd', {}, h('code', {}, a.patient)),
        h('dt', {}, 'For'), h('dd', {}, `${target(a)}, ${LABEL_WORDS[a.security_label] || a.security_label} data`),
        h('dt', {}, 'Their reason'), h('dd', {}, a.reason ? h('q', {}, a.reason) : '—'),
        h('dt', {}, 'Status'), h('dd', {}, `${STATUS_WORDS[a.effective_status] || a.effective_status}; open until ${fmtTime(a.expires_at_ms)}`)),
      mine
        ? h('p', { class: 'v-note' }, 'This is your own break-glass access: another reviewer of your organisation must review it.')
        : [field(`Note on ${a.id} (optional)`, note, 'Kept on chain with your review; at most 200 characters.'),
          h('div', { class: 'v-actions' }, buttons)]);
  }

  return { reload };
}
