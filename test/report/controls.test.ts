import { describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../../report/build.ts';
import { CONTROLS } from '../../report/controls/index.ts';
import type { ControlStatus } from '../../report/model.ts';
import type { ReportInputs } from '../../report/inputs.ts';
import { certificate, emptyInputs, goodTrust, healthyInputs, policy, record, withDecisions, withLedger } from './inputs.ts';

const HOUR = 3_600_000;

function statuses(inputs: ReportInputs): Record<string, ControlStatus> {
  return Object.fromEntries(buildComplianceReport(inputs).controls.map((c) => [c.id, c.status]));
}

function evidence(inputs: ReportInputs, id: string): string {
  return buildComplianceReport(inputs).controls.find((c) => c.id === id)!.evidence;
}

describe('controls', () => {
  it('no data: every control is not applicable, none passes', () => {
    const report = buildComplianceReport(emptyInputs());
    expect(report.controls.map((c) => c.id)).toEqual(CONTROLS.map((c) => c.id));
    expect(report.controls.every((c) => c.status === 'not-applicable')).toBe(true);
    expect(report.summary).toEqual({ pass: 0, fail: 0, notApplicable: CONTROLS.length });
    for (const c of report.controls) expect(c.evidence.length).toBeGreaterThan(10);
  });

  it('a healthy mesh: every control passes, with its evidence', () => {
    const all = statuses(healthyInputs());
    expect(Object.values(all).every((s) => s === 'pass')).toBe(true);
    expect(evidence(healthyInputs(), 'pci-dss-4.2.1')).toContain('TLS 1.3');
    expect(evidence(healthyInputs(), 'soc2-cc6.7')).toContain('100.0% of bytes');
  });

  const cases: { name: string; inputs: () => ReportInputs; expect: Record<string, ControlStatus>; evidence?: [string, string] }[] = [
    {
      name: 'fail/plaintext-admitted',
      inputs: () => withDecisions(healthyInputs(), [record(), record({ tls: false, clientIdentity: null, clientIp: '192.0.2.7', server: null, authorization: 'default/all-unauthenticated' })]),
      expect: { 'nist-800-207-tenet-2': 'fail', 'nist-800-207-tenet-6': 'fail', 'pci-dss-4.2.1': 'fail', 'soc2-cc6.6': 'fail', 'soc2-cc6.7': 'fail', 'nist-800-207-tenet-3': 'pass' },
      evidence: ['nist-800-207-tenet-2', '192.0.2.7 -> demo/api:8080 (1)'],
    },
    {
      name: 'pass/plaintext-refused-only: a refused plaintext client carried no data',
      inputs: () => withDecisions(healthyInputs(), [record(), record({ tls: false, clientIdentity: null, decision: 'deny', authorization: null })]),
      expect: { 'nist-800-207-tenet-2': 'pass', 'soc2-cc6.7': 'pass', 'soc2-cc6.6': 'pass', 'pci-dss-4.2.1': 'pass' },
    },
    {
      name: 'n-a/only-refusals: nothing was transmitted',
      inputs: () => withDecisions(healthyInputs(), [record({ decision: 'deny', authorization: null })]),
      expect: { 'nist-800-207-tenet-2': 'not-applicable', 'pci-dss-4.2.1': 'not-applicable', 'soc2-cc6.7': 'not-applicable', 'nist-800-207-tenet-6': 'pass', 'nist-800-207-tenet-3': 'pass' },
    },
    {
      name: 'fail/shared-decision-id',
      inputs: () => withDecisions(healthyInputs(), [record({ decisionId: 'same' }), record({ decisionId: 'same' })]),
      expect: { 'nist-800-207-tenet-3': 'fail' },
    },
    {
      name: 'fail/audit-admission',
      inputs: () => withDecisions(healthyInputs(), [record(), record({ decision: 'audit', authorization: 'default/audit' })]),
      expect: { 'nist-800-207-tenet-6': 'fail', 'nist-800-207-tenet-2': 'pass' },
      evidence: ['nist-800-207-tenet-6', '1 connection(s) admitted in audit mode'],
    },
    {
      name: 'fail/server-in-audit-mode',
      inputs: () => ({ ...healthyInputs(), policy: policy({ accessPolicy: 'audit' }) }),
      expect: { 'nist-800-207-tenet-6': 'fail', 'soc2-cc6.6': 'fail', 'nist-800-207-tenet-4': 'pass' },
    },
    {
      name: 'fail/port-on-default-policy',
      inputs: () => ({ ...healthyInputs(), policy: policy({ server: false, defaultPolicy: 'all-authenticated' }) }),
      expect: { 'nist-800-207-tenet-4': 'fail', 'soc2-cc6.6': 'pass' },
      evidence: ['nist-800-207-tenet-4', 'demo/api:8080 (default all-authenticated)'],
    },
    {
      name: 'pass/port-on-default-deny-is-closed',
      inputs: () => ({ ...healthyInputs(), policy: policy({ server: false, defaultPolicy: 'deny' }) }),
      expect: { 'nist-800-207-tenet-4': 'pass' },
      evidence: ['nist-800-207-tenet-4', 'fall to the default policy deny and admit no one'],
    },
    {
      name: 'fail/port-open-to-unauthenticated',
      inputs: () => ({ ...healthyInputs(), policy: policy({ accessPolicy: 'all-unauthenticated' }) }),
      expect: { 'soc2-cc6.6': 'fail', 'nist-800-207-tenet-4': 'pass' },
    },
    {
      name: 'n-a/pods-unknown-to-the-resources',
      inputs: () => ({ ...healthyInputs(), policy: policy({ pods: false }) }),
      expect: { 'nist-800-207-tenet-4': 'not-applicable' },
      evidence: ['nist-800-207-tenet-4', '1 port(s) seen on pods the resources do not describe'],
    },
    {
      name: 'n-a/policy-without-decisions: no evidence of access',
      inputs: () => ({ ...emptyInputs(), policy: policy() }),
      expect: { 'soc2-cc6.6': 'not-applicable', 'nist-800-207-tenet-6': 'not-applicable', 'nist-800-207-tenet-4': 'pass' },
    },
    {
      name: 'fail/weak-anchor-key',
      inputs: () => ({ ...healthyInputs(), trust: { ...goodTrust(), anchors: [certificate({ keyType: 'RSA 1024' })] } }),
      expect: { 'pci-dss-4.2.1': 'fail', 'trust-chain-validity': 'pass' },
      evidence: ['pci-dss-4.2.1', 'RSA 1024 key, below strong cryptography'],
    },
    {
      name: 'fail/issuer-expired',
      inputs: () => ({ ...healthyInputs(), trust: goodTrust({ notAfter: new Date(Date.parse('2026-08-01T11:00:00Z')).toISOString() }) }),
      expect: { 'pci-dss-4.2.1': 'fail', 'soc2-cc6.1': 'fail', 'trust-chain-validity': 'fail' },
      evidence: ['trust-chain-validity', 'expired at 2026-08-01T11:00:00.000Z'],
    },
    {
      name: 'fail/issuer-not-chained',
      inputs: () => ({ ...healthyInputs(), trust: goodTrust({ chainsTo: null }) }),
      expect: { 'pci-dss-4.2.1': 'fail', 'soc2-cc6.1': 'fail', 'trust-chain-validity': 'fail' },
    },
    {
      name: 'fail/issuer-under-30-days',
      inputs: () => ({ ...healthyInputs(), trust: goodTrust({ daysLeft: 20 }) }),
      expect: { 'trust-chain-validity': 'fail', 'pci-dss-4.2.1': 'pass' },
      evidence: ['trust-chain-validity', 'expires in 20 day(s)'],
    },
    {
      name: 'pass/issuer-under-60-days: a warning in the evidence',
      inputs: () => ({ ...healthyInputs(), trust: goodTrust({ daysLeft: 45 }) }),
      expect: { 'trust-chain-validity': 'pass' },
      evidence: ['trust-chain-validity', 'warning: issuer "CN=identity.linkerd.cluster.local" expires in 45 day(s)'],
    },
    {
      name: 'fail/bundle-unreadable',
      inputs: () => ({ ...healthyInputs(), trust: { ...goodTrust(), anchors: [], bundleError: 'bundle.crt does not exist' } }),
      expect: { 'trust-chain-validity': 'fail', 'pci-dss-4.2.1': 'fail' },
    },
    {
      name: 'fail/long-lived-certificates',
      inputs: () => withLedger(healthyInputs(), [24 * HOUR, 48 * HOUR]),
      expect: { 'soc2-cc6.1': 'fail', 'ledger-integrity': 'pass' },
      evidence: ['soc2-cc6.1', 'certificates live up to 48h, longer than 24h5m'],
    },
    {
      name: 'fail/ledger-altered',
      inputs: () => withLedger(healthyInputs(), [24 * HOUR], false),
      expect: { 'ledger-integrity': 'fail', 'soc2-cc6.1': 'fail' },
      evidence: ['ledger-integrity', 'line 2: hash-mismatch: the record was edited'],
    },
    {
      name: 'n-a/no-certificate-in-window',
      inputs: () => withLedger(healthyInputs(), []),
      expect: { 'soc2-cc6.1': 'not-applicable', 'ledger-integrity': 'pass' },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const inputs = c.inputs();
      expect(statuses(inputs)).toMatchObject(c.expect);
      if (c.evidence) expect(evidence(inputs, c.evidence[0])).toContain(c.evidence[1]);
    });
  }
});
