import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeReportFixture, NOW, type ReportFixture } from './fixture.ts';

let f: ReportFixture;
beforeAll(async () => {
  f = await makeReportFixture();
});
afterAll(async () => {
  await f?.cleanup();
});

const now = ['--now', NOW.toISOString()];

describe('identity report', () => {
  it('-o json: one object with every figure, read from the home by default', async () => {
    const out = await runCli(['report', '--home', f.home, ...now, '-o', 'json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout);
    expect(Object.keys(report)).toEqual(['version', 'generatedAt', 'window', 'sources', 'mtls', 'inventory', 'ledger', 'trust', 'rotation', 'policy', 'denials', 'controls', 'summary']);
    expect(report).toMatchObject({
      version: 1,
      generatedAt: NOW.toISOString(),
      window: { since: null },
      mtls: { connectionShare: 0.7, admitted: { connections: 10, mtlsConnections: 7 }, denied: { connections: 2 } },
      inventory: { certificates: 5 },
      ledger: { verified: true },
      policy: { counts: { ports: 3, enforced: 1, audit: 1, default: 1 } },
      summary: { pass: 4, fail: 6, notApplicable: 0 },
    });
  });

  it('--since, and --decisions pointed at one directory of logs', async () => {
    const out = await runCli(['report', '--home', f.home, ...now, '-o', 'json', '--since', '3h', '--decisions', join(f.decisionsDir, 'api-admin')]);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout);
    expect(report.window.since).toBe('2026-08-01T03:00:00.000Z');
    expect(report.sources.decisionLogs).toMatchObject({ files: [join(f.decisionsDir, 'api-admin', 'decisions.jsonl')], records: 2, inWindow: 2 });
    expect(report.denials.total).toBe(2);
    expect(report.inventory.certificates).toBe(2);
  });

  it('--out writes the HTML report to a file, mode 0644, and nothing to standard output', async () => {
    const file = join(f.home, 'report.html');
    const out = await runCli(['report', '--home', f.home, ...now, '-o', 'html', '--out', file]);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(`wrote ${file}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    const page = await readFile(file, 'utf8');
    expect(page).toContain('<svg id="chart-mtls-coverage"');
    expect(page).toContain('<svg id="chart-expiry-timeline"');
  });

  it('Markdown by default', async () => {
    const out = await runCli(['report', '--home', f.home, ...now]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^# Compliance report\n/);
    expect(out.stdout).toContain('**Controls:** 4 pass, 6 fail, 0 not applicable.');
  });

  it('refuses bad flags (64) and missing inputs (66) with one line', async () => {
    const badNow = await runCli(['report', '--home', f.home, '--now', 'yesterday']);
    expect(badNow.code).toBe(64);
    expect(badNow.stderr).toBe('error: --now "yesterday" is not an ISO-8601 time (e.g. 2026-08-01T12:00:00Z)\n');
    expect((await runCli(['report', '--home', f.home, '-o', 'xml'])).code).toBe(64);
    const missingLog = await runCli(['report', '--home', f.home, '--decisions', join(f.home, 'nope')]);
    expect(missingLog.code).toBe(66);
    expect(missingLog.stderr).toContain('decision log: no file or directory at');
    const noHome = await runCli(['report', '--home', join(f.home, 'nope')]);
    expect(noHome.code).toBe(66);
    expect(noHome.stderr).toContain('no identity home at');
  });
});
