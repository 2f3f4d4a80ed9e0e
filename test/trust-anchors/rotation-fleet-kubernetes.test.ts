import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.ts';
import { ConfigError, exitCodeOf, ExitCode, UnavailableError } from '../../common/errors.ts';
import { KubernetesFleet } from '../../trust-anchors/rotation/fleet-kubernetes.ts';
import {
  EmptyFleetError,
  FleetNotConvergedError,
  holdsBundle,
  waitForFleet,
  type Fleet,
  type FleetMember,
  type ProxyTrustReport,
} from '../../trust-anchors/rotation/index.ts';
import { KubeApiServer, type ObjectInput } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';

/**
 * KubernetesFleet against the test API server, through the real client library: which pods are
 * members (Linkerd's injected `linkerd-proxy` container), where they are asked (pod IP and the
 * `linkerd-admin` port), which are stragglers and why, and what an API failure looks like.
 */

const A = 'a'.repeat(64);

interface PodOptions {
  meshed?: boolean;
  /** The linkerd-admin containerPort; null: the proxy declares no such port. */
  adminPort?: number | null;
  labels?: Record<string, string>;
  phase?: string;
  podIP?: string | null;
  /** Linkerd's native sidecar mode: the proxy is an init container with restartPolicy Always. */
  nativeSidecar?: boolean;
  proxyWaiting?: string;
}

/** A pod as the Linkerd injector leaves it: the app container, and the proxy with its ports. */
function pod(name: string, o: PodOptions = {}): ObjectInput {
  const app = { name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080 }] };
  const ports = [{ name: 'linkerd-proxy', containerPort: 4143 }];
  if (o.adminPort !== null) ports.push({ name: 'linkerd-admin', containerPort: o.adminPort ?? 4191 });
  const proxy = { name: 'linkerd-proxy', image: 'cr.l5d.io/linkerd/proxy:edge', ports };
  const meshed = o.meshed ?? true;
  const spec =
    meshed && o.nativeSidecar
      ? { containers: [app], initContainers: [{ ...proxy, restartPolicy: 'Always' }] }
      : { containers: meshed ? [proxy, app] : [app] };
  const status: Record<string, unknown> = { phase: o.phase ?? 'Running' };
  if (o.podIP !== null) status['podIP'] = o.podIP ?? '10.1.0.5';
  if (o.proxyWaiting) status['containerStatuses'] = [{ name: 'linkerd-proxy', ready: false, restartCount: 3, image: proxy.image, imageID: '', state: { waiting: { reason: o.proxyWaiting } } }];
  return { metadata: { name, labels: o.labels ?? { app: name.replace(/-\d+$/, '') } }, spec, status };
}

let api: KubeApiServer;

beforeAll(async () => {
  api = await KubeApiServer.start();
});
afterAll(async () => {
  await api.close();
});

/** A fresh namespace per test, so that tests do not see each other's pods. */
let seq = 0;
const freshNamespace = () => `fleet-${++seq}`;

const fleetIn = (namespaces: string[], extra: { labelSelector?: string; pageSize?: number } = {}) =>
  new KubernetesFleet({ kubeConfig: kubeConfigFor(api), namespaces, ...extra });

