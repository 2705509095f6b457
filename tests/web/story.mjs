// The browser story of issue 12, run by tests/e2e/web.rs against a real
// 3-node network: `node tests/web/story.mjs CONFIG.json`.
//
// A patient signs in with her key file, creates a consent, sees a
// practitioner's fetch appear live in her access log, revokes the consent and
// sees the next fetch refused; a practitioner breaks the glass and the privacy
// officer reviews it; an auditor explains a transaction and downloads the
// accounting of disclosures. Every step is done through the page, with a
// screenshot, and axe-core checks each view. What the page showed is written
// to observations.json for the Rust test to compare with the chain.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { launch, context, Shots, axe } from './browser.mjs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cfg.artifacts;
const shots = new Shots(out);
const seen = { axe_views: [] };
/** Uncaught exceptions in any page: the story fails on any. */
const pageErrors = [];
const step = (s) => console.log(`\n== ${s}`);
const T = 30_000;

async function signIn(ctx, node, who) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => {
    console.log(`  [${who}] page error: ${e.message}`);
    pageErrors.push(`${who}: ${e.message}`);
  });
  page.on('console', (m) => m.type() === 'error' && console.log(`  [${who}] console: ${m.text()}`));
  await page.goto(cfg.nodes[node].url + '/');
  await page.getByLabel('Key file').setInputFiles(cfg.keys[who]);
  await page.getByRole('button', { name: 'Import key' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: T });
  return page;
}

/** Wait until the status line says a transaction committed; fail on an error. */
async function committed(page) {
  const status = page.getByRole('status').first();
  await page.waitForFunction(
    (el) => /Committed|error|refused|failed/i.test(el.textContent),
    await status.elementHandle(),
    { timeout: T },
  );
  const text = await status.textContent();
  if (!/Committed/i.test(text)) throw new Error(`the page said: ${text}`);
  return text;
}

/** Run `attempt` until it succeeds, for at most T. */
async function retry(attempt) {
  const until = Date.now() + T;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (Date.now() > until) throw e;
    }
  }
}

async function accessLogTxs(page) {
  return page.locator('#access-log tr[data-tx]').evaluateAll((rows) => rows.map((r) => r.dataset.tx));
}

