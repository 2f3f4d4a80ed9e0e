/**
 * Kubernetes mode end to end (issue 4): policy written into the test API server, served by the
 * real `identity policy-controller` process, enforced by the real `identity proxy --pod
 * --policy-addr` process of api. Clients are in-process proxies with real certificates from an
 * in-process identity service; all on 127.0.0.1, so clients are told apart by identity only.
 *
 *   test API server ──list/watch──> identity policy-controller ══ WatchPort ══> identity proxy (api) ──> echo app
 *   test client ──> web / other proxy (outbound) ══ mTLS ══════════════════════> api inbound
 *   plaintext client ──────────────────────────────────────────────────────────> api inbound
 *
 * Two more (in-process) api proxies watch a controller that is not there — a closed port, and a
 * port that accepts and never answers — so their `defaultPolicy` decides.
 *
 * The tests run in order: later ones change the resources, drop the watches, stop the controller.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchPodPolicyFromController } from '../../policy/api/client-source.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { DEFAULT_IDENTITY_SERVICE_NAME } from '../../proxy/config.ts';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { logEvent, type ManagedProcess } from '../../mesh/process.ts';
import { KubeApiServer, type ObjectInput } from '../support/kube-api-server.ts';
import { writeKubeConfig } from '../support/kubeconfig.ts';
import { authorizationPolicyObject, meshTLSAuthenticationObject, podObject, serverObject, type AuthenticationRef } from '../support/kube-policy.ts';
import { eventually, idOf, metric, startMesh, type Mesh } from './support/mesh.ts';
import { capturingLogger, openConnection, tryOnce, within, type CapturedLogs } from './support/policy.ts';
import { freePortBelowEphemeralRange, ProcessSet, startProxyProcess, type ProxyProcess } from './support/processes.ts';
import { echo, startServer, waitForData, type TestServer } from './support/sockets.ts';

const WEB = idOf('web');
const OTHER = idOf('other');
const API = idOf('api');
const POD = 'demo/api';
/** The issue's bound for a change to reach new connections is 1 s; the tests wait at most this. */
const PROPAGATION_BOUND_MS = 5_000;
/** The issue's target for an API write to reach new connections. */
const ISSUE_TARGET_MS = 1_000;

let kube: KubeApiServer;
let mesh: Mesh;
let app: TestServer;
let blackhole: TestServer; // accepts TCP, never answers: a controller that hangs
let dir: string;
let processes: ProcessSet;
let kubeconfig: string;
let controllerPort: number;
let controller: ManagedProcess;
let api: ProxyProcess;
let apiDeny: RunningProxy; // controller on a closed port; --default-policy deny
let apiAuthn: RunningProxy; // controller that never answers; --default-policy all-authenticated
let denyLogs: CapturedLogs;
let web: RunningProxy;
let other: RunningProxy;
const out = { webToApi: 0, otherToApi: 0, webToDeny: 0, webToAuthn: 0 };
const figures: string[] = [];

// --- resources ------------------------------------------------------------------------------

/** AuthorizationPolicy demo/api-from-web on Server demo/api, requiring `ref`. */
const apiPolicy = (ref: AuthenticationRef): ObjectInput => authorizationPolicyObject('api-from-web', 'api', [ref]);
const viaMeshTls: AuthenticationRef = { kind: 'MeshTLSAuthentication', name: 'api-clients' };
/** MeshTLSAuthentication demo/api-clients naming ServiceAccounts of demo. */
const apiClients = (...accounts: string[]): ObjectInput => ({
  ...meshTLSAuthenticationObject('api-clients', []),
  spec: { identityRefs: accounts.map((name) => ({ kind: 'ServiceAccount', name })) },
});

function seed(appPort: number): void {
  kube.putNamespace({ metadata: { name: 'demo' } });
  for (const name of ['api', 'web', 'other']) kube.putServiceAccount('demo', { metadata: { name } });
  kube.putPod('demo', podObject('api', { labels: { app: 'api' }, serviceAccount: 'api', ports: [{ name: 'http', containerPort: appPort }] }));
  kube.putPod('demo', podObject('web', { labels: { app: 'web' }, serviceAccount: 'web' }));
  kube.putPod('demo', podObject('other', { labels: { app: 'other' }, serviceAccount: 'other' }));
  kube.putPolicy('servers', 'demo', serverObject('api', { matchLabels: { app: 'api' }, port: 'http' }));
  kube.putPolicy('meshtlsauthentications', 'demo', apiClients('web'));
  kube.putPolicy('authorizationpolicies', 'demo', apiPolicy(viaMeshTls));
}

