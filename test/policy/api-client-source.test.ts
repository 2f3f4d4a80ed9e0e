import { afterEach, describe, expect, it } from 'vitest';
import { watchPodPolicyFromController } from '../../policy/api/client-source.ts';
import type { PolicyApiServer, PortPolicySource } from '../../policy/api/server.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { toLiveDecision, type LivePodPolicy, type LivePolicyStatus } from '../../policy/live/pod-policy.ts';
import { captureLog, sa } from '../support/kube-policy.ts';
import { indexOfObjects, ManualSource, startTestPolicyApi } from './support-api.ts';

/**
 * A proxy's view of the controller: the default policy (fail closed) until every watched port has
 * its first Server, the controller's policy once it has, and the last one kept when the
 * controller goes away, until it is back.
 */

const config = defaultEvaluatorConfig({ defaultPolicy: 'deny' });
const WEB = sa('web', 'demo');
const OTHER = sa('other', 'demo');

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', namespace: 'demo', labels: { app: 'api' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }] } };
const server = { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'api', namespace: 'demo' }, spec: { podSelector: { matchLabels: { app: 'api' } }, port: 'http' } };
const allow = (name: string, account: string) => ({
  apiVersion: 'policy.linkerd.io/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'demo' },
  spec: { targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'api' }, requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: account }] },
});

const indexOf = (objects: unknown[]) => indexOfObjects(objects, config);

/** Resolves once the live policy's status satisfies `check` (now or after a later change). */
function statusWhere(live: LivePodPolicy, check: (s: LivePolicyStatus) => boolean, what: string): Promise<LivePolicyStatus> {
  if (check(live.status())) return Promise.resolve(live.status());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`live policy never reached ${what}; status ${JSON.stringify(live.status())}`));
    }, 10_000);
    const stop = live.subscribe(() => {
      if (!check(live.status())) return;
      clearTimeout(timer);
      stop();
      resolve(live.status());
    });
  });
}

const facts = (clientIdentity: string | undefined, targetPort = 8080) => ({ targetPort, clientIp: '10.1.2.3', ...(clientIdentity ? { clientIdentity } : {}) });

let api: PolicyApiServer | undefined;
let live: LivePodPolicy | undefined;

afterEach(async () => {
  await live?.close();
  await api?.close();
  api = live = undefined;
});

async function serve(source: PortPolicySource, port = 0): Promise<PolicyApiServer> {
  api = await startTestPolicyApi(source, { port });
  return api;
}

describe('watchPodPolicyFromController', () => {
  it('decides with the default policy until the first Server of every port, then with the controller policy', async () => {
    const source = new ManualSource();
    const { port } = await serve(source);
    live = watchPodPolicyFromController({ address: `127.0.0.1:${port}`, pod: 'demo/api-0', ports: [8080, 9090], config, logger: captureLog().logger });
    expect(live.status()).toMatchObject({ state: 'default', generation: 0 });
    expect(live.decide(facts(WEB))).toMatchObject({ decision: 'deny', server: { kind: 'default', name: 'deny' } });

    const index = indexOf([pod, server, allow('api-from-web', 'web')]);
    source.set(index);
    const current = await statusWhere(live, (s) => s.state === 'current', 'current');
    expect(current.detail).toBe(`policy from the controller at 127.0.0.1:${port}: 8080 Server demo/api, 9090 default deny`);
    // The same decisions, reasons included, as the controller's own index.
    for (const [identity, target] of [[WEB, 8080], [OTHER, 8080], [undefined, 8080], [WEB, 9090], [WEB, 7000]] as const) {
      expect(live.decide(facts(identity, target)), `${identity} ${target}`).toEqual(toLiveDecision(index.evaluate({ pod: 'demo/api-0', port: target, clientIp: '10.1.2.3', ...(identity ? { clientIdentity: identity } : {}) })));
    }
    expect(live.decide(facts(WEB))).toMatchObject({ decision: 'allow', server: { kind: 'server', name: 'demo/api' }, authorization: { kind: 'authorizationpolicy', name: 'demo/api-from-web' } });

    source.set(indexOf([pod, server, allow('api-from-other', 'other')]));
    await statusWhere(live, (s) => s.generation >= 2 && live!.decide(facts(OTHER)).decision === 'allow', 'the new policy');
    expect(live.decide(facts(WEB)).decision).toBe('deny');
  });

  it('keeps the last policy (stale) when the controller stops, and is current again when it is back', async () => {
    const source = new ManualSource();
    source.set(indexOf([pod, server, allow('api-from-web', 'web')]));
    const { port } = await serve(source);
    live = watchPodPolicyFromController({ address: `127.0.0.1:${port}`, pod: 'demo/api-0', ports: [8080], config, logger: captureLog().logger, backoff: { initialMs: 50, maxMs: 200 } });
    await statusWhere(live, (s) => s.state === 'current', 'current');

    await api!.close();
    api = undefined;
    const stale = await statusWhere(live, (s) => s.state === 'stale', 'stale');
    expect(stale.detail).toContain('keeping the last policy received');
    expect(live.decide(facts(WEB)).decision).toBe('allow');
    expect(live.decide(facts(OTHER)).decision).toBe('deny');

    // Back, on the same address, with a changed policy.
    const restarted = new ManualSource();
    restarted.set(indexOf([pod, server, allow('api-from-other', 'other')]));
    await serve(restarted, port);
    await statusWhere(live, (s) => s.state === 'current', 'current again');
    expect(live.decide(facts(OTHER)).decision).toBe('allow');
    expect(live.decide(facts(WEB)).decision).toBe('deny');
  });

  it('stays on the default policy, saying why, while the controller does not know the pod', async () => {
    const source = new ManualSource();
    source.set(indexOf([server]));
    const { port } = await serve(source);
    const log = captureLog();
    live = watchPodPolicyFromController({ address: `127.0.0.1:${port}`, pod: 'demo/api-0', ports: [8080], config, logger: log.logger, backoff: { initialMs: 50, maxMs: 200 } });
    const waiting = await statusWhere(live, (s) => s.detail.includes('NOT_FOUND'), 'NOT_FOUND');
    expect(waiting.state).toBe('default');
    expect(live.decide(facts(WEB)).decision).toBe('deny');
    // Once the pod is indexed, the retry finds it.
    source.set(indexOf([pod, server, allow('api-from-web', 'web')]));
    await statusWhere(live, (s) => s.state === 'current', 'current');
    expect(live.decide(facts(WEB)).decision).toBe('allow');
  });

  it('refuses a pod or port that cannot be watched, at once', () => {
    const logger = captureLog().logger;
    expect(() => watchPodPolicyFromController({ address: '127.0.0.1:1', pod: 'no-namespace', ports: [80], config, logger })).toThrow(/Invalid workload/);
    expect(() => watchPodPolicyFromController({ address: '127.0.0.1:1', pod: 'demo/api-0', ports: [0], config, logger })).toThrow(/Invalid port/);
  });
});