const browser = await launch(cfg.nodes.map((n) => n.cert));
try {
  const alice = cfg.ids.alice;

  step('Alice signs in at St Mary\'s node with her key file, on a phone-sized screen');
  const aliceCtx = await context(browser, true);
  const ap = await signIn(aliceCtx, 0, 'alice');
  await ap.getByRole('heading', { name: 'My records' }).waitFor({ timeout: T });
  await ap.getByText(cfg.record.id).first().waitFor({ timeout: T });
  const overflow = await ap.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the patient view scrolls sideways on a phone by ${overflow}px`);
  await shots.take(ap, 'patient-signed-in');
  await axe(ap, out, 'patient');
  seen.axe_views.push('patient');

  step('Alice creates a consent: North Clinic may see her lab results for treatment');
  await ap.getByRole('button', { name: 'New consent' }).click();
  await ap.getByLabel('Organisation').fill('northclinic');
  await ap.getByLabel('Purpose').selectOption('TREAT');
  await ap.getByLabel('Lab results').check();
  const until = new Date(Date.now() + 365 * 86400e3).toISOString().slice(0, 10);
  await ap.getByLabel('Until').fill(until);
  await ap.getByRole('button', { name: 'Create consent' }).click();
  await committed(ap);
  const consentRow = ap.locator('#consents tr[data-consent]').first();
  await consentRow.waitFor({ timeout: T });
  seen.consent_id = await consentRow.getAttribute('data-consent');
  await ap.getByText('"resourceType": "Consent"').first().waitFor({ timeout: T });
  await shots.take(ap, 'patient-consent-created');

  step('Dr Carol opens the record through North Clinic\'s node; Alice sees it live');
  const before = await accessLogTxs(ap);
  const carolCtx = await context(browser);
  const cp = await signIn(carolCtx, 1, 'carol');
  await cp.getByLabel('Patient id').first().fill(alice);
  await cp.getByRole('button', { name: 'Find' }).click();
  const req = cp.locator('section').filter({ has: cp.getByRole('heading', { name: 'Request access' }) }).last();
  await req.getByLabel('Patient id').fill(alice);
  await req.getByLabel('Purpose').selectOption('TREAT');
  await req.getByLabel('Data class').selectOption('lab');
  await req.getByRole('button', { name: 'Request access' }).click();
  await committed(cp);
  await req.getByText(/Granted at once/).waitFor({ timeout: T });
  await shots.take(cp, 'practitioner-granted-by-consent');
  await cp.getByRole('button', { name: `Open record ${cfg.record.id}` }).first().click();
  await cp.getByText('haemoglobin_g_dl').first().waitFor({ timeout: T });
  await cp.getByText(/checked against the chain/i).first().waitFor({ timeout: T });
  const shown = await cp.locator('pre').filter({ hasText: 'haemoglobin_g_dl' }).first().textContent();
  seen.carol_sha256 = createHash('sha256').update(shown.trim()).digest('hex');
  await shots.take(cp, 'practitioner-opened-record');
  await axe(cp, out, 'practitioner');
  seen.axe_views.push('practitioner');
  // Live: no reload of Alice's page.
  await ap.waitForFunction(
    (n) => document.querySelectorAll('#access-log tr[data-tx]').length > n,
    before.length,
    { timeout: T },
  );
  await ap.locator('#access-log').getByText(/First access/i).first().waitFor({ timeout: T });
  await shots.take(ap, 'patient-sees-carol-live');

  step('Alice revokes the consent; Dr Carol\'s next fetch is refused, and Alice sees the refusal');
  const before2 = (await accessLogTxs(ap)).length;
  await ap.getByRole('button', { name: `Revoke consent ${seen.consent_id}` }).click();
  const confirm = ap.getByRole('button', { name: /^(Yes|Confirm|Revoke)$/ });
  if (await confirm.count()) await confirm.first().click();
  await committed(ap);
  await cp.getByRole('button', { name: `Open record ${cfg.record.id}` }).first().click();
  await cp.getByText(/refused|no active consent|not allowed|403/i).first().waitFor({ timeout: T });
  await shots.take(cp, 'practitioner-refused');
  await ap.waitForFunction(
    (n) => document.querySelectorAll('#access-log tr[data-tx]').length > n,
    before2,
    { timeout: T },
  );
  await shots.take(ap, 'patient-sees-refusal');
  seen.alice_log_txs = await accessLogTxs(ap);

  step('Dr Dan breaks the glass, with a reason, after the warning');
  const danCtx = await context(browser);
  const dp = await signIn(danCtx, 1, 'dan');
  await dp.getByRole('heading', { name: 'Break the glass' }).waitFor({ timeout: T });
  const bg = dp.locator('section, form').filter({ has: dp.getByRole('heading', { name: 'Break the glass' }) }).last();
  await bg.getByLabel('Patient id').fill(alice);
  await bg.getByLabel('Reason').fill('Unconscious on arrival; needs her latest blood count');
  await bg.getByRole('button', { name: 'Break the glass' }).click();
  const sure = dp.getByRole('button', { name: /^(Yes|Confirm|Break the glass now)/ });
  if (await sure.count()) await sure.first().click();
  await committed(dp);
  await shots.take(dp, 'practitioner-broke-the-glass');
  await ap.locator('#access-log, [role="alert"], .notice').getByText(/break-glass|emergency/i).first().waitFor({ timeout: T });
  await shots.take(ap, 'patient-told-of-emergency-access');

  step('Erin, North Clinic\'s privacy officer, reviews it');
  const erinCtx = await context(browser);
  const ep = await signIn(erinCtx, 1, 'erin');
  await ep.getByRole('heading', { name: 'Break-glass reviews' }).waitFor({ timeout: T });
  await ep.getByRole('button', { name: /Mark justified/ }).first().click();
  await committed(ep);
  await shots.take(ep, 'privacy-officer-reviewed');

  step('An auditor explains one of Alice\'s disclosures and downloads her accounting');
  const audCtx = await context(browser);
  const up = await signIn(audCtx, 2, 'auditor');
  await up.getByRole('heading', { name: 'Chain' }).waitFor({ timeout: T });
  await axe(up, out, 'auditor');
  seen.axe_views.push('auditor');
  // The newest entry Alice saw (her log lists the newest first): once the auditor's
  // node explains it, it holds every entry she saw.
  const tx = seen.alice_log_txs[0];
  await up.getByLabel('Transaction id').fill(tx);
  // The auditor's node (node2) may apply the block a moment after node0 logged it.
  await retry(async () => {
    await up.getByRole('button', { name: 'Explain', exact: true }).first().click();
    await up.locator('#explanation').getByText(/access-grant/).first().waitFor({ timeout: 3_000 });
  });
  seen.explained_tx = tx;
  await shots.take(up, 'auditor-explained');
  const acc = up.locator('section').filter({ has: up.getByRole('heading', { name: 'Accounting of disclosures' }) }).last();
  await acc.getByLabel('Patient id').fill(alice);
  await acc.getByRole('button', { name: /Show|Load|Read/ }).first().click();
  await up.locator('#auditor-disclosures tr').nth(1).waitFor({ timeout: T });
  const [csv] = await Promise.all([up.waitForEvent('download'), acc.getByRole('button', { name: 'Download CSV' }).click()]);
  const csvPath = join(out, 'accounting.csv');
  await csv.saveAs(csvPath);
  seen.auditor_csv = readFileSync(csvPath, 'utf8');
  const [fhir] = await Promise.all([up.waitForEvent('download'), acc.getByRole('button', { name: 'Download FHIR JSON' }).click()]);
  const fhirPath = join(out, 'accounting.fhir.json');
  await fhir.saveAs(fhirPath);
  const bundle = JSON.parse(readFileSync(fhirPath, 'utf8'));
  if (bundle.resourceType !== 'Bundle') throw new Error(`the FHIR download is not a Bundle: ${bundle.resourceType}`);
  seen.auditor_fhir_entries = (bundle.entry || []).length;
  await shots.take(up, 'auditor-accounting');

  step('The sign-in view');
  const anonCtx = await context(browser, true);
  const sp = await anonCtx.newPage();
  await sp.goto(cfg.nodes[0].url + '/');
  await sp.getByLabel('Key file').waitFor({ timeout: T });
  await axe(sp, out, 'sign-in');
  seen.axe_views.push('sign-in');
  await shots.take(sp, 'sign-in');
  if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join('; ')}`);
} finally {
  writeFileSync(join(out, 'observations.json'), JSON.stringify(seen, null, 2));
  await browser.close();
}
console.log(`\nthe browser story passed; screenshots in ${out}`);
