/**
 * The HTML report opened in headless Chromium (Debian's `chromium`, driven by playwright-core):
 * no console error, no request beyond the file itself, both charts drawn, data escaped in the
 * DOM, sections on their own pages when printed. Artifacts: test-artifacts/report.html,
 * report.png (the page, full length) and report.pdf (as printed).
 *
 * .ci/run installs chromium; here the test is skipped only when chromium is absent outside CI.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDecisionLine } from '../../policy/audit/decision-log.ts';
import { buildComplianceReport } from '../../report/build.ts';
import { gatherReportInputs } from '../../report/gather/index.ts';
import { COVERAGE_CHART_ID, EXPIRY_CHART_ID, renderHtml } from '../../report/render/index.ts';
import { decision, makeReportFixture, NOW, type ReportFixture } from './fixture.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const present = existsSync(CHROMIUM);
const skip = !present && !process.env.CI;
const EVIL_ID = '<img src=x onerror=alert(1)>.demo.serviceaccount.identity.linkerd.cluster.local';
const EVIL_REASON = '</td><script>alert(2)</script> refused';

/** The page's globals, typed just enough: this program is compiled without the DOM library. */
interface PageElement {
  id: string;
  tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  getBoundingClientRect(): { width: number; height: number };
}
interface PageGlobals {
  document: { getElementById(id: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> & { length: number }; body: { innerText: string } };
  getComputedStyle(element: PageElement): { breakBefore: string };
}

let f: ReportFixture;
let browser: Browser | undefined;
let file: string;

beforeAll(async () => {
  if (skip) return;
  f = await makeReportFixture();
  await writeFile(
    join(f.decisionsDir, 'hostile.jsonl'),
    formatDecisionLine(decision(280, { clientIdentity: EVIL_ID, decision: 'deny', authorization: null, reason: EVIL_REASON })),
  );
  const report = buildComplianceReport(await gatherReportInputs({ home: f.home, now: NOW }));
  await mkdir(ARTIFACTS, { recursive: true });
  file = join(ARTIFACTS, 'report.html');
  await writeFile(file, renderHtml(report));
  if (!present) throw new Error(`chromium is not installed at ${CHROMIUM}: .ci/run installs Debian's chromium (apt-get install chromium)`);
  // No background networking: this machine's network is closed, and Chromium's own connections
  // (updates, sync, QUIC probes) would only be refused.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await f?.cleanup();
});

const title = skip
  ? `renders in headless Chromium — SKIPPED: no chromium at ${CHROMIUM} (install it: apt-get install chromium; CI installs it and never skips)`
  : 'renders in headless Chromium: no console error, charts drawn, data escaped, a screenshot kept';

describe('the HTML report in headless Chromium', () => {
  it.skipIf(skip)(title, async () => {
    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));

    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const charts = await page.evaluate(
      ([coverage, expiry]) => {
        const { document } = globalThis as unknown as PageGlobals;
        const chart = (id: string) => {
          const svg = document.getElementById(id);
          if (!svg) return null;
          const box = svg.getBoundingClientRect();
          return {
            tag: svg.tagName,
            role: svg.getAttribute('role'),
            title: svg.querySelector('title')?.textContent ?? '',
            shapes: svg.querySelectorAll('rect, circle, polyline, path, line').length,
            width: box.width,
            height: box.height,
          };
        };
        const count = (selector: string) => document.querySelectorAll(selector).length;
        return {
          coverage: chart(coverage!),
          expiry: chart(expiry!),
          mtlsBars: count(`#${coverage} rect[data-series="mtls"]`),
          plaintextBars: count(`#${coverage} rect[data-series="plaintext"]`),
          deniedBars: count(`#${coverage} rect[data-series="denied"]`),
          shareLine: count(`#${coverage} polyline[data-series="share"]`),
          expiryRows: [...document.querySelectorAll(`#${expiry} g[data-role]`)].map((g) => g.getAttribute('data-role')),
          sections: [...document.querySelectorAll('section')].map((s) => s.id),
          scripts: count('script'),
          images: count('img'),
          text: document.body.innerText,
        };
      },
      [COVERAGE_CHART_ID, EXPIRY_CHART_ID],
    );

    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
    for (const c of [charts.coverage, charts.expiry]) {
      expect(c).toMatchObject({ tag: 'svg', role: 'img' });
      expect(c!.shapes).toBeGreaterThan(5);
      expect(c!.width).toBeGreaterThan(300);
      expect(c!.height).toBeGreaterThan(60);
    }
    expect(charts.coverage!.title).toBe('mTLS coverage over time');
    expect(charts.expiry!.title).toBe('Certificate and anchor expiry timeline');
    expect(charts.mtlsBars).toBe(7); // one connection per 5-minute bucket
    expect(charts.plaintextBars).toBe(3);
    expect(charts.deniedBars).toBe(3);
    expect(charts.shareLine).toBe(1);
    expect(charts.expiryRows).toEqual(['anchor', 'issuer', 'leaf', 'leaf']);
    expect(charts.sections).toEqual(['summary', 'controls', 'mtls-coverage', 'identity-inventory', 'ledger-integrity', 'trust-chain', 'rotation-history', 'policy-coverage', 'denials', 'sources']);
    // Data from the logs is text in the page, never markup.
    expect(charts.scripts).toBe(0);
    expect(charts.images).toBe(0);
    expect(charts.text).toContain(EVIL_ID);
    expect(charts.text).toContain(EVIL_REASON);

    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });

    // Printed: every section after the first starts a page.
    await page.emulateMedia({ media: 'print' });
    const breaks = await page.evaluate(() => {
      const { document, getComputedStyle } = globalThis as unknown as PageGlobals;
      return [...document.querySelectorAll('section')].map((s) => getComputedStyle(s).breakBefore);
    });
    expect(breaks).toEqual(['auto', ...Array(breaks.length - 1).fill('page')]);
    await page.pdf({ path: join(ARTIFACTS, 'report.pdf'), format: 'A4', printBackground: false });
    await page.close();
  });
});
