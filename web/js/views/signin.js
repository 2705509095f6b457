/**
 * The sign-in view (issue 12, docs/web.md "Signing in").
 *
 * - **Import key**: a `phr keygen` key file, chosen ("Key file") or pasted, read into the
 *   page's memory only (`Identity.fromKeyFile`); the shell then asks the node who the
 *   key is (`POST /v1/session`). A key the chain does not know gets a clear message, and
 *   the offer to enrol it as a patient.
 * - **Create a new patient key**: a key made in the page, its key file offered for
 *   download (the only way back in), then `identity.enrol_patient` signed by the new key
 *   and sign-in.
 *
 * `render(container, {client, announce, signIn})`: `signIn(identity)` is the shell's,
 * and throws when the node refuses the key.
 */

import { Identity, Client } from '../phr.js';
import { h, clear, download, shortId, errorText, confirmDialog } from '../ui.js';

export async function render(container, ctx) {
  const { announce } = ctx;
  const problem = h('div', { class: 'problem', id: 'signin-problem', tabindex: '-1', hidden: true });

  // --- Import a key file ---------------------------------------------------------
  const file = h('input', { type: 'file', id: 'key-file', accept: '.key,.json,application/json,text/plain', 'aria-describedby': 'key-file-hint' });
  const paste = h('textarea', {
    id: 'key-paste', rows: '4', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off',
    'aria-describedby': 'key-paste-hint',
  });
  const importButton = h('button', { type: 'submit', class: 'primary' }, 'Import key');
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'key-file' }, 'Key file'),
      h('p', { class: 'hint', id: 'key-file-hint' }, 'The file `phr keygen` wrote, or the one this page let you download when you created your key.'),
      file),
    h('div', { class: 'field' },
      h('label', { for: 'key-paste' }, 'Or paste the key (JSON)'),
      h('p', { class: 'hint', id: 'key-paste-hint' }, 'Its text, starting with {"kind": "phr-secp256k1-key".'),
      paste),
    h('div', { class: 'actions' }, importButton));

  const showProblem = (...children) => {
    clear(problem).append(...children);
    problem.hidden = false;
    problem.focus();
  };

  async function useIdentity(identity) {
    announce(`Signing in as ${shortId(identity.id)}…`, 'busy');
    try {
      const who = await ctx.signIn(identity);
      announce(`Signed in as a ${(who.caller && who.caller.kind) || 'caller'} (${shortId(identity.id)}).`, 'ok');
    } catch (e) {
      const notEnrolled = e && e.status === 401 && /not enrolled|revoked/i.test(e.detail || e.message);
      announce(`Sign-in refused: ${errorText(e)}`, 'error');
      if (notEnrolled) {
        showProblem(
          h('p', {}, h('strong', {}, 'This key is not enrolled on this network. '),
            `Its id is ${identity.id}. Patients enrol themselves; practitioners and administrators are enrolled by their organisation (ask your organisation's administrator), and auditors by the organisations together.`),
          h('p', {}, 'If you are a patient and this is your own new key, you can enrol it now:'),
          h('button', { type: 'button', class: 'secondary', on: { click: () => enrol(identity, true) } }, 'Enrol this key as a patient'),
        );
      } else {
        showProblem(h('p', {}, h('strong', {}, 'The node did not accept this key. '), errorText(e)));
      }
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    problem.hidden = true;
    let text = paste.value.trim();
    const chosen = file.files && file.files[0];
    if (chosen) {
      if (chosen.size > 64 * 1024) {
        showProblem(h('p', {}, 'That file is too large to be a key file.'));
        return;
      }
      text = await chosen.text();
    }
    if (!text) {
      announce('Choose your key file, or paste it, first.', 'error');
      showProblem(h('p', {}, 'Choose your key file (or paste its text), then press "Import key".'));
      return;
    }
    let identity;
    try {
      identity = await Identity.fromKeyFile(text);
    } catch (e) {
      announce(`Key refused: ${e.message}`, 'error');
      showProblem(h('p', {}, h('strong', {}, 'This key file cannot be used. '), e.message));
      return;
    } finally {
      // The secret is in memory now; do not leave it in the form.
      paste.value = '';
      file.value = '';
    }
    importButton.disabled = true;
    try {
      await useIdentity(identity);
    } finally {
      importButton.disabled = false;
    }
  });

  // --- A new patient ---------------------------------------------------------------
  const newBox = h('div', { class: 'stack', id: 'new-key' });
  const createButton = h('button', { type: 'button', class: 'secondary' }, 'Create a new patient key');

  async function enrol(identity, confirmFirst) {
    if (confirmFirst) {
      const yes = await confirmDialog(
        `Enrol the key ${shortId(identity.id)} as a patient? A key enrolled as a patient cannot later be enrolled as a practitioner.`,
        { confirmLabel: 'Enrol as a patient', title: 'Enrol as a patient' },
      );
      if (!yes) return;
    }
    const client = new Client(identity, ctx.client.base);
    try {
      const receipt = await client.tx('identity', 'enrol_patient', {}, {
        onStage: (stage, info) => {
          if (stage === 'signing') announce('Signing the enrolment…', 'busy');
          if (stage === 'submitted') announce(`Submitted, waiting for commit… (tx ${shortId(info)})`, 'busy');
        },
      });
      announce(`Committed in block ${receipt.height} (tx ${shortId(receipt.tx_id)}): you are enrolled as a patient.`, 'ok');
    } catch (e) {
      const already = e && e.code === 'conflict';
      if (!already) {
        announce(`Enrolment failed: ${errorText(e)}`, 'error');
        showProblem(h('p', {}, h('strong', {}, 'Enrolment failed. '), errorText(e)));
        return;
      }
    }
    await useIdentity(identity);
  }

  createButton.addEventListener('click', async () => {
    createButton.disabled = true;
    let identity;
    try {
      identity = await Identity.generate('patient');
    } catch (e) {
      createButton.disabled = false;
      announce(`Could not make a key: ${e.message}`, 'error');
      return;
    }
    let saved = false;
    const name = `phr-patient-${identity.id.slice(0, 8)}.key`;
    const saveButton = h('button', { type: 'button', class: 'primary', on: { click: () => { download(name, 'application/json', identity.keyFileText()); saved = true; announce(`Key file ${name} offered for download. Keep it safe.`, 'ok'); } } }, 'Download key file');
    const enrolButton = h('button', { type: 'button', class: 'secondary', on: { click: async () => {
      if (!saved) {
        const yes = await confirmDialog('You have not downloaded your key file. Without it you cannot sign in again, and nobody can recover it. Enrol anyway?', { confirmLabel: 'Enrol anyway', title: 'Key file not saved' });
        if (!yes) return;
      }
      enrolButton.disabled = true;
      try { await enrol(identity, false); } finally { enrolButton.disabled = false; }
    } } }, 'Enrol and sign in');
    clear(newBox).append(
      h('p', {}, `A new key was made in this page. Its identity id is `, h('code', { class: 'wrap' }, identity.id), '.'),
      h('div', { class: 'notice notice-warn' },
        h('p', {}, h('strong', {}, 'Keep your key file safe. '),
          'It is the only way back into your record, and nobody can recover it for you. Whoever holds it is you, to the ledger: do not share it.')),
      h('div', { class: 'actions' }, saveButton, enrolButton),
    );
    announce('A new key was made. Download its key file, then enrol.', 'ok');
    saveButton.focus();
  });

  clear(container).append(
    problem,
    h('section', { class: 'card', 'aria-labelledby': 'signin-key-h' },
      h('h2', { id: 'signin-key-h' }, 'Sign in with your key'),
      h('p', {}, 'Your key is read into this page only. It is never sent to the node and never stored by the browser: every request is signed here instead.'),
      form),
    h('section', { class: 'card', 'aria-labelledby': 'signin-new-h' },
      h('h2', { id: 'signin-new-h' }, 'New patient'),
      h('p', {}, 'Make a key in this page and enrol yourself as a patient. You then decide who may see your records, and you see every access.'),
      h('div', { class: 'actions' }, createButton),
      newBox),
  );
}