// --- processes ------------------------------------------------------------------------------

let controllerRuns = 0;
/** `identity policy-controller` on the fixed controller port; resolves once it has listed everything. */
async function startController(): Promise<ManagedProcess> {
  const p = await processes.spawn(`policy-controller-${++controllerRuns}`, [
    'policy-controller', '--kubeconfig', kubeconfig, '--listen', `127.0.0.1:${controllerPort}`, '--admin-listen', '127.0.0.1:0',
  ]);
  await p.waitForLine(logEvent('controller.ready', () => true), 60_000);
  return p;
}

beforeAll(async () => {
  let closedPort: number;
  [kube, mesh, app, blackhole, dir, controllerPort, closedPort] = await Promise.all([
    KubeApiServer.start(),
    startMesh(),
    startServer((s) => echo(s)),
    startServer(() => {}),
    mkdtemp(join(tmpdir(), 'policy-controller-e2e-')),
    freePortBelowEphemeralRange(), // the controller restarts on it (see freePortBelowEphemeralRange)
    startServer(() => {}).then(async (s) => (await s.close(), s.port)),
  ]);
  processes = new ProcessSet(join(dir, 'logs'));
  kubeconfig = await writeKubeConfig(kube, dir);
  seed(app.port);
  controller = await startController();

  const unreachable = (address: string, defaultPolicy: 'deny' | 'all-authenticated', logs: CapturedLogs) =>
    watchPodPolicyFromController({ address, pod: POD, ports: [app.port], config: defaultEvaluatorConfig({ defaultPolicy }), logger: logs.logger, backoff: { initialMs: 50, maxMs: 200 } });
  denyLogs = capturingLogger('debug');
  [api, apiDeny, apiAuthn] = await Promise.all([
    startProxyProcess(processes, {
      name: 'api',
      identity: API,
      token: await mesh.home.token({ namespace: 'demo', name: 'api' }),
      home: mesh.home.home,
      service: { listen: `127.0.0.1:${mesh.service.port}`, identity: DEFAULT_IDENTITY_SERVICE_NAME },
      appPort: app.port,
      extra: ['--pod', POD, '--policy-addr', `127.0.0.1:${controllerPort}`, '--default-policy', 'deny'],
    }),
    mesh.proxy({ sa: 'api', appPort: app.port, pod: POD, policy: unreachable(`127.0.0.1:${closedPort}`, 'deny', denyLogs) }),
    mesh.proxy({ sa: 'api', appPort: app.port, pod: POD, policy: unreachable(`127.0.0.1:${blackhole.port}`, 'all-authenticated', capturingLogger('debug')) }),
  ]);
  const toApi = (port: number) => ({ destination: { host: '127.0.0.1', port }, identity: API, opaque: false });
  web = await mesh.proxy({ sa: 'web', routes: [toApi(api.ports.inbound), toApi(apiDeny.ports.inbound), toApi(apiAuthn.ports.inbound)] });
  other = await mesh.proxy({ sa: 'other', routes: [toApi(api.ports.inbound)] });
  await Promise.all([apiDeny, apiAuthn, web, other].map((p) => p.ready()));
  [out.webToApi, out.webToDeny, out.webToAuthn] = web.ports.outbound as [number, number, number];
  out.otherToApi = other.ports.outbound[0]!;
  await waitForPolicy((doc) => doc.state === 'current', 'the controller\'s policy in api\'s proxy', 30_000);
}, 120_000);

afterAll(async () => {
  await processes?.stopAll();
  await mesh?.close(); // the in-process proxies, their policy sources, the identity service
  await Promise.all([app?.close(), blackhole?.close(), kube?.close()]);
  if (figures.length > 0) console.log(`[figures] policy-controller-e2e: ${figures.join('; ')}`);
  // ACCEPTANCE_KEEP_LOGS=1 keeps the processes' logs (<dir>/logs) for a post-mortem, as process-mesh.ts does.
  if (dir && process.env.ACCEPTANCE_KEEP_LOGS) console.log(`policy-controller-e2e: logs kept in ${join(dir, 'logs')}`);
  else if (dir) await rm(dir, { recursive: true, force: true });
});

