/** Report inputs made by hand, for the pure builder: no home, no files. */
import type { LedgerRecord, LedgerReport } from '../../identity/ledger/index.ts';
import type { DecisionRecord } from '../../policy/audit/decision-log.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { parseManifest, resourcesFromManifests } from '../../policy/resources/load.ts';
import type { DefaultPolicyName } from '../../policy/resources/types.ts';
import type { CertificateFacts, PolicyInput, ReportInputs } from '../../report/inputs.ts';

export const NOW = new Date('2026-08-01T12:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;

export function emptyInputs(): ReportInputs {
  return {
    now: NOW,
    since: null,
    home: '/nowhere',
    decisions: { paths: [], records: [], log: { files: [], records: 0, badLines: 0, bad: [] } },
    ledger: { path: '/nowhere/ledger.jsonl', present: false, records: [], verification: null, readError: null },
    trust: { bundleSource: '/nowhere/bundle.crt', anchors: [], bundleFingerprint: null, bundleError: null, issuer: null, issuerError: null },
    rotation: { current: null, last: null, retiredAnchors: [] },
    policy: null,
  };
}

export function certificate(fields: Partial<CertificateFacts> & { daysLeft?: number } = {}): CertificateFacts {
  const { daysLeft = 300, ...rest } = fields;
  return {
    subject: 'CN=root.linkerd.cluster.local',
    fingerprint: 'a'.repeat(64),
    serial: '41',
    notBefore: new Date(NOW.getTime() - DAY).toISOString(),
    notAfter: new Date(NOW.getTime() + daysLeft * DAY + HOUR).toISOString(),
    keyType: 'ECDSA P-256',
    isCa: true,
    ...rest,
  };
}

/** A valid anchor and an issuer it signed, both far from expiry. */
export function goodTrust(issuer: Partial<CertificateFacts> & { daysLeft?: number; chainsTo?: string | null } = {}): ReportInputs['trust'] {
  const { chainsTo = 'a'.repeat(64), ...facts } = issuer;
  return {
    bundleSource: '/nowhere/bundle.crt',
    anchors: [certificate()],
    bundleFingerprint: 'f'.repeat(64),
    bundleError: null,
    issuer: { ...certificate({ subject: 'CN=identity.linkerd.cluster.local', fingerprint: 'b'.repeat(64), daysLeft: 150, ...facts }), chainsTo },
    issuerError: null,
  };
}

let n = 0;
export function record(fields: Partial<DecisionRecord> = {}): DecisionRecord {
  n++;
  return {
    v: 1,
    time: new Date(NOW.getTime() - HOUR + n * 1000).toISOString(),
    pod: 'demo/api',
    port: 8080,
    clientIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local',
    clientIp: '10.0.0.5',
    tls: true,
    decision: 'allow',
    server: 'demo/api',
    authorization: 'AuthorizationPolicy/demo/api-from-web',
    reason: 'admitted',
    bytesIn: 100,
    bytesOut: 50,
    durationMs: 1,
    decisionId: `id-${n}`,
    ...fields,
  };
}

export function withDecisions(inputs: ReportInputs, records: DecisionRecord[]): ReportInputs {
  return { ...inputs, decisions: { paths: ['/logs'], records, log: { files: ['/logs/decisions.jsonl'], records: records.length, badLines: 0, bad: [] } } };
}

/** A verified ledger holding `lifetimesMs.length` certificates of those lifetimes. */
export function withLedger(inputs: ReportInputs, lifetimesMs: number[], ok = true): ReportInputs {
  const records: LedgerRecord[] = lifetimesMs.map((life, i) => {
    const notBefore = NOW.getTime() - 2 * HOUR;
    return {
      seq: i + 1,
      time: new Date(notBefore).toISOString(),
      identity: `sa${i}.demo.serviceaccount.identity.linkerd.cluster.local`,
      serial: (0x4000 + i).toString(16),
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notBefore + life).toISOString(),
      certSha256: 'c'.repeat(64),
      publicKeySha256: 'd'.repeat(64),
      issuerFingerprint: 'b'.repeat(64),
      tokenSubject: `system:serviceaccount:demo:sa${i}`,
      prev: '0'.repeat(64),
      hash: 'e'.repeat(64),
    };
  });
  const problem = { line: 2, kind: 'hash-mismatch' as const, severity: 'error' as const, message: 'the record was edited' };
  const verification: LedgerReport = {
    path: '/nowhere/ledger.jsonl',
    ok,
    count: records.length,
    lastSeq: records.length,
    lastHash: 'e'.repeat(64),
    problems: ok ? [] : [problem],
    errors: ok ? [] : [problem],
    warnings: [],
  };
  return { ...inputs, ledger: { path: '/nowhere/ledger.jsonl', present: true, records, verification, readError: null } };
}

const PODS = `apiVersion: v1
kind: Pod
metadata: { name: api, namespace: demo, labels: { app: api } }
spec:
  serviceAccountName: api
  containers: [{ name: api, ports: [{ name: http, containerPort: 8080, protocol: TCP }] }]
`;

const SERVER = `---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: api, namespace: demo }
spec: { podSelector: { matchLabels: { app: api } }, port: http, accessPolicy: ACCESS }
`;

/** api's port 8080 under a Server with that accessPolicy, or (server: false) on the default policy. */
export function policy(options: { server?: boolean; accessPolicy?: DefaultPolicyName; defaultPolicy?: DefaultPolicyName; pods?: boolean } = {}): PolicyInput {
  const text = (options.pods === false ? '' : PODS) + (options.server === false ? '' : SERVER.replace('ACCESS', options.accessPolicy ?? 'deny'));
  const { resources } = resourcesFromManifests([parseManifest(text, 'policy.yaml')]);
  return { paths: ['policy.yaml'], files: ['policy.yaml'], resources, config: defaultEvaluatorConfig({ defaultPolicy: options.defaultPolicy ?? 'deny' }) };
}

/** Everything in order: mTLS traffic, a verified ledger of daily certificates, a good chain, enforced policy. */
export function healthyInputs(): ReportInputs {
  const base = withLedger(withDecisions(emptyInputs(), [record(), record(), record({ decision: 'deny', authorization: null, clientIdentity: 'x.demo.serviceaccount.identity.linkerd.cluster.local' })]), [24 * HOUR + 20_000, 24 * HOUR + 20_000]);
  return { ...base, trust: goodTrust(), policy: policy() };
}
