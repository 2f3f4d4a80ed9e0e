import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import type { AuditReport } from '../../policy/audit/report.ts';
import { runCli } from '../support/cli.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const AUDIT = `${FIXTURES}audit/`;
const IMPACT = `${AUDIT}impact/`;

describe('identity audit', () => {
  it('-o json prints exactly one object: findings, impact, summary; exit 0 below --fail-on', async () => {
    const r = await runCli([
      'audit', '--resources', `${IMPACT}current.yaml`, '--decisions', `${IMPACT}decisions`, '--proposed', `${IMPACT}proposed.yaml`,
      '--default-policy', 'deny', '-o', 'json',
    ]);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(Object.keys(report)).toEqual(['findings', 'impact', 'summary']);
    expect(report.summary).toEqual({ high: 0, medium: 4, low: 3, info: 2 });
    expect(report.findings.map((f) => f.code)).toEqual([
      'default-policy-audit', 'enforce-would-refuse', 'proposed-would-refuse', 'server-audit-mode',
      'decision-log-bad-lines', 'proposed-pods-missing', 'proposed-would-allow',
      'port-without-server', 'port-without-server',
    ]);
    for (const f of report.findings) expect(Object.keys(f)).toEqual(['code', 'severity', 'resources', 'message', 'fix']);
    expect(report.findings.find((f) => f.code === 'server-audit-mode')!.resources).toEqual([{ resource: 'Server/demo/api-http', file: `${IMPACT}current.yaml`, document: 4 }]);
    expect(Object.keys(report.impact!)).toEqual(['log', 'enforce', 'proposed']);
    expect(report.impact!.log).toMatchObject({ records: 12, badLines: 2 });
    expect(report.impact!.enforce.wouldRefuse).toBe(6);
    expect(report.impact!.proposed).toMatchObject({ evaluated: 10, refused: 4, newlyAllowed: 1, unchanged: 5, missingPods: [{ pod: 'demo/old-0', count: 2 }] });
  });

  it('exit 1 when a finding is at or above --fail-on (default high); --fail-on none never fails', async () => {
    const args = ['audit', '--resources', `${AUDIT}unauthenticated-authorization.yaml`, '--default-policy', 'deny', '-o', 'json'];
    const high = await runCli(args);
    expect(high.code).toBe(ExitCode.FAILURE);
    expect((JSON.parse(high.stdout) as AuditReport).summary).toEqual({ high: 2, medium: 3, low: 0, info: 1 });
    expect((await runCli([...args, '--fail-on', 'none'])).code).toBe(ExitCode.OK);
    const medium = await runCli(['audit', '--resources', `${AUDIT}server-audit-mode.yaml`, '--default-policy', 'deny', '--fail-on', 'medium']);
    expect(medium.code).toBe(ExitCode.FAILURE);
  });

  it('text: the summary, findings grouped by severity with where and how to fix, then the impact', async () => {
    const r = await runCli(['audit', '--resources', `${IMPACT}current.yaml`, '--decisions', `${IMPACT}decisions`, '--default-policy', 'deny', '--fail-on', 'low']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stdout.startsWith('policy audit: 0 high, 3 medium, 1 low, 2 info\n\nMEDIUM (3)\n')).toBe(true);
    expect(r.stdout).toContain(`  [server-audit-mode] Server demo/api-http is in audit mode (accessPolicy audit)`);
    expect(r.stdout).toContain(`      Server/demo/api-http  (${IMPACT}current.yaml, document 4)\n      fix: `);
    expect(r.stdout).toContain(`Decision logs: 12 decision(s) read from 3 file(s); 2 bad line(s) left out:\n  ${IMPACT}decisions/decisions.jsonl.2:3: not JSON\n`);
    expect(r.stdout).toContain('Switching audit to enforce would refuse 6 logged connection(s):\n');
    expect(r.stdout).not.toContain('Proposed resources');
  });

  it('invalid resources: the data error of `policy eval`, every problem, no report', async () => {
    const r = await runCli(['audit', '--resources', `${FIXTURES}invalid`, '-o', 'json']);
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: invalid policy resources (24 problems):');
    expect(r.stderr).toContain('invalid/policy.yaml (document 2): Server demo/api: spec.port: must be a port number 1-65535 or a port name (got 0)');
  });

  it('usage and missing input', async () => {
    const proposedAlone = await runCli(['audit', '--resources', `${AUDIT}clean.yaml`, '--proposed', `${IMPACT}proposed.yaml`]);
    expect(proposedAlone.code).toBe(ExitCode.USAGE);
    expect(proposedAlone.stderr).toContain('--proposed needs --decisions');
    expect((await runCli(['audit', '--resources', `${AUDIT}clean.yaml`, '--fail-on', 'critical'])).code).toBe(ExitCode.USAGE);
    const noLog = await runCli(['audit', '--resources', `${AUDIT}clean.yaml`, '--decisions', `${IMPACT}nope.jsonl`]);
    expect(noLog.code).toBe(ExitCode.NO_INPUT);
    expect(noLog.stderr).toContain('decision log: no file or directory at');
  });
});