// --- helpers --------------------------------------------------------------------------------

interface PolicyDoc {
  source: string;
  state: 'default' | 'current' | 'stale';
  generation: number;
  detail: string;
  summary: string;
}

async function policyDoc(): Promise<PolicyDoc> {
  const res = await fetch(`http://127.0.0.1:${api.ports.admin}/policy`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as PolicyDoc;
}

async function waitForPolicy(check: (doc: PolicyDoc) => boolean, what: string, timeoutMs = PROPAGATION_BOUND_MS): Promise<PolicyDoc> {
  let last: PolicyDoc | undefined;
  try {
    await eventually(async () => check((last = await policyDoc())), timeoutMs);
  } catch {
    throw new Error(`api's proxy never reached ${what} within ${timeoutMs} ms; /policy: ${JSON.stringify(last)}`);
  }
  return last!;
}

/**
 * Probes `port` (a new connection each time) until `want` accepts the outcome; returns the ms
 * from `since` (the write to the API server) to that probe's answer. Fails after the bound.
 */
async function firstProbe(port: number, want: (outcome: string) => boolean, since: number, what: string): Promise<number> {
  for (;;) {
    const outcome = await tryOnce(port);
    if (want(outcome)) return Math.round(performance.now() - since);
    if (performance.now() - since > PROPAGATION_BOUND_MS) throw new Error(`${what}: still "${outcome}" ${PROPAGATION_BOUND_MS} ms after the API write`);
  }
}

/** A line of api's proxy process log with this event that `match` accepts (past or within 5 s). */
const apiLogLine = (event: string, match: (r: Record<string, unknown>) => boolean) =>
  api.process.waitForLine(logEvent(event, (r) => (match(r) ? r : undefined)), 5_000);

const authz = (labels: Record<string, string>) => ({ srv_group: 'policy.linkerd.io', srv_kind: 'server', srv_name: 'api', ...labels });

// --- tests ----------------------------------------------------------------------------------

describe('identity proxy --policy-addr against identity policy-controller and the API server', () => {
  it("serves api's proxy the policy of the API server's resources: /policy is current", async () => {
    const doc = await policyDoc();
    expect(doc).toMatchObject({ source: `policy controller 127.0.0.1:${controllerPort}`, state: 'current', generation: 1 });
    expect(doc.detail).toBe(`policy from the controller at 127.0.0.1:${controllerPort}: ${app.port} Server demo/api`);
    expect(await api.metric('proxy_inbound_policy_state', { state: 'current' })).toBe(1);
  });

  it("admits web's identity: bytes echo, counted with the AuthorizationPolicy's labels", async () => {
    const { socket, ended } = await openConnection(out.webToApi);
    const payload = Buffer.alloc(256 * 1024, 'web->api;');
    socket.write(payload);
    await within(waitForData(socket, (b) => b.length >= payload.length), 'the payload to echo');
    socket.end();
    expect((await within(ended, 'the connection to close')).ending).toBe('end');
    expect(await api.metric('inbound_tcp_authz_allow_total', authz({ authz_kind: 'authorizationpolicy', authz_name: 'api-from-web', tls: 'true', client_id: WEB }))).toBe(1);
  });

  it("refuses other's identity: a reset, counted as a deny with Linkerd's labels, logged", async () => {
    const accepted = app.accepted.length;
    expect(await tryOnce(out.otherToApi)).toBe('ECONNRESET');
    expect(app.accepted.length).toBe(accepted);
    expect(await api.metric('inbound_tcp_authz_deny_total', authz({ authz_kind: '', authz_name: '', tls: 'true', client_id: OTHER }))).toBe(1);
    expect(await api.metric('proxy_tcp_refused_total', { direction: 'inbound', reason: 'unauthorized' })).toBe(1);
    const denied = await apiLogLine('inbound.denied', (r) => r.clientIdentity === OTHER);
    expect(denied).toMatchObject({ pod: POD, port: app.port, tls: true, server: { kind: 'server', name: 'demo/api' }, authorization: null, decisionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it("gives a plaintext client what the Server says: its accessPolicy (deny by default)", async () => {
    expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET');
    expect(await api.metric('inbound_tcp_authz_deny_total', authz({ authz_kind: '', authz_name: '', tls: 'false', client_id: '' }))).toBe(1);
  });

  it('follows a change of the AuthorizationPolicy: new connections at once, the open one that lost its permission reset, the permitted one untouched', async () => {
    // Both web and other admitted, each with a connection open.
    let since = performance.now();
    kube.putPolicy('meshtlsauthentications', 'demo', apiClients('web', 'other'));
    const widened = await firstProbe(out.otherToApi, (o) => o === 'allowed', since, 'other admitted');
    const fromWeb = await openConnection(out.webToApi);
    const fromOther = await openConnection(out.otherToApi);

    // The AuthorizationPolicy now names other's ServiceAccount only.
    since = performance.now();
    kube.putPolicy('authorizationpolicies', 'demo', apiPolicy({ kind: 'ServiceAccount', name: 'other' }));
    const refused = await firstProbe(out.webToApi, (o) => o !== 'allowed', since, 'web refused');
    console.log(`API write -> first refusal of a new web connection: ${refused} ms (bound ${PROPAGATION_BOUND_MS} ms, target ${ISSUE_TARGET_MS} ms)`);
    figures.push(`widen->admitted ${widened} ms`, `AuthorizationPolicy change->first refusal ${refused} ms`);
    // The issue's target. Measured at 54-75 ms (controller debounce 50 ms + WatchPort + one probe)
    // over repeated runs, so 1 s leaves a wide margin even on a loaded machine.
    expect(refused).toBeLessThan(ISSUE_TARGET_MS);
    // (The first refusal may be a probe that was open when the policy changed, and so revoked.)
    expect(await tryOnce(out.webToApi)).toBe('ECONNRESET');
    expect(await tryOnce(out.otherToApi)).toBe('allowed');

    // The open web connection is reset; its client sees it.
    expect((await within(fromWeb.ended, 'the revoked connection to end')).ending).toBe('ECONNRESET');
    const revoked = await apiLogLine('inbound.revoked', (r) => r.clientIdentity === WEB);
    expect(revoked).toMatchObject({ pod: POD, port: app.port, tls: true, server: { kind: 'server', name: 'demo/api' }, decisionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(await api.metric('inbound_tcp_authz_terminate_total', authz({ authz_kind: '', authz_name: '', tls: 'true', client_id: WEB }))).toBeGreaterThanOrEqual(1);
    expect(await api.metric('inbound_tcp_authz_terminate_total', { client_id: OTHER })).toBe(0);

    // The one still permitted keeps passing bytes, both ways.
    fromOther.socket.write('still open;');
    await within(waitForData(fromOther.socket, (b) => b.toString() === 'still open;'), 'the permitted connection to echo');
    fromOther.socket.end();
    expect((await within(fromOther.ended, 'the permitted connection to close')).ending).toBe('end');
  });

  it('still gets a change made right after the API server dropped every watch abruptly', async () => {
    await kube.waitForWatches((ws) => ws.length === 8, 'the controller\'s eight watches');
    expect(kube.dropWatches({ abrupt: true })).toBe(8);
    const since = performance.now();
    kube.putPolicy('authorizationpolicies', 'demo', apiPolicy({ kind: 'ServiceAccount', name: 'web' }));
    const admitted = await firstProbe(out.webToApi, (o) => o === 'allowed', since, 'web admitted again');
    console.log(`API write right after an abrupt drop of every watch -> first web admission: ${admitted} ms`);
    figures.push(`change after abrupt watch drop->admitted ${admitted} ms`);
    expect(await tryOnce(out.otherToApi)).toBe('ECONNRESET');
    await kube.waitForWatches((ws) => ws.length === 8, 'the eight watches resumed');
  });

  it('keeps the last policy while the controller is down (ready, stale), and is current again when it restarts on the same port', async () => {
    const before = await policyDoc();
    expect(before.state).toBe('current');
    expect(await controller.stop(10_000)).toBe(0);
    const stale = await waitForPolicy((doc) => doc.state === 'stale', 'stale');
    expect(stale).toMatchObject({ generation: before.generation, summary: 'stale: keeping the last policy received' });
    expect(stale.detail).toMatch(/WatchPort ended|UNAVAILABLE|the controller closed the stream/);
    const ready = await fetch(`http://127.0.0.1:${api.ports.admin}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { detail: { policy: PolicyDoc } }).detail.policy).toMatchObject({ state: 'stale', generation: before.generation });
    expect(await api.metric('proxy_inbound_policy_state', { state: 'stale' })).toBe(1);
    expect(await api.metric('proxy_inbound_policy_state', { state: 'current' })).toBe(0);

    // Decisions unchanged, even after a change the controller is not there to see.
    kube.putPolicy('authorizationpolicies', 'demo', apiPolicy({ kind: 'ServiceAccount', name: 'other' }));
    expect(await tryOnce(out.webToApi)).toBe('allowed');
    expect(await tryOnce(out.otherToApi)).toBe('ECONNRESET');
    expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET');
    expect((await policyDoc()).state).toBe('stale');

    // Back on the same port: the proxy reconnects by itself and gets the policy as it is now.
    const restarting = performance.now();
    controller = await startController();
    const restarted = Math.round(performance.now() - restarting);
    const current = await waitForPolicy((doc) => doc.state === 'current', 'current after the restart', 30_000);
    const reconnected = Math.round(performance.now() - restarting);
    console.log(`controller restart: ready after ${restarted} ms; api's proxy current again after ${reconnected} ms`);
    figures.push(`controller restart->proxy current ${reconnected} ms (controller ready ${restarted} ms)`);
    expect(current.generation).toBeGreaterThan(before.generation);
    expect(await api.metric('proxy_inbound_policy_state', { state: 'current' })).toBe(1);
    expect(await api.metric('proxy_inbound_policy_state', { state: 'stale' })).toBe(0);
    expect(await tryOnce(out.webToApi)).toBe('ECONNRESET');
    expect(await tryOnce(out.otherToApi)).toBe('allowed');
  });
});

describe('a proxy whose controller cannot be reached from the start', () => {
  it('--default-policy deny (controller port closed): refuses web and plaintext alike, while it keeps retrying', async () => {
    // At least two failed attempts: the default is what decides between them, not a first try.
    await eventually(() => denyLogs.events('policy_source.lost').length >= 2, 10_000);
    expect(apiDeny.policy.status()).toMatchObject({ state: 'default', generation: 0 });
    expect(await tryOnce(out.webToDeny)).toBe('ECONNRESET');
    expect(await tryOnce(apiDeny.ports.inbound)).toBe('ECONNRESET');
    const labels = { srv_group: '', srv_kind: 'default', srv_name: 'deny', authz_kind: '', authz_name: '' };
    expect(await metric(apiDeny, 'inbound_tcp_authz_deny_total', { ...labels, tls: 'true', client_id: WEB })).toBe(1);
    expect(await metric(apiDeny, 'inbound_tcp_authz_deny_total', { ...labels, tls: 'false', client_id: '' })).toBe(1);
    expect(await metric(apiDeny, 'inbound_tcp_authz_allow_total')).toBe(0);
    expect(await metric(apiDeny, 'proxy_inbound_policy_state', { state: 'default' })).toBe(1);
    const doc = (await (await fetch(`http://127.0.0.1:${apiDeny.ports.admin}/policy`)).json()) as PolicyDoc;
    expect(doc).toMatchObject({ state: 'default', summary: 'default: no policy received yet; the default policy decides' });
  });

  it('--default-policy all-authenticated (controller never answers): refuses plaintext, admits web', async () => {
    expect(apiAuthn.policy.status()).toMatchObject({ state: 'default', generation: 0 });
    expect(await tryOnce(apiAuthn.ports.inbound)).toBe('ECONNRESET');
    expect(await tryOnce(out.webToAuthn)).toBe('allowed');
    const labels = { srv_group: '', srv_kind: 'default', srv_name: 'all-authenticated' };
    expect(await metric(apiAuthn, 'inbound_tcp_authz_deny_total', { ...labels, tls: 'false', client_id: '' })).toBe(1);
    expect(await metric(apiAuthn, 'inbound_tcp_authz_allow_total', { ...labels, authz_kind: 'default', authz_name: 'all-authenticated', tls: 'true', client_id: WEB })).toBe(1);
    expect(await metric(apiAuthn, 'proxy_inbound_policy_state', { state: 'default' })).toBe(1);
  });
});
