import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../../report/build.ts';
import { gatherReportInputs } from '../../report/gather/index.ts';
import type { ComplianceReport } from '../../report/model.ts';
import { apiId, DEFAULT_LIFETIME_MS, HOUR, intruderId, makeReportFixture, NOW, SHORT_LIFETIME_MS, T0, webId, type ReportFixture } from './fixture.ts';

let f: ReportFixture;
let report: ComplianceReport;

beforeAll(async () => {
  f = await makeReportFixture();
  report = buildComplianceReport(await gatherReportInputs({ home: f.home, now: NOW, evaluator: { defaultPolicy: 'all-unauthenticated' } }));
});

afterAll(async () => {
  await f?.cleanup();
});

const MTLS_BYTES = 28_000 + 2_800;
const PLAINTEXT_BYTES = 3_000;

describe('report figures on a controlled run', () => {
  it('reads every decision log below the directory, rotations included, and counts the bad line', () => {
    const d = report.sources.decisionLogs;
    expect(d.files.map((file) => file.slice(f.decisionsDir.length + 1))).toEqual(['decisions.jsonl.1', 'decisions.jsonl', 'api-admin/decisions.jsonl']);
    expect(d).toMatchObject({ records: 12, inWindow: 12, badLines: 1 });
    expect(d.bad[0]).toMatchObject({ line: 6, reason: expect.stringContaining('time') });
  });

  it('mTLS coverage: 7 mutually authenticated, 3 plaintext, 2 refused, exact shares of connections and bytes', () => {
    const m = report.mtls;
    expect(m.decisions).toEqual({ total: 12, allow: 10, audit: 0, deny: 2 });
    expect(m.admitted).toEqual({ connections: 10, mtlsConnections: 7, plaintextConnections: 3, bytes: MTLS_BYTES + PLAINTEXT_BYTES, mtlsBytes: MTLS_BYTES, plaintextBytes: PLAINTEXT_BYTES });
    expect(m.denied).toEqual({ connections: 2, mtls: 1, plaintext: 1 });
    expect(m.connectionShare).toBe(0.7);
    expect(m.byteShare).toBe(MTLS_BYTES / (MTLS_BYTES + PLAINTEXT_BYTES));
  });

  it('lists every plaintext flow, admitted or refused', () => {
    expect(report.mtls.plaintextFlows).toEqual([
      { clientIp: '10.0.0.9', pod: 'demo/api', port: 9090, connections: 3, admitted: 3, denied: 0, bytes: 3_000, firstSeen: '2026-08-01T03:10:00.000Z', lastSeen: '2026-08-01T03:30:00.000Z' },
      { clientIp: '10.0.0.66', pod: 'demo/api', port: 8080, connections: 1, admitted: 0, denied: 1, bytes: 0, firstSeen: '2026-08-01T04:30:00.000Z', lastSeen: '2026-08-01T04:30:00.000Z' },
    ]);
  });

  it('coverage over time: five-minute buckets over the 3.5 h of traffic, every connection in one', () => {
    const t = report.mtls.timeline;
    expect(t.bucketMs).toBe(5 * 60_000);
    expect(t.buckets).toHaveLength(43);
    expect(t.buckets[0]).toMatchObject({ start: '2026-08-01T01:00:00.000Z', mtlsConnections: 1, mtlsBytes: 1_100, connectionShare: 1 });
    const sum = (key: 'mtlsConnections' | 'plaintextConnections' | 'deniedConnections') => t.buckets.reduce((n, b) => n + b[key], 0);
    expect([sum('mtlsConnections'), sum('plaintextConnections'), sum('deniedConnections')]).toEqual([7, 3, 2]);
    expect(t.buckets.find((b) => b.start === '2026-08-01T03:10:00.000Z')).toMatchObject({ plaintextConnections: 1, connectionShare: 0 });
  });

  it('identity inventory from the ledger: certificates per identity, lifetimes, key types', () => {
    const inv = report.inventory;
    expect(inv.certificates).toBe(5);
    expect(inv.identities).toEqual([
      { identity: apiId, certificates: 2, firstIssued: '2026-08-01T01:30:00.000Z', lastIssued: '2026-08-01T04:00:00.000Z', latestNotAfter: '2026-08-02T01:30:00.000Z', current: true },
      { identity: webId, certificates: 3, firstIssued: '2026-08-01T01:00:00.000Z', lastIssued: '2026-08-01T03:00:00.000Z', latestNotAfter: '2026-08-02T03:00:00.000Z', current: true },
    ]);
    expect(inv.lifetimeMs).toEqual({ min: SHORT_LIFETIME_MS, median: DEFAULT_LIFETIME_MS, max: DEFAULT_LIFETIME_MS });
    expect(inv.keyTypes).toEqual([
      { role: 'anchor', keyType: 'ECDSA P-256', certificates: 1, source: 'certificate' },
      { role: 'issuer', keyType: 'ECDSA P-256', certificates: 1, source: 'certificate' },
      { role: 'leaf', keyType: 'ECDSA P-256', certificates: 5, source: 'issuance-profile' },
    ]);
  });

  it('ledger integrity: verified by the ledger verifier', () => {
    expect(report.ledger).toMatchObject({ present: true, verified: true, records: 5, lastSeq: 5, errors: [], readError: null });
  });

  it('trust chain: the anchor and the rotated issuer, days left, a warning under 60 days', () => {
    const t = report.trust;
    expect(t.anchors).toHaveLength(1);
    expect(t.anchors[0]).toMatchObject({ fingerprint: f.anchor, subject: 'CN=root.linkerd.cluster.local', daysLeft: 364, keyType: 'ECDSA P-256', isCa: true, state: 'valid' });
    // issuer 2: made at 2h30 for 45 days; now is 6h.
    expect(t.issuer).toMatchObject({ fingerprint: f.issuer2, daysLeft: 44, state: 'warning', chainsTo: f.anchor });
    expect(t.warnings).toEqual([expect.objectContaining({ role: 'issuer', level: 'warning', daysLeft: 44 })]);
  });

  it('rotation history: the last anchor rotation on record, and the issuer change the ledger shows', () => {
    const r = report.rotation;
    expect(r.recorded).toBe(true);
    expect(r.inProgress).toBeNull();
    expect(r.last).toMatchObject({ id: 'rot-1', outcome: 'completed', completed: 'retire', oldAnchor: { subject: 'CN=old-root' }, newAnchor: { fingerprint: f.anchor } });
    expect(r.last!.phases.map((p) => p.step)).toEqual(['prepare', 'retire']);
    expect(r.issuers).toEqual([
      { fingerprint: f.issuer1, certificates: 3, firstIssued: '2026-08-01T01:00:00.000Z', lastIssued: '2026-08-01T02:00:00.000Z', current: false },
      { fingerprint: f.issuer2, certificates: 2, firstIssued: '2026-08-01T03:00:00.000Z', lastIssued: '2026-08-01T04:00:00.000Z', current: true },
    ]);
    expect(r.issuerChanges).toEqual([{ time: '2026-08-01T03:00:00.000Z', seq: 4, from: f.issuer1, to: f.issuer2 }]);
  });

  it('policy coverage: enforced by a Server, in audit, on the default policy', () => {
    const p = report.policy;
    expect(p.counts).toEqual({ ports: 3, enforced: 1, audit: 1, default: 1, unknown: 0 });
    expect(p.ports.map((x) => [`${x.pod}:${x.port}`, x.status, x.server ?? x.defaultPolicy, x.admitsUnauthenticated, x.seenInDecisions])).toEqual([
      ['demo/api:8080', 'enforced', 'demo/api', false, true],
      ['demo/api:9090', 'default', 'all-unauthenticated', true, true],
      ['demo/web:8080', 'audit', 'demo/web', false, false],
    ]);
    expect(p.findings?.items.map((i) => i.code)).toEqual(expect.arrayContaining(['port-without-server', 'server-audit-mode']));
  });

  it('denials by server and by client, with an example reason', () => {
    const d = report.denials;
    expect(d.total).toBe(2);
    expect(d.byServer).toEqual([expect.objectContaining({ target: 'Server demo/api', server: 'demo/api', count: 2, clients: 2 })]);
    expect(d.byServer[0]!.example.reason).toBe('no authorization of Server demo/api admits intruder');
    expect(d.byClient.map((c) => [c.client, c.count, c.clientIp])).toEqual([
      [intruderId, 1, null],
      ['unauthenticated 10.0.0.66', 1, '10.0.0.66'],
    ]);
  });

  it('the controls, each from the data', () => {
    const status = Object.fromEntries(report.controls.map((c) => [c.id, c.status]));
    expect(status).toEqual({
      'nist-800-207-tenet-2': 'fail',
      'nist-800-207-tenet-3': 'pass',
      'nist-800-207-tenet-4': 'fail',
      'nist-800-207-tenet-6': 'fail',
      'pci-dss-4.2.1': 'fail',
      'soc2-cc6.1': 'pass',
      'soc2-cc6.6': 'fail',
      'soc2-cc6.7': 'fail',
      'ledger-integrity': 'pass',
      'trust-chain-validity': 'pass',
    });
    expect(report.summary).toEqual({ pass: 4, fail: 6, notApplicable: 0 });
    const evidence = (id: string) => report.controls.find((c) => c.id === id)!.evidence;
    expect(evidence('nist-800-207-tenet-2')).toContain('3 of 10 admitted connections (30.0%) were plaintext');
    expect(evidence('nist-800-207-tenet-2')).toContain('10.0.0.9 -> demo/api:9090 (3)');
    expect(evidence('soc2-cc6.1')).toContain('5 certificates issued to 2 identities');
    expect(evidence('trust-chain-validity')).toContain('expires in 44 day(s)');
  });
});

