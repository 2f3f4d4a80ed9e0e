import { afterEach, describe, expect, it } from 'vitest';
import { startPolicyApiServer, type PolicyApiServer } from '../../policy/api/server.ts';
import { createControllerMetrics, type ControllerMetrics } from '../../policy/controller/metrics.ts';
import { PolicyController } from '../../policy/controller/policy-controller.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';
import {
  authorizationPolicyObject,
  captureLog,
  createInboundPolicyClient,
  indexWhere,
  networkAuthenticationObject,
  podObject,
  PortWatchReader,
  sa,
  serverObject,
  type CapturedLog,
} from '../support/kube-policy.ts';
import type { InboundPolicyClient } from '../../policy/api/client.ts';

/**
 * The controller against the test API server, seen from a WatchPort client: the first Server at
 * once, a replacement within a bounded wait after a change that touches the port, nothing after
 * one that does not; watches that drop are resumed, expired ones relisted, bad objects skipped.
 */

const config = defaultEvaluatorConfig();
/** What "at once" means here: the debounce is 50 ms; a loaded machine gets generous slack. */
const BOUND_MS = 1_000;

interface Harness {
  api: KubeApiServer;
  controller: PolicyController;
  grpc: PolicyApiServer;
  client: InboundPolicyClient;
  log: CapturedLog;
  metrics: ControllerMetrics;
}

let h: Harness | undefined;

async function start(setup: (api: KubeApiServer) => void = seed): Promise<Harness> {
  const api = await KubeApiServer.start({ historyLimit: 1000 });
  setup(api);
  const log = captureLog();
  const metrics = createControllerMetrics({ processMetrics: false });
  const controller = new PolicyController({ kubeConfig: kubeConfigFor(api), config, logger: log.logger, metrics, backoff: { initialMs: 50, maxMs: 500 } });
  controller.start();
  const grpc = await startPolicyApiServer({ host: '127.0.0.1', port: 0, source: controller, logger: log.logger, metrics });
  const client = createInboundPolicyClient(`127.0.0.1:${grpc.port}`);
  h = { api, controller, grpc, client, log, metrics };
  return h;
}

afterEach(async () => {
  if (!h) return;
  h.client.close();
  await h.grpc.close();
  await h.controller.close();
  await h.api.close();
  h = undefined;
});

/** demo/api-0 with port 8080 under Server demo/api (web may call it) and 9090 under the default policy. */
function seed(api: KubeApiServer): void {
  api.putNamespace({ metadata: { name: 'demo' } });
  api.putServiceAccount('demo', { metadata: { name: 'web' } });
  api.putPod('demo', podObject('api-0', { labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }));
  api.putPod('demo', podObject('other-0', { labels: { app: 'other' } }));
  api.putPolicy('servers', 'demo', serverObject('api', { matchLabels: { app: 'api' }, port: 'http' }));
  api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('api-from-web', 'api', [{ kind: 'ServiceAccount', name: 'web' }]));
}

async function timed<T>(what: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await what;
  return { value, ms: performance.now() - started };
}

