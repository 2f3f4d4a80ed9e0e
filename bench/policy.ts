/**
 * Policy benchmark: decisions per second and latency with 1,000 Servers, 5,000 authorizations
 * (AuthorizationPolicies and ServerAuthorizations) and 10,000 pods, generated; and the time to
 * apply a change of one resource (validate it, rebuild the index from the previous one), beside
 * the time of a full rebuild.
 *
 *   node bin/run-ts.mjs bench/policy.ts [--seconds S] [--namespaces N]
 *
 * Targets (issue 4): >= 200,000 decisions/s on one core, p99 <= 20 us, change applied <= 100 ms.
 * Prints a few lines, then as its last line one JSON object with every figure.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { PolicyIndex } from '../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig, type EvaluationInput } from '../policy/evaluator/types.ts';
import { resourcesFromObjects } from '../policy/resources/load.ts';

const TARGET_PER_SEC = 200_000;
const TARGET_P99_US = 20;
const TARGET_CHANGE_MS = 100;

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, namespaces: { type: 'string', default: '100' } } });
const NS = Number(args.namespaces);
const PODS_PER_NS = 100;
const SERVERS_PER_NS = 10;

const id = (sa: string, ns: string) => `${sa}.${ns}.serviceaccount.identity.linkerd.cluster.local`;
const meta = (name: string, namespace: string, extra: object = {}) => ({ name, namespace, ...extra });
const policy = (kind: string, version: string, name: string, ns: string, spec: object, labels?: object) => ({
  apiVersion: `policy.linkerd.io/${version}`,
  kind,
  metadata: meta(name, ns, labels ? { labels } : {}),
  spec,
});
const serverRef = (name: string) => ({ group: 'policy.linkerd.io', kind: 'Server', name });

function generate(): unknown[] {
  const docs: unknown[] = [];
  for (let n = 0; n < NS; n++) {
    const ns = `ns-${String(n).padStart(3, '0')}`;
    const annotations = n % 10 === 0 ? { 'config.linkerd.io/default-inbound-policy': 'cluster-authenticated' } : {};
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, annotations } });
    for (let p = 0; p < PODS_PER_NS; p++) {
      docs.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta(`app-${p % SERVERS_PER_NS}-${p}`, ns, { labels: { app: `app-${p % SERVERS_PER_NS}`, shard: `s${p % 4}` } }),
        spec: {
          serviceAccountName: `app-${p % SERVERS_PER_NS}`,
          containers: [
            { name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'grpc', containerPort: 9090 }, { name: 'admin', containerPort: 9990 }] },
            { name: 'sidecar', ports: [{ name: 'http-alt', containerPort: 8081 }, { name: 'metrics', containerPort: 4191 }] },
          ],
        },
        status: { podIP: `10.${n}.${Math.floor(p / 250)}.${p % 250}` },
      });
    }
    for (let s = 0; s < SERVERS_PER_NS; s++) {
      const port = s % 3 === 0 ? 'http' : s % 3 === 1 ? 9090 : 'admin';
      docs.push(policy('Server', 'v1beta3', `srv-${s}`, ns, { podSelector: { matchLabels: { app: `app-${s}` } }, port, accessPolicy: s % 5 === 0 ? 'audit' : 'deny' }, { tier: `t${s % 2}` }));
      docs.push(policy('MeshTLSAuthentication', 'v1alpha1', `mtls-${s}`, ns, { identities: [id(`peer-${s}`, ns), `*.frontend-${s}.serviceaccount.identity.linkerd.cluster.local`] }));
      docs.push(policy('NetworkAuthentication', 'v1alpha1', `net-${s}`, ns, { networks: [{ cidr: `10.${n}.0.0/16`, except: [`10.${n}.200.0/24`] }, { cidr: 'fd00::/8' }] }));
      // Five authorizations per Server: 5,000 in all at 100 namespaces.
      docs.push(policy('AuthorizationPolicy', 'v1alpha1', `srv-${s}-client`, ns, { targetRef: serverRef(`srv-${s}`), requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: `client-${s}` }] }));
      docs.push(policy('AuthorizationPolicy', 'v1alpha1', `srv-${s}-peers`, ns, {
        targetRef: serverRef(`srv-${s}`),
        requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: `mtls-${s}` }, { group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: `net-${s}` }],
      }));
      docs.push(policy('ServerAuthorization', 'v1beta1', `srv-${s}-ops`, ns, { server: { name: `srv-${s}` }, client: { meshTLS: { serviceAccounts: [{ name: `ops-${s}`, namespace: 'ops' }] } } }));
      docs.push(policy('ServerAuthorization', 'v1beta1', `tier-${s}`, ns, { server: { selector: { matchLabels: { tier: `t${s % 2}` } } }, client: { meshTLS: { identities: [id(`tier-${s}`, ns)] } } }));
      docs.push(s === 0
        ? policy('AuthorizationPolicy', 'v1alpha1', 'ns-monitoring', ns, { targetRef: { kind: 'Namespace', name: ns }, requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }] })
        : policy('ServerAuthorization', 'v1beta1', `srv-${s}-probes`, ns, { server: { name: `srv-${s}` }, client: { unauthenticated: true, networks: [{ cidr: '192.168.0.0/16' }] } }));
    }
  }
  return docs;
}

function inputs(count: number): EvaluationInput[] {
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const ports = [8080, 9090, 9990, 4191, 7000];
  const out: EvaluationInput[] = [];
  for (let i = 0; i < count; i++) {
    const n = rand(NS);
    const ns = `ns-${String(n).padStart(3, '0')}`;
    const p = rand(PODS_PER_NS);
    const s = p % SERVERS_PER_NS;
    const kind = rand(10);
    // Two thirds of connections go to the port the pod's Server governs, the rest anywhere.
    const port = rand(3) < 2 ? ports[s % 3]! : ports[rand(ports.length)]!;
    const input: EvaluationInput = { pod: `${ns}/app-${s}-${p}`, port, clientIp: `10.${rand(NS)}.${rand(250)}.${rand(250)}` };
    if (kind < 4) input.clientIdentity = id(`client-${s}`, ns);
    else if (kind < 6) input.clientIdentity = id(`stranger-${rand(50)}`, `ns-${rand(NS)}`);
    else if (kind === 6) input.clientIdentity = `api.frontend-${s}.serviceaccount.identity.linkerd.cluster.local`;
    else if (kind === 7) input.clientIp = `203.0.113.${rand(250)}`;
    else if (kind === 8) input.clientIp = `fd00::${rand(65535).toString(16)}`;
    out.push(input);
  }
  return out;
}

const percentile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const docs = generate();
let t = performance.now();
const loaded = resourcesFromObjects(docs, 'generated');
const validateMs = performance.now() - t;
const { resources } = loaded;
const config = defaultEvaluatorConfig();
t = performance.now();
let index = PolicyIndex.build(resources, config);
const buildMs = performance.now() - t;
const authorizations = resources.authorizationPolicies.length + resources.serverAuthorizations.length;
console.log(`generated: ${resources.pods.length} pods, ${resources.servers.length} Servers, ${authorizations} authorizations (${resources.meshTLSAuthentications.length} MeshTLS, ${resources.networkAuthentications.length} Network authentications)`);
console.log(`validate ${round(validateMs)} ms, build ${round(buildMs)} ms, conflicts ${index.conflicts.length}, notes ${index.notes.length}`);

const work = inputs(100_000);
const tally = { allow: 0, deny: 0, audit: 0 };
for (const input of work) tally[index.evaluate(input).decision]++;

// Throughput: a tight loop, no timers inside.
const seconds = Number(args.seconds);
let decisions = 0;
t = performance.now();
while (performance.now() - t < seconds * 1000) {
  for (let i = 0; i < work.length; i++) index.evaluate(work[i]!);
  decisions += work.length;
}
const perSec = decisions / ((performance.now() - t) / 1000);

// Latency: one timer pair per decision (includes ~0.05 us of timer overhead).
const samples = new Float64Array(200_000);
for (let i = 0; i < samples.length; i++) {
  const input = work[i % work.length]!;
  const start = process.hrtime.bigint();
  index.evaluate(input);
  samples[i] = Number(process.hrtime.bigint() - start) / 1000;
}
samples.sort();

// A change of one resource: validate the edited document, swap it into the set, rebuild the
// index (incrementally, from the previous one; and, for comparison, from scratch).
const changeTimes: number[] = [];
const fullTimes: number[] = [];
let current = resources;
for (let i = 0; i < 11; i++) {
  const edited = policy('AuthorizationPolicy', 'v1alpha1', 'srv-3-client', 'ns-007', { targetRef: serverRef('srv-3'), requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: `client-v${i}` }] });
  t = performance.now();
  const [changed] = resourcesFromObjects([edited], 'edit').resources.authorizationPolicies;
  const at = current.authorizationPolicies.findIndex((r) => r.meta.namespace === 'ns-007' && r.meta.name === 'srv-3-client');
  const authorizationPolicies = current.authorizationPolicies.slice();
  authorizationPolicies[at] = changed!;
  current = { ...current, authorizationPolicies };
  index = PolicyIndex.build(current, config, index);
  changeTimes.push(performance.now() - t);
  t = performance.now();
  PolicyIndex.build(current, config);
  fullTimes.push(performance.now() - t);
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
changeTimes.shift(); // the first run of each warms up
fullTimes.shift();
const changeMedian = median(changeTimes);
const changeMax = Math.max(...changeTimes);
const fullMedian = median(fullTimes);
const fullMax = Math.max(...fullTimes);
const applied = index.evaluate({ pod: 'ns-007/app-3-3', port: 8080, clientIdentity: id('client-v10', 'ns-007'), clientIp: '10.7.0.3' });
if (applied.authorization !== 'AuthorizationPolicy/ns-007/srv-3-client') throw new Error(`the change did not apply: ${JSON.stringify(applied)}`);

const p50 = percentile(samples, 0.5);
const p99 = percentile(samples, 0.99);
console.log(`decisions: ${Math.round(perSec).toLocaleString('en-US')}/s over ${seconds} s (mix: ${tally.allow} allow, ${tally.deny} deny, ${tally.audit} audit per 100,000)`);
console.log(`latency: p50 ${round(p50, 2)} us, p99 ${round(p99, 2)} us, max ${round(samples[samples.length - 1]!, 1)} us`);
console.log(`change of one resource: validate + incremental rebuild median ${round(changeMedian)} ms, max ${round(changeMax)} ms; full rebuild median ${round(fullMedian)} ms, max ${round(fullMax)} ms`);
const met = { decisionsPerSec: perSec >= TARGET_PER_SEC, p99: p99 <= TARGET_P99_US, change: changeMax <= TARGET_CHANGE_MS };
console.log(JSON.stringify({
  bench: 'policy',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  pods: resources.pods.length,
  servers: resources.servers.length,
  authorizations,
  validateMs: round(validateMs),
  buildMs: round(buildMs),
  decisionsPerSec: Math.round(perSec),
  latencyUs: { p50: round(p50, 2), p99: round(p99, 2), max: round(samples[samples.length - 1]!, 1) },
  changeMs: { median: round(changeMedian), max: round(changeMax) },
  fullRebuildMs: { median: round(fullMedian), max: round(fullMax) },
  mix: tally,
  targets: { decisionsPerSec: TARGET_PER_SEC, p99Us: TARGET_P99_US, changeMs: TARGET_CHANGE_MS },
  met,
}));