describe('KubernetesFleet: which pods, and where they are asked', () => {
  it('takes the meshed pods only, named NS/POD, asked at the pod IP and the linkerd-admin port', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0', { podIP: '10.1.0.7', adminPort: 4191 }));
    api.putPod(ns, pod('web-1', { podIP: '10.1.0.8', adminPort: 5191 }));
    api.putPod(ns, pod('legacy-0', { meshed: false }));
    api.putPod(ns, pod('sidecar-0', { nativeSidecar: true, podIP: '10.1.0.9' }));
    api.putPod(ns, pod('v6-0', { podIP: 'fd00::5' }));
    expect(await fleetIn([ns]).members()).toEqual([
      { name: `${ns}/sidecar-0`, admin: '10.1.0.9:4191' },
      { name: `${ns}/v6-0`, admin: '[fd00::5]:4191' },
      { name: `${ns}/web-0`, admin: '10.1.0.7:4191' },
      { name: `${ns}/web-1`, admin: '10.1.0.8:5191' },
    ]);
  });

  it('a meshed pod that cannot be asked is a member with the reason, never skipped', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('web-1', { phase: 'Pending', podIP: null }));
    api.putPod(ns, pod('web-2', { adminPort: null }));
    api.putPod(ns, pod('web-3', { proxyWaiting: 'CrashLoopBackOff' }));
    api.putPod(ns, pod('web-4', { phase: 'Unknown' }));
    const members = await fleetIn([ns]).members();
    expect(members).toEqual([
      { name: `${ns}/web-0`, admin: '10.1.0.5:4191' },
      { name: `${ns}/web-1`, admin: '', unavailable: 'Pending, no pod IP yet' },
      { name: `${ns}/web-2`, admin: '', unavailable: 'its linkerd-proxy container declares no port named linkerd-admin, so its admin address is unknown' },
      { name: `${ns}/web-3`, admin: '10.1.0.5:4191', unavailable: 'linkerd-proxy waiting (CrashLoopBackOff)' },
      { name: `${ns}/web-4`, admin: '10.1.0.5:4191', unavailable: 'Unknown' },
    ]);
  });

  it('leaves out pods that finished for good (Succeeded, Failed: Jobs), and says nothing of unmeshed ones', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('migrate-done', { phase: 'Succeeded' }));
    api.putPod(ns, pod('migrate-failed', { phase: 'Failed', podIP: null }));
    api.putPod(ns, pod('batch-0', { meshed: false, phase: 'Pending', podIP: null }));
    expect((await fleetIn([ns]).members()).map((m) => m.name)).toEqual([`${ns}/web-0`]);
  });

  it('looks in the namespaces given (each listed on its own), or in all of them', async () => {
    const [a, b, c] = [freshNamespace(), freshNamespace(), freshNamespace()];
    api.putPod(a, pod('web-0'));
    api.putPod(b, pod('api-0'));
    api.putPod(c, pod('db-0'));
    const before = api.requests.length;
    expect((await fleetIn([b, a, b]).members()).map((m) => m.name)).toEqual([`${a}/web-0`, `${b}/api-0`]);
    expect(api.requests.slice(before).map((r) => r.path).sort()).toEqual([`/api/v1/namespaces/${a}/pods`, `/api/v1/namespaces/${b}/pods`]);
    const everywhere = (await new KubernetesFleet({ kubeConfig: kubeConfigFor(api) }).members()).map((m) => m.name);
    expect(everywhere).toEqual(expect.arrayContaining([`${a}/web-0`, `${b}/api-0`, `${c}/db-0`]));
    expect(api.requests.at(-1)?.path).toBe('/api/v1/pods');
    expect(new KubernetesFleet({ kubeConfig: kubeConfigFor(api) }).description).toMatch(/^meshed pods \(container linkerd-proxy\) in all namespaces, from the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+$/);
    expect(fleetIn([a, b]).description).toContain(`in namespaces ${a}, ${b}, from`);
  });

  it('narrows by a label selector, which the API server applies', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0', { labels: { app: 'web', tier: 'front' } }));
    api.putPod(ns, pod('web-1', { labels: { app: 'web', tier: 'canary' }, phase: 'Pending', podIP: null }));
    api.putPod(ns, pod('api-0', { labels: { app: 'api', tier: 'front' } }));
    const fleet = fleetIn([ns], { labelSelector: 'app=web,tier!=front' });
    expect(await fleet.members()).toEqual([{ name: `${ns}/web-1`, admin: '', unavailable: 'Pending, no pod IP yet' }]);
    expect(api.requests.at(-1)?.query['labelSelector']).toBe('app=web,tier!=front');
    expect(fleet.description).toContain(`in namespace ${ns} with labels app=web,tier!=front`);
  });

  it('reads the list in chunks, and starts over when a chunk\'s continue token has expired', async () => {
    const ns = freshNamespace();
    for (let i = 0; i < 5; i++) api.putPod(ns, pod(`web-${i}`));
    const fleet = fleetIn([ns], { pageSize: 2 });
    const before = api.requests.length;
    expect(await fleet.members()).toHaveLength(5);
    expect(api.requests.slice(before).map((r) => [r.query['limit'], r.query['continue'] !== undefined])).toEqual([['2', false], ['2', true], ['2', true]]);
    // The history behind the token is compacted before the second chunk: 410 Expired, then a fresh list.
    let chunks = 0;
    api.beforeRequest(
      (r) => r.path === `/api/v1/namespaces/${ns}/pods` && ++chunks === 2,
      () => {
        api.putPod(ns, pod('web-9'));
        api.compact();
      },
    );
    const again = api.requests.length;
    expect((await fleet.members()).map((m) => m.name)).toEqual([0, 1, 2, 3, 4, 9].map((i) => `${ns}/web-${i}`));
    expect(api.requests.slice(again).map((r) => r.status)).toEqual([200, 410, 200, 200, 200]);
    api.clearFaults();
  });

  it('is read again on every call: pods created meanwhile join, deleted ones leave', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('web-1'));
    const fleet = fleetIn([ns]);
    expect(await fleet.members()).toHaveLength(2);
    api.deleteObject('pods', ns, 'web-0');
    api.putPod(ns, pod('web-2', { phase: 'Pending', podIP: null }));
    expect((await fleet.members()).map((m) => m.name)).toEqual([`${ns}/web-1`, `${ns}/web-2`]);
  });
});

