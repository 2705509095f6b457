/**
 * What the practitioner and auditor views share (issue 12): labelled form fields with
 * their error lines, tables that scroll sideways only on a narrow screen, errors in
 * plain words, the chain's codes in words, and a queue that sends one heavy request at
 * a time and retries after a 429 (the node allows two queries at once per caller).
 */

import * as ui from '../ui.js';

export const h = ui.h;
export const clear = ui.clear;

let uid = 0;
/** A fresh element id, unique in the page. */
export const nextId = (prefix) => `v-${prefix}-${++uid}`;

export const fmtTime = (ms) => (ms === null || ms === undefined ? '—' : ui.formatTime(ms));
export const short = (hex) => (hex ? ui.shortId(hex) : '—');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A table with a caption and `th scope=col`, in a container that scrolls sideways
 *  (and then becomes a focusable, named region) only if the screen is too narrow. */
export function dataTable({ caption, columns, rows, id, rowAttrs }) {
  const table = h('table', { id, class: 'v-table' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => h('td', { 'data-label': c.label }, c.render ? c.render(r) : (r[c.key] ?? '—')))))));
  return scroller(table, caption);
}

/** `child` in a container that, when it must scroll sideways, can be reached and
 *  scrolled with the keyboard and is named for screen readers. */
export function scroller(child, name) {
  const wrap = h('div', { class: 'v-scroll' }, child);
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls) {
        wrap.setAttribute('tabindex', '0');
        wrap.setAttribute('role', 'region');
        wrap.setAttribute('aria-label', `${name} (scrolls sideways)`);
      } else {
        for (const a of ['tabindex', 'role', 'aria-label']) wrap.removeAttribute(a);
      }
    }).observe(wrap);
  }
  return wrap;
}

const errors = new WeakMap();

/** A field: a label, the control, an optional hint, and an error line that
 *  `fieldError` fills in (all tied to the control by `aria-describedby`). */
export function field(label, control, hint) {
  const id = control.id || nextId('f');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'v-hint', id: `${id}-hint` }, hint) : null;
  const errEl = h('p', { class: 'v-error', id: `${id}-err`, hidden: true });
  errors.set(control, errEl);
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, errEl.id].filter(Boolean).join(' '));
  return h('div', { class: 'v-field' }, h('label', { for: id }, label), hintEl, control, errEl);
}

/** Show `message` as the control's error (or clear it when null); true when clear. */
export function fieldError(control, message) {
  const err = errors.get(control);
  if (message) {
    control.setAttribute('aria-invalid', 'true');
    if (err) { err.textContent = message; err.hidden = false; }
  } else {
    control.removeAttribute('aria-invalid');
    if (err) { err.textContent = ''; err.hidden = true; }
  }
  return !message;
}

/** The function that puts a message on the page's status line. */
export function announcer(ctx) {
  return (msg, kind) => (ctx.announce || ui.announce)(msg, kind);
}

/** An API error in plain words. */
export function plain(e) {
  if (!e) return 'unknown error';
  const msg = e.message || String(e);
  // web/js/phr.js's ApiError says it in words already ("Not allowed: …").
  if (e.detail !== undefined) return msg;
  switch (e.status) {
    case 401: return `not signed in or the session ended (${msg})`;
    case 403: return `not allowed: ${msg}`;
    case 404: return `not found: ${msg}`;
    case 429: return `the node is busy; try again in a few seconds (${msg})`;
    case 502: return `the node holding the record cannot be reached (${msg})`;
    case 503: return `the network cannot commit now (${msg})`;
    default: return msg;
  }
}

/** One heavy request at a time, each retried (up to 4 times) after a 429. */
export function makeQueue(client) {
  let last = Promise.resolve();
  const retrying = async (fn) => {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (e && e.status === 429 && i < 4) {
          const s = Number(e.body && e.body.retry_after_s) || 1;
          await sleep(1000 * Math.min(Math.max(s, 1), 5));
          continue;
        }
        throw e;
      }
    }
  };
  const run = (fn) => {
    const p = last.then(() => retrying(fn));
    last = p.catch(() => {});
    return p;
  };
  return {
    run,
    get: (path) => run(() => client.get(path)),
    query: (contract, method, args) => run(() => client.query(contract, method, args)),
    /** GET a JSON (or FHIR JSON) document. */
    getJson: (path) => run(async () => {
      const v = await client.get(path);
      if (v && typeof v === 'object') return v;
      if (typeof v === 'string') return JSON.parse(v);
      const res = await client.raw('GET', path);
      const text = await res.text();
      if (!res.ok) throw Object.assign(new Error(text), { status: res.status });
      return JSON.parse(text);
    }),
  };
}

/** Purposes of use (HL7 v3 PurposeOfUse codes the contracts know), in words. */
export const PURPOSE_WORDS = {
  TREAT: 'Treatment', ETREAT: 'Emergency treatment', CAREMGT: 'Care management', HPAYMT: 'Payment',
  HOPERAT: 'Healthcare operations', HRESCH: 'Research', PUBHLTH: 'Public health',
  PATRQT: 'At the patient\'s request', FAMRQT: 'At the family\'s request', HMARKT: 'Marketing',
  HCOMPL: 'Compliance audit',
};
export const purposeWords = (p) => (PURPOSE_WORDS[p] ? `${PURPOSE_WORDS[p]} (${p})` : p || '—');

/** An identity id: 40 lowercase hex characters. */
export const HEX40 = /^[0-9a-f]{40}$/;
