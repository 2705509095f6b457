// Debian's Chromium driven by Playwright (core, no downloaded browser), for
// the page tests: one browser context per user, each pinned to the node
// certificates of the network under test, screenshots and axe-core checks.

import { chromium } from 'playwright-core';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo, as Chromium's SPKI pins want it. */
export function spkiPin(pemPath) {
  const cert = new X509Certificate(readFileSync(pemPath));
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/**
 * Chromium trusting exactly the nodes' certificates (by their public keys),
 * with no background traffic: the test talks to 127.0.0.1 only.
 */
export async function launch(certs) {
  const pins = certs.map(spkiPin).join(',');
  return chromium.launch({
    executablePath: process.env.PHR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pins}`,
    ],
  });
}

/** A user's own window: a phone-sized one when `phone`. */
export async function context(browser, phone = false) {
  const ctx = await browser.newContext({
    viewport: phone ? { width: 375, height: 740 } : { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return ctx;
}

/** Screenshots, numbered in the order taken, into `dir`. */
export class Shots {
  constructor(dir) {
    this.dir = dir;
    this.n = 0;
    this.taken = [];
  }
  async take(page, name) {
    this.n += 1;
    const file = join(this.dir, `${String(this.n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    this.taken.push(file);
    console.log(`  screenshot ${file}`);
  }
}

/**
 * axe-core's WCAG 2.0/2.1 A and AA rules on what `page` shows now. Throws,
 * listing each violation, if there is any; writes the full result to `dir`.
 */
export async function axe(page, dir, name) {
  const result = await page.evaluate(async (src) => {
    // Evaluated through the DevTools protocol, which the page's CSP does not govern.
    (0, eval)(src);
    return await globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
  }, AXE);
  writeFileSync(join(dir, `axe-${name}.json`), JSON.stringify(result.violations, null, 2));
  if (result.violations.length) {
    const lines = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
    );
    throw new Error(`axe found ${result.violations.length} accessibility violation(s) in the ${name} view:\n  ${lines.join('\n  ')}`);
  }
  console.log(`  axe: no WCAG 2.1 A/AA violation in the ${name} view (${result.passes.length} rules passed)`);
}