describe('KubernetesFleet in a wait', () => {
  const report = (bundleFingerprint: string): ProxyTrustReport => ({ identity: 'x', bundleFingerprint, certificateAnchors: [], issuerFingerprint: null, notAfter: null });

  function waitDeps(fleet: Fleet, onRound?: (round: number) => void) {
    const clock = new ManualClock(0);
    const lines: string[] = [];
    const asked: string[] = [];
    let round = 0;
    return {
      lines,
      asked,
      deps: {
        fleet,
        probe: {
          readTrust: async (m: FleetMember) => {
            asked.push(m.name);
            return report(A);
          },
          requestRenewal: async () => undefined,
        },
        clock,
        sleep: async (ms: number) => {
          clock.advance(ms);
          onRound?.(++round);
        },
        progress: (l: string) => lines.push(l),
      },
    };
  }
  const options = { label: 'wait-bundle', timeoutMs: 3_000, pollIntervalMs: 1_000, allowEmptyFleet: false, resumeHint: 'Resume later.' };

  it('a pending pod holds the wait, named with its reason and never asked; once Running it is asked and the wait ends', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('web-1', { phase: 'Pending', podIP: null }));
    const held = waitDeps(fleetIn([ns]));
    const err = (await waitForFleet(held.deps, holdsBundle(A, 'new'), options).catch((e: unknown) => e)) as FleetNotConvergedError;
    expect(err).toBeInstanceOf(FleetNotConvergedError);
    expect(err.message).toBe(`wait-bundle: after 3s, 1 of 2 proxies hold bundle ${A.slice(0, 16)}… (new); stragglers: ${ns}/web-1: Pending, no pod IP yet. Resume later.`);
    expect(exitCodeOf(err)).toBe(ExitCode.TEMP_FAILURE);
    expect(held.lines[0]).toBe(`wait-bundle: 1 of 2 proxies hold bundle ${A.slice(0, 16)}… (new); waiting for ${ns}/web-1: Pending, no pod IP yet`);
    expect(new Set(held.asked)).toEqual(new Set([`${ns}/web-0`]));
    // The pod starts during the next wait: it is asked at its new address, and the wait ends.
    const started = waitDeps(fleetIn([ns]), (round) => {
      if (round === 1) api.putPod(ns, pod('web-1', { podIP: '10.1.0.9' }));
    });
    expect(await waitForFleet(started.deps, holdsBundle(A, 'new'), options)).toEqual({ total: 2, ready: [`${ns}/web-0`, `${ns}/web-1`], stragglers: [] });
    expect(started.asked).toContain(`${ns}/web-1`);
  });

  it('a pod deleted during the wait is no longer waited for', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('web-1', { phase: 'Pending', podIP: null }));
    const t = waitDeps(fleetIn([ns]), (round) => {
      if (round === 1) api.deleteObject('pods', ns, 'web-1');
    });
    expect(await waitForFleet(t.deps, holdsBundle(A, 'new'), options)).toEqual({ total: 1, ready: [`${ns}/web-0`], stragglers: [] });
    expect(t.lines.at(-1)).toBe(`wait-bundle: 1 of 1 proxies hold bundle ${A.slice(0, 16)}… (new)`);
  });

  it('an API failure during the wait stops it with that error: the fleet never shrinks to the pods it could see', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.putPod(ns, pod('web-1', { phase: 'Pending', podIP: null }));
    const t = waitDeps(fleetIn([ns]), (round) => {
      if (round === 1) api.fail({ code: 503, count: 1, match: (r) => r.path === `/api/v1/namespaces/${ns}/pods` });
    });
    const err = await waitForFleet(t.deps, holdsBundle(A, 'new'), options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(`failed to list the pods in namespace ${ns} (the fleet of meshed pods): HTTP 503`);
  });

  it('no meshed pod at all is an empty fleet, with a hint about injection, namespaces and selector', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('legacy-0', { meshed: false }));
    const t = waitDeps(fleetIn([ns]));
    const err = await waitForFleet(t.deps, holdsBundle(A, 'new'), options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmptyFleetError);
    expect((err as Error).message).toContain(`the fleet (meshed pods (container linkerd-proxy) in namespace ${ns}, from the Kubernetes API server at`);
    expect((err as Error).message).toContain('no pod there has a container named linkerd-proxy: check that the workloads are injected');
  });
});

