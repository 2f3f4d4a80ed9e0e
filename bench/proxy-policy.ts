/**
 * The `policy` path of the proxy benchmark: the policy directory its server proxy enforces, and
 * the evidence, read from that proxy's own /metrics and decision log, that every connection of
 * the path was decided by that policy (allowed) and logged.
 *
 * The directory: a Namespace, the ServiceAccounts of both proxies, a Pod NS/server (label
 * app=server, container port `sink` = the sink's port), a Server `sink` on that port (accessPolicy
 * deny), a MeshTLSAuthentication naming the client proxy's ServiceAccount and an
 * AuthorizationPolicy targeting the Server. With `--default-policy deny`, nothing else is admitted.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { identityName, type IdentityDomain } from '../common/names.ts';
import { PolicyIndex } from '../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig } from '../policy/evaluator/types.ts';
import { loadResources } from '../policy/resources/load.ts';

export const POLICY_POD_NAME = 'server';
const SERVER_NAME = 'sink';
const AUTHN_NAME = 'proxy-client';
const AUTHZ_NAME = 'sink-from-proxy-client';

export interface BenchPolicy {
  dir: string;
  /** `NS/NAME`, for `--pod`. */
  pod: string;
  /** `NS/NAME` of the Server, as decisions name it. */
  server: string;
  /** `Kind/NS/NAME` of the AuthorizationPolicy, as decisions name it. */
  authorization: string;
  clientIdentity: string;
  /** What the evaluator had to say about the resources (none expected). */
  notes: string[];
}

/**
 * Writes the directory and checks it with the evaluator the proxy uses: the client proxy's
 * identity is allowed through the Server and the AuthorizationPolicy; another identity and a
 * plaintext client are denied. Throws when not.
 */
