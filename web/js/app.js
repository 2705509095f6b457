/**
 * The page's shell (issue 12, docs/web.md): signs the user in (views/signin.js), asks
 * the node who the key is (`POST /v1/session`), then shows the view that fits the
 * caller's kind, with a navigation between the views that apply:
 *
 * | caller | views |
 * |---|---|
 * | patient | patient |
 * | practitioner (privacy officers too) | practitioner |
 * | auditor | auditor |
 * | org-admin | auditor, and the practitioner view's break-glass reviews |
 *
 * Each view is a module exporting `async render(container, ctx)` with
 * `ctx = {client, identity, whoami, announce, onLeave}`; `onLeave(fn)` registers a
 * clean-up (closing event streams) run when the user switches views or signs out.
 * The header shows who is signed in and "Sign out", which forgets the key.
 */

import { Client } from './phr.js';
import { h, clear, announce, setStatusElement, shortId } from './ui.js';

const VIEWS = {
  patient: { module: './views/patient.js', title: 'My health record', nav: 'My health record' },
  practitioner: { module: './views/practitioner.js', title: 'Practitioner', nav: 'Practitioner' },
  reviews: { module: './views/practitioner.js', title: 'Reviews of emergency access', nav: 'Reviews' },
  auditor: { module: './views/auditor.js', title: 'Auditor', nav: 'Chain and audit' },
};

/** The views a caller may use, the first being the default. */
export function viewsFor(caller) {
  switch (caller && caller.kind) {
    case 'patient': return ['patient'];
    case 'practitioner': return ['practitioner'];
    case 'auditor': return ['auditor'];
    case 'org-admin': return ['auditor', 'reviews'];
    default: return [];
  }
}

const KIND_WORDS = {
  patient: 'Patient',
  practitioner: 'Practitioner',
  'org-admin': 'Organisation administrator',
  auditor: 'Auditor',
  node: 'Node',
};

const $ = (id) => document.getElementById(id);
const main = $('main');
const anonymous = new Client(null);

let session = null; // {client, identity, whoami, views, current}
let leaving = [];

function runLeave() {
  for (const fn of leaving.splice(0)) {
    try { fn(); } catch (e) { console.error(e); }
  }
}

/** A heading for the main landmark, focused after a view change. */
function pageHeading(text) {
  return h('h1', { id: 'page-title', tabindex: '-1' }, text);
}

async function showNodeLine() {
  try {
    const s = await anonymous.status();
    const health = s.commit_obstacle ? `cannot commit now: ${s.commit_obstacle}` : 'committing';
    $('node-line').textContent = `Node ${s.node_id} · chain ${s.chain_id} · block ${s.height} · ${health}`;
  } catch (e) {
    $('node-line').textContent = `This node does not answer: ${e.message}`;
  }
}

async function showSignIn(focus = false) {
  runLeave();
  $('who').hidden = true;
  $('views-nav').hidden = true;
  clear(main);
  main.append(pageHeading('Sign in'));
  const box = h('div', { class: 'view' });
  main.append(box);
  try {
    const mod = await import('./views/signin.js');
    await mod.render(box, { client: anonymous, announce, signIn });
  } catch (e) {
    box.append(h('p', { class: 'error-text' }, `The sign-in view could not be loaded: ${e.message}`));
  }
  if (focus) $('page-title').focus();
}

/**
 * Sign in with `identity`: ask the node who it is, then show the first view. Throws
 * (for the sign-in view to explain) when the node does not accept the key.
 */
async function signIn(identity) {
  const client = new Client(identity);
  const whoami = await client.whoami();
  const caller = whoami.caller || {};
  const views = viewsFor(caller);
  session = { client, identity, whoami, views, current: null };
  const bits = [KIND_WORDS[caller.kind] || caller.kind || 'unknown'];
  if (caller.org) bits.push(`of ${caller.org}`);
  const roles = (caller.roles || []).filter((r) => r !== caller.kind && r !== 'patient' && r !== 'auditor');
  if (roles.length) bits.push(`(${roles.join(', ')})`);
  $('who-line').textContent = `Signed in: ${bits.join(' ')} · id ${shortId(whoami.id || identity.id)}`;
  $('who-line').title = whoami.id || identity.id;
  $('who').hidden = false;
  buildNav(views);
  if (!views.length) {
    runLeave();
    clear(main);
    main.append(pageHeading('Nothing to show'),
      h('p', {}, `The node knows this key as a ${caller.kind || 'caller'} (${identity.id}). This page has views for patients, practitioners, auditors and organisation administrators only.`));
    $('page-title').focus();
    return whoami;
  }
  await showView(views[0]);
  return whoami;
}

function buildNav(views) {
  const list = clear($('views-list'));
  for (const v of views) {
    list.append(h('li', {}, h('button', {
      type: 'button', class: 'nav-button', 'data-view': v, on: { click: () => showView(v) },
    }, VIEWS[v].nav)));
  }
  $('views-nav').hidden = views.length < 2;
}

async function showView(name) {
  if (!session || !session.views.includes(name)) return;
  runLeave();
  session.current = name;
  for (const b of document.querySelectorAll('#views-list button')) {
    if (b.dataset.view === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  clear(main);
  main.append(pageHeading(VIEWS[name].title));
  const box = h('div', { class: 'view', id: `view-${name}` });
  main.append(box);
  const s = session;
  const ctx = {
    client: s.client,
    identity: s.identity,
    whoami: s.whoami,
    announce,
    onLeave: (fn) => leaving.push(fn),
  };
  $('page-title').focus();
  try {
    const mod = await import(VIEWS[name].module);
    if (session !== s || s.current !== name) return;
    await mod.render(box, ctx);
  } catch (e) {
    console.error(e);
    if (session === s && s.current === name) {
      box.append(h('p', { class: 'error-text' }, `This view could not be shown: ${e.message}`));
      announce(`Failed to show the view: ${e.message}`, 'error');
    }
  }
}

async function signOut() {
  runLeave();
  const s = session;
  session = null;
  if (s) await s.client.endSession();
  await showSignIn(true);
  announce('Signed out. This page no longer holds your key.', 'ok');
}

setStatusElement($('status'));
$('sign-out').addEventListener('click', signOut);
showNodeLine();
showSignIn();