describe('--since', () => {
  it('counts only the decisions and certificates of the last 3 hours', async () => {
    const since = buildComplianceReport(await gatherReportInputs({ home: f.home, now: NOW, sinceMs: 3 * HOUR }));
    expect(since.window).toEqual({ since: new Date(T0 + 3 * HOUR).toISOString(), until: NOW.toISOString() });
    expect(since.sources.decisionLogs).toMatchObject({ records: 12, inWindow: 6 });
    // at 3h and after: one mTLS connection (7,700 bytes), the 3 plaintext ones, both refusals
    expect(since.mtls.admitted).toEqual({ connections: 4, mtlsConnections: 1, plaintextConnections: 3, bytes: 10_700, mtlsBytes: 7_700, plaintextBytes: 3_000 });
    expect(since.mtls.connectionShare).toBe(0.25);
    expect(since.mtls.denied.connections).toBe(2);
    expect(since.inventory.certificates).toBe(2);
    expect(since.inventory.identities.map((i) => [i.identity, i.certificates])).toEqual([
      [apiId, 1],
      [webId, 1],
    ]);
    expect(since.rotation.issuerChanges).toEqual([]);
    // The ledger's integrity is always the whole ledger's.
    expect(since.ledger.records).toBe(5);
    // The buckets span the window, since..now: 37 five-minute buckets over 3 h.
    expect(since.mtls.timeline.bucketMs).toBe(5 * 60_000);
    expect(since.mtls.timeline.buckets).toHaveLength(37);
    expect(since.mtls.timeline.buckets[0]!.start).toBe('2026-08-01T03:00:00.000Z');
  });

  it('a window with nothing in it: figures are zero or null, and the traffic controls are not applicable', async () => {
    const empty = buildComplianceReport(await gatherReportInputs({ home: f.home, now: new Date(T0 + 30 * 86_400_000), sinceMs: HOUR }));
    expect(empty.mtls.connectionShare).toBeNull();
    expect(empty.mtls.timeline).toEqual({ bucketMs: 0, buckets: [] });
    expect(empty.inventory).toMatchObject({ certificates: 0, lifetimeMs: null });
    const status = Object.fromEntries(empty.controls.map((c) => [c.id, c.status]));
    for (const id of ['nist-800-207-tenet-2', 'nist-800-207-tenet-3', 'pci-dss-4.2.1', 'soc2-cc6.1', 'soc2-cc6.7']) expect(status[id]).toBe('not-applicable');
  });
});
