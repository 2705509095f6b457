/**
 * Small DOM helpers shared by the page's views (issue 12). Data always goes into the
 * page as text (`textContent`, text nodes, attributes), never as HTML, and nothing here
 * needs inline script or style (the node's CSP is `default-src 'self'`).
 *
 * - `h(tag, attrs, ...children)`: build an element.
 * - `table(columns, rows, opts)`: an accessible table (caption, `th scope`), which CSS
 *   turns into stacked cards on a narrow screen (each cell carries its column's name).
 * - `announce(msg, kind)`: the page's status line (`role="status"`, polite live region).
 * - `formatTime(ms)`, `shortId(hex)`, `download(filename, mime, text)`,
 *   `confirmDialog(text, opts)`, `clear(el)`, `errorText(err)`.
 */

/**
 * `h('button', {type: 'button', class: 'x', on: {click: fn}}, 'Text', otherNode)`.
 * Attributes: null/undefined/false are left out, true is an empty attribute; `on` (or
 * `onclick`-style keys with a function) adds listeners; `value`, `checked`, `selected`
 * and `disabled` are set as properties too. Children: nodes, text, numbers, arrays
 * (flattened), null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'value' || k === 'checked' || k === 'selected') {
      el[k] = v;
      if (k !== 'value') el.setAttribute(k, '');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Append children (as `h` takes them) to `el`; returns `el`. */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Remove every child of `el`; returns `el`. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/**
 * A table. `columns`: `[{label, key?, render?(row) → node|text, className?}]`; `rows`:
 * any objects. Options: `id`, `caption`, `captionHidden` (visually hidden caption),
 * `rowAttrs(row)` (attributes of each `<tr>`), `empty` (text when there are no rows).
 */
export function table(columns, rows, { id, caption, captionHidden = false, rowAttrs, empty = 'Nothing to show.', className } = {}) {
  const t = h('table', { id, class: ['data', className].filter(Boolean).join(' ') });
  if (caption) t.append(h('caption', { class: captionHidden ? 'visually-hidden' : null }, caption));
  t.append(h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))));
  const body = h('tbody');
  if (!rows.length) {
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
  }
  for (const r of rows) {
    body.append(h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => {
      const v = c.render ? c.render(r) : r[c.key];
      return h('td', { 'data-label': c.label, class: c.className },
        h('div', { class: 'cell' }, v === null || v === undefined || v === '' ? '—' : v));
    })));
  }
  t.append(body);
  return t;
}

let statusEl = null;

/** The element `announce` writes to (set by the shell; defaults to `#status`). */
export function setStatusElement(el) { statusEl = el; }

/**
 * Say `msg` on the status line. `kind`: `busy` (or `info`), `ok`, `error`. The text
 * carries the meaning; the kind only adds an icon and a colour.
 */
export function announce(msg, kind = 'info') {
  const el = statusEl || document.getElementById('status');
  if (!el) return;
  const k = kind === 'info' ? 'busy' : kind;
  el.dataset.kind = k;
  el.className = `status status-${k}`;
  el.textContent = String(msg);
}

/** A date and time in the reader's locale; '—' for none. */
export function formatTime(ms) {
  if (ms === null || ms === undefined || ms === '') return '—';
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** The first 8 characters of a long id, then '…'. */
export function shortId(hex) {
  if (!hex) return '—';
  const s = String(hex);
  return s.length > 12 ? `${s.slice(0, 8)}…` : s;
}

/** Offer `text` as a file download. */
export function download(filename, mime, text) {
  const blob = text instanceof Blob ? text : new Blob([text], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, class: 'visually-hidden', tabindex: '-1' }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Ask for confirmation in a modal `<dialog>`: resolves true (confirmed) or false. The
 * dialog is open by the time this returns its promise, focused on "Cancel".
 * Options: `confirmLabel` (default "Confirm"), `cancelLabel`, `danger` (styles the
 * confirm button as destructive), `title`.
 */
export function confirmDialog(text, { confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false, title = 'Please confirm' } = {}) {
  const titleId = `dlg-title-${Math.random().toString(36).slice(2)}`;
  const descId = `${titleId}-d`;
  const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': titleId, 'aria-describedby': descId });
  const cancel = h('button', { type: 'button', class: 'secondary' }, cancelLabel);
  const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary' }, confirmLabel);
  dlg.append(
    h('h2', { id: titleId }, title),
    h('p', { id: descId }, text),
    h('div', { class: 'actions' }, ok, cancel),
  );
  document.body.append(dlg);
  const opener = document.activeElement;
  return new Promise((resolve) => {
    let answered = false;
    const done = (v) => {
      if (answered) return;
      answered = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(v);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    if (typeof dlg.showModal === 'function') dlg.showModal(); else dlg.setAttribute('open', '');
    cancel.focus();
  });
}

/** An error in plain words, for the status line. */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  return err.message || String(err);
}

/** CSV of rows (arrays of values), RFC 4180 quoting, CRLF line ends. */
export function csv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}