describe('KubernetesFleet: API failures are errors, never an empty fleet', () => {
  it('an API server that cannot be reached', async () => {
    const gone = await KubeApiServer.start();
    const kubeConfig = kubeConfigFor(gone);
    await gone.close();
    const err = await new KubernetesFleet({ kubeConfig }).members().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/^cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ to list the pods in all namespaces \(the fleet of meshed pods\): .*ECONNREFUSED/);
    expect(exitCodeOf(err)).toBe(ExitCode.UNAVAILABLE);
  });

  it('an API server that does not answer in time', async () => {
    const ns = freshNamespace();
    api.hang({ count: 1, match: (r) => r.path === `/api/v1/namespaces/${ns}/pods` });
    const err = await new KubernetesFleet({ kubeConfig: kubeConfigFor(api), namespaces: [ns], requestTimeoutMs: 300 }).members().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(`to list the pods in namespace ${ns} (the fleet of meshed pods): no answer within 300 ms`);
  });

  it('an API server that fails, or refuses the credentials, or the selector', async () => {
    const ns = freshNamespace();
    api.putPod(ns, pod('web-0'));
    api.fail({ code: 500, count: 1, match: (r) => r.path === `/api/v1/namespaces/${ns}/pods` });
    await expect(fleetIn([ns]).members()).rejects.toThrow(/^the Kubernetes API server at \S+ failed to list the pods in namespace fleet-\d+ \(the fleet of meshed pods\): HTTP 500/);

    const token = 'viewer-token';
    api.registerToken(token, { username: 'viewer' });
    api.forbid(token, { verb: 'list', resource: 'pods' });
    const forbidden = await new KubernetesFleet({ kubeConfig: kubeConfigFor(api, { token }) }).members().catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(UnavailableError);
    expect((forbidden as Error).message).toMatch(/refused to let us list the pods in all namespaces \(HTTP 403: .*\); check the kubeconfig credentials and RBAC \(list on pods cluster-wide\)$/);
    api.clearForbids();

    const selector = await fleetIn([ns], { labelSelector: 'app in (web' }).members().catch((e: unknown) => e);
    expect(selector).toBeInstanceOf(ConfigError);
    expect((selector as Error).message).toContain(`refused to list the pods in namespace ${ns} with the label selector "app in (web": HTTP 400`);
  });

  it('refuses a namespace that is not a namespace name', () => {
    expect(() => fleetIn(['Demo_NS'])).toThrow(ConfigError);
  });
});