describe('listing and watching', () => {
  it('lists every collection, then serves the port policy at once', async () => {
    const { controller, client } = await start();
    await controller.whenReady();
    expect(controller.status()).toMatchObject({ ready: true, reachable: true, invalid: 0, pods: 2 });
    expect(controller.status().collections.map((c) => c.resource)).toEqual([
      'namespaces',
      'pods',
      'serviceaccounts',
      'servers.policy.linkerd.io',
      'serverauthorizations.policy.linkerd.io',
      'authorizationpolicies.policy.linkerd.io',
      'meshtlsauthentications.policy.linkerd.io',
      'networkauthentications.policy.linkerd.io',
    ]);
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    const first = await watch.next();
    expect(first.governor).toEqual({ kind: 'server', server: 'demo/api' });
    expect(first.authorizations.map((a) => a.ref)).toEqual([{ kind: 'AuthorizationPolicy', namespace: 'demo', name: 'api-from-web' }]);
    expect(first.authorizations[0]!.authentication).toEqual({ kind: 'mesh-tls', identities: [sa('web', 'demo')], suffixes: [] });
    watch.cancel();
  });

  it('serves nothing until every collection has been listed: a watch waits, then gets the whole policy', async () => {
    const { api, client, controller, log } = await start((a) => {
      seed(a);
      a.fail({ code: 503, match: (r) => r.path.endsWith('/authorizationpolicies') && !r.watch });
    });
    await log.waitFor('api_server.unreachable');
    expect(controller.status()).toMatchObject({ ready: false, reachable: false });
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    await expect(watch.next(300)).rejects.toThrow(/no message/);
    api.clearFaults();
    const first = await watch.next(5_000);
    expect(first.authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toEqual(['api-from-web']);
    expect(controller.status()).toMatchObject({ ready: true, reachable: true });
    watch.cancel();
  });

  it('a new AuthorizationPolicy, a deleted one and a pod annotation change each send a full replacement', async () => {
    const { api, client, controller } = await start();
    await controller.whenReady();
    const server = new PortWatchReader(client, 'demo/api-0', 8080, config);
    const byDefault = new PortWatchReader(client, 'demo/api-0', 9090, config);
    expect((await server.next()).authorizations).toHaveLength(1);
    expect((await byDefault.next()).governor).toMatchObject({ kind: 'default', policy: 'all-unauthenticated' });

    api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('api-from-ops', 'api', [{ kind: 'ServiceAccount', name: 'ops' }]));
    const added = await timed(server.next(BOUND_MS));
    expect(added.value.authorizations.map((a) => a.ref.kind === 'default' ? a.ref.name : a.ref.name)).toEqual(['api-from-ops', 'api-from-web']);

    api.deleteObject('authorizationpolicies', 'demo', 'api-from-web');
    const deleted = await timed(server.next(BOUND_MS));
    expect(deleted.value.authorizations.map((a) => (a.ref.kind === 'default' ? a.ref.name : a.ref.name))).toEqual(['api-from-ops']);

    const pod = api.getObject('pods', 'demo', 'api-0')!;
    api.putPod('demo', { ...pod, metadata: { ...pod.metadata, annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' } } });
    const annotated = await timed(byDefault.next(BOUND_MS));
    expect(annotated.value).toMatchObject({ governor: { kind: 'default', policy: 'deny', origin: 'pod annotation' }, authorizations: [], fallback: 'deny' });
    // The Server-governed port did not change: nothing was sent for it.
    expect(server.unread).toBe(0);
    console.log(`[figures] change to WatchPort message: added ${added.ms.toFixed(0)} ms, deleted ${deleted.ms.toFixed(0)} ms, annotation ${annotated.ms.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
    server.cancel();
    byDefault.cancel();
  });

  it('sends nothing for a change elsewhere, though the index is rebuilt', async () => {
    const { api, client, controller } = await start();
    await controller.whenReady();
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    await watch.next();
    api.putPod('demo', podObject('other-1', { labels: { app: 'other' } }));
    api.putPolicy('servers', 'demo', serverObject('other', { matchLabels: { app: 'other' }, port: 8080 }));
    api.putNamespace({ metadata: { name: 'elsewhere', annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' } } });
    await indexWhere(controller, (index) => index.hasPod('demo/other-1') && index.portPolicy('demo/other-1', 8080).governor.kind === 'server', 'the new pod under Server demo/other');
    await expect(watch.next(300)).rejects.toThrow(/no message/);
    watch.cancel();
  });
});

describe('when watches break', () => {
  it('resumes an abruptly dropped watch from its resourceVersion, without relisting, and still sees the next change', async () => {
    const { api, client, controller } = await start();
    await controller.whenReady();
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    await watch.next();
    await api.waitForWatches((ws) => ws.length === 8, 'eight watches');
    const lists = api.requests.filter((r) => r.query['watch'] === undefined && r.method === 'GET').length;
    expect(api.dropWatches({ abrupt: true })).toBe(8);
    await api.waitForWatches((ws) => ws.length === 8 && ws.every((w) => w.resourceVersion !== undefined), 'eight resumed watches');
    api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('after-drop', 'api', []));
    expect((await watch.next(BOUND_MS)).authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toContain('after-drop');
    expect(api.requests.filter((r) => r.query['watch'] === undefined && r.method === 'GET').length).toBe(lists);
    watch.cancel();
  });

  it('relists after 410 Expired and applies what changed in the gap', async () => {
    const { api, client, controller, log } = await start();
    await controller.whenReady();
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    await watch.next();
    await api.waitForWatches((ws) => ws.length === 8, 'eight watches');
    // Keep the watches from coming back while the change is made and the history compacted.
    const watchRequest = (r: { watch: boolean }) => r.watch;
    api.fail({ code: 503, match: watchRequest });
    api.dropWatches();
    api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('during-gap', 'api', []));
    api.compact();
    api.clearFaults();
    await log.waitFor('reflector.watch_error', (l) => l['code'] === 410);
    expect((await watch.next(5_000)).authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toContain('during-gap');
    watch.cancel();
  });

  it('keeps the last index while the API server cannot be reached, and says so', async () => {
    const { api, client, controller, log, metrics } = await start();
    await controller.whenReady();
    api.fail({ code: 503 });
    api.dropWatches({ abrupt: true });
    await log.waitFor('api_server.unreachable');
    expect(controller.status().reachable).toBe(false);
    expect(await metrics.registry.getSingleMetricAsString('policy_controller_api_server_reachable')).toMatch(/^policy_controller_api_server_reachable\{resource="[^"]+"\} 0$/m);
    const answer = await client.getPort({ workload: 'demo:api-0', port: 8080 });
    expect(answer.labels).toMatchObject({ kind: 'server', name: 'api' });
    api.clearFaults();
    await log.waitFor('api_server.reachable');
    expect(controller.status().reachable).toBe(true);
  });
});

describe('invalid resources', () => {
  it('skips and logs a resource that does not validate, and applies the others', async () => {
    const { api, client, controller, log } = await start((a) => {
      seed(a);
      // The API server accepts these (the CRD schema types only strings); our validation does not.
      a.putPolicy('networkauthentications', 'demo', networkAuthenticationObject('bad-net', [{ cidr: '10.0.0.0/33' }]));
      a.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('two-identities', 'api', [{ kind: 'ServiceAccount', name: 'a' }, { kind: 'ServiceAccount', name: 'b' }]));
    });
    await controller.whenReady();
    const bad = await log.waitFor('resource.invalid', (l) => l['resource'] === 'NetworkAuthentication demo/bad-net');
    expect((bad['problems'] as string[])[0]).toMatch(/^spec\.networks\[0\]\.cidr: /);
    await log.waitFor('resource.invalid', (l) => l['resource'] === 'AuthorizationPolicy demo/two-identities');
    expect(controller.status().invalid).toBe(2);
    const watch = new PortWatchReader(client, 'demo/api-0', 8080, config);
    expect((await watch.next()).authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toEqual(['api-from-web']);
    // Fixed, it joins the policy.
    api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('two-identities', 'api', [{ kind: 'ServiceAccount', name: 'a' }]));
    expect((await watch.next(BOUND_MS)).authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toEqual(['api-from-web', 'two-identities']);
    expect(controller.status().invalid).toBe(1);
    watch.cancel();
  });
});