export async function writeBenchPolicy(o: { dir: string; namespace: string; serverSa: string; clientSa: string; sinkPort: number; domain: IdentityDomain }): Promise<BenchPolicy> {
  const ns = o.namespace;
  const documents: object[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: o.serverSa, namespace: ns } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: o.clientSa, namespace: ns } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: POLICY_POD_NAME, namespace: ns, labels: { app: POLICY_POD_NAME } },
      spec: { serviceAccountName: o.serverSa, containers: [{ name: 'sink', ports: [{ name: 'sink', containerPort: o.sinkPort, protocol: 'TCP' }] }] },
    },
    {
      apiVersion: 'policy.linkerd.io/v1beta3',
      kind: 'Server',
      metadata: { name: SERVER_NAME, namespace: ns },
      spec: { podSelector: { matchLabels: { app: POLICY_POD_NAME } }, port: 'sink', proxyProtocol: 'unknown', accessPolicy: 'deny' },
    },
    {
      apiVersion: 'policy.linkerd.io/v1alpha1',
      kind: 'MeshTLSAuthentication',
      metadata: { name: AUTHN_NAME, namespace: ns },
      spec: { identityRefs: [{ kind: 'ServiceAccount', name: o.clientSa, namespace: ns }] },
    },
    {
      apiVersion: 'policy.linkerd.io/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: { name: AUTHZ_NAME, namespace: ns },
      spec: {
        targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: SERVER_NAME },
        requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: AUTHN_NAME }],
      },
    },
  ];
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  await writeFile(join(o.dir, 'bench-policy.yaml'), `# Written by bench/proxy.ts for the policy path.\n${documents.map((d) => stringify(d)).join('---\n')}`, { mode: 0o600 });

  const policy: BenchPolicy = {
    dir: o.dir,
    pod: `${ns}/${POLICY_POD_NAME}`,
    server: `${ns}/${SERVER_NAME}`,
    authorization: `AuthorizationPolicy/${ns}/${AUTHZ_NAME}`,
    clientIdentity: identityName({ namespace: ns, name: o.clientSa }, o.domain),
    notes: [],
  };
  const index = PolicyIndex.build((await loadResources([o.dir])).resources, defaultEvaluatorConfig({ domain: o.domain, defaultPolicy: 'deny' }));
  policy.notes = [...index.notes];
  const decide = (clientIdentity?: string) => index.evaluate({ pod: policy.pod, port: o.sinkPort, clientIp: '127.0.0.1', ...(clientIdentity ? { clientIdentity } : {}) });
  const allowed = decide(policy.clientIdentity);
  if (allowed.decision !== 'allow' || allowed.server !== policy.server || allowed.authorization !== policy.authorization) {
    throw new Error(`the bench policy in ${o.dir} does not admit ${policy.clientIdentity} through ${policy.server} and ${policy.authorization}: ${JSON.stringify(allowed)}`);
  }
  for (const other of [identityName({ namespace: ns, name: 'someone-else' }, o.domain), undefined]) {
    const d = decide(other);
    if (d.decision !== 'deny') throw new Error(`the bench policy in ${o.dir} admits ${other ?? 'a plaintext client'}: ${JSON.stringify(d)}`);
  }
  return policy;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition to samples (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const sumOf = (samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((n, s) => n + s.value, 0);

async function getJson(adminPort: number, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
  return res.json();
}

/** Resolves once the proxy's policy from the directory is in force (`/policy` state current); throws after `timeoutMs`. */
export async function waitForPolicy(adminPort: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await getJson(adminPort, '/policy').catch((err: Error) => err.message);
    const doc = last as { state?: string; generation?: number };
    if (doc?.state === 'current' && (doc.generation ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`the policy server proxy never put its policy directory in force: /policy says ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EnforcementFacts {
  /** Connections the bench made on the path (client side). */
  connections: number;
  /** `inbound_tcp_authz_allow_total`, every label. */
  allowed: number;
  /** Of those, admitted by the bench's Server and AuthorizationPolicy for the client proxy's identity over mTLS. */
  allowedByPolicy: number;
  denied: number;
  audited: number;
  decisionLogRecords: number;
  decisionLogDropped: number;
  decisionLogDroppedByReason: Record<string, number>;
  /** Lines in the decision log file and its rotations (rotation may have discarded the oldest). */
  decisionLogLines: number;
  decisionLogAllowLines: number;
  decisionLogFiles: number;
}

/**
 * Reads the server proxy's /metrics (waiting up to `settleMs` for the decision log to catch up
 * with the connections, whose records are written when they close) and its decision log, and
 * throws unless every connection of the path was allowed by the bench's policy and logged:
 * allow total = `connections`, all through the bench's Server and AuthorizationPolicy, no deny,
 * no audit, and lines in the decision log. Dropped records are a figure, not a failure.
 */
export async function verifyEnforcement(o: { adminPort: number; connections: number; decisionLog: string; policy: BenchPolicy; settleMs?: number }): Promise<EnforcementFacts> {
  const deadline = Date.now() + (o.settleMs ?? 10_000);
  let samples: Sample[];
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${o.adminPort}/metrics`);
    if (!res.ok) throw new Error(`GET /metrics of the policy server proxy: HTTP ${res.status}`);
    samples = parseMetrics(await res.text());
    const allowed = sumOf(samples, 'inbound_tcp_authz_allow_total');
    const logged = sumOf(samples, 'proxy_decision_log_records_total') + sumOf(samples, 'proxy_decision_log_dropped_total');
    if ((allowed >= o.connections && logged >= allowed) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { policy } = o;
  const bare = (name: string) => name.slice(name.lastIndexOf('/') + 1);
  const droppedByReason: Record<string, number> = {};
  for (const s of samples.filter((s) => s.name === 'proxy_decision_log_dropped_total')) droppedByReason[s.labels.reason ?? ''] = (droppedByReason[s.labels.reason ?? ''] ?? 0) + s.value;

  let lines = 0;
  let allowLines = 0;
  const dir = dirname(o.decisionLog);
  const base = basename(o.decisionLog);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f === base || new RegExp(`^${base.replace(/\./g, '\\.')}\\.\\d+$`).test(f));
  for (const file of files) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      lines++;
      try {
        const r = JSON.parse(line) as { decision?: string; server?: string; authorization?: string; clientIdentity?: string };
        if (r.decision === 'allow' && r.server === policy.server && r.authorization === policy.authorization && r.clientIdentity === policy.clientIdentity) allowLines++;
      } catch {
        // counted as a line, not as an allow
      }
    }
  }

  const facts: EnforcementFacts = {
    connections: o.connections,
    allowed: sumOf(samples, 'inbound_tcp_authz_allow_total'),
    allowedByPolicy: sumOf(
      samples,
      'inbound_tcp_authz_allow_total',
      (l) => l.srv_kind === 'server' && l.srv_name === bare(policy.server) && l.authz_name === bare(policy.authorization) && l.tls === 'true' && l.client_id === policy.clientIdentity,
    ),
    denied: sumOf(samples, 'inbound_tcp_authz_deny_total'),
    audited: sumOf(samples, 'inbound_tcp_authz_audit_total'),
    decisionLogRecords: sumOf(samples, 'proxy_decision_log_records_total'),
    decisionLogDropped: sumOf(samples, 'proxy_decision_log_dropped_total'),
    decisionLogDroppedByReason: droppedByReason,
    decisionLogLines: lines,
    decisionLogAllowLines: allowLines,
    decisionLogFiles: files.length,
  };
  const problems: string[] = [];
  if (facts.allowed !== facts.connections) problems.push(`inbound_tcp_authz_allow_total is ${facts.allowed}, but the bench made ${facts.connections} connections on the path`);
  if (facts.allowedByPolicy !== facts.allowed) problems.push(`only ${facts.allowedByPolicy} of ${facts.allowed} allows are by Server ${policy.server} and ${policy.authorization} for ${policy.clientIdentity} over mTLS`);
  if (facts.denied !== 0) problems.push(`inbound_tcp_authz_deny_total is ${facts.denied}, expected 0`);
  if (facts.audited !== 0) problems.push(`inbound_tcp_authz_audit_total is ${facts.audited}, expected 0`);
  if (facts.decisionLogLines === 0) problems.push(`the decision log ${o.decisionLog} has no lines`);
  else if (facts.decisionLogAllowLines === 0) problems.push(`the decision log ${o.decisionLog} has no allow line for ${policy.clientIdentity} by ${policy.authorization}`);
  if (problems.length) throw new Error(`the policy path did not measure enforcement: ${problems.join('; ')}`);
  return facts;
}
