import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { bundleFingerprintOfPem } from '../../trust-anchors/rotation/index.ts';
import { validateBundle } from '../../trust-anchors/trust.ts';
import { KubeApiServer, type ObjectInput } from '../support/kube-api-server.ts';
import { kubeConfigFor, writeKubeConfig } from '../support/kubeconfig.ts';
import { runCli } from '../support/cli.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { anchorsOf, hashTree, opensslVerifies, startFleet, type FakeProxy } from '../trust-anchors/rotation-fakes.ts';

/**
 * `identity rotate-anchor --kubernetes` (and `rotate-issuer --renew-now`) with the fleet taken from
 * the cluster: the meshed pods of the test API server, whose pod IP (127.0.0.1) and `linkerd-admin`
 * port lead to fake proxy admins. No fleet file exists in the home, so nothing but the pods can
 * have confirmed the steps.
 */

let home: TestHome | undefined;
let api: KubeApiServer | undefined;
let proxies: FakeProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
  await api?.close();
  api = undefined;
  await home?.cleanup();
  home = undefined;
});

const exists = (path: string) => access(path).then(() => true, () => false);
const portOf = (proxy: FakeProxy) => Number(proxy.admin.split(':')[1]);

/** A pod as the Linkerd injector leaves it; `proxy` (or a port) gives the linkerd-admin port, null for an unmeshed pod. */
function pod(name: string, proxy: FakeProxy | number | null, status: Record<string, unknown> = { phase: 'Running', podIP: '127.0.0.1' }, labels: Record<string, string> = { app: name.replace(/-[^-]+$/, '') }): ObjectInput {
  const app = { name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080 }] };
  const sidecar = proxy && {
    name: 'linkerd-proxy',
    image: 'cr.l5d.io/linkerd/proxy:edge',
    ports: [{ name: 'linkerd-proxy', containerPort: 4143 }, { name: 'linkerd-admin', containerPort: typeof proxy === 'number' ? proxy : portOf(proxy) }],
  };
  return { metadata: { name, labels }, spec: { containers: sidecar ? [sidecar, app] : [app] }, status };
}

/** A home, a cluster holding its issuer and bundle as `linkerd install` would, and fake proxies certified by the cluster's issuer. */
async function setUp(names: string[]) {
  home = await makeTestHome();
  api = await KubeApiServer.start();
  const issuer = await home.store.readIssuer();
  api.putSecret('linkerd', {
    metadata: { name: 'linkerd-identity-issuer' },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': issuer.certificatePem, 'tls.key': issuer.privateKeyPem, 'ca.crt': issuer.caPem },
  });
  api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': home.bundle.pem } });
  const store = new KubernetesTrustStore({ kubeConfig: kubeConfigFor(api) });
  proxies = await startFleet(store, names);
  const kubeconfig = await writeKubeConfig(api, home.home);
  return { api, home, store, kubeconfig };
}

describe('identity rotate-anchor --kubernetes --fleet kubernetes', () => {
  it('a pod that stays Pending holds the rotation at wait-bundle, named, exit 75; once Running, the re-run completes', async () => {
    const { api, home, store, kubeconfig } = await setUp(['web', 'api', 'db']);
    const [web, apiProxy, db] = proxies as [FakeProxy, FakeProxy, FakeProxy];
    api.putPod('demo', pod('web-0', web));
    api.putPod('demo', pod('api-0', apiProxy));
    api.putPod('demo', pod('db-0', db, { phase: 'Pending' }));
    api.putPod('demo', pod('legacy-0', null)); // not meshed: not a member
    // A finished Job whose proxy is gone (its admin port answers nothing): left out, so it holds nothing.
    api.putPod('demo', pod('migrate-x7k2p', 1, { phase: 'Succeeded', podIP: '127.0.0.1' }));
    const rotate = (...args: string[]) => ['rotate-anchor', ...args, '--home', home.home, '--kubernetes', '--kubeconfig', kubeconfig, '--poll-interval', '50ms', '--renew-every', '100ms'];

    const held = await runCli(rotate('--fleet', 'kubernetes', '--timeout', '1s'));
    expect(held.code, held.stderr).toBe(ExitCode.TEMP_FAILURE);
    expect(held.stderr).toMatch(/^error: wait-bundle: after \d+s, 2 of 3 proxies hold bundle [0-9a-f]{16}… \(old \+ new anchors\); stragglers: demo\/db-0: Pending, no pod IP yet\. The rotation is paused at wait-bundle/);
    expect(held.stdout).toMatch(/wait-bundle: 2 of 3 proxies hold bundle [0-9a-f]{16}… \(old \+ new anchors\); waiting for demo\/db-0: Pending, no pod IP yet\n/);
    expect(db.bundleFingerprint).toBe(home.bundle.fingerprint); // never asked: it still holds the old bundle
    const status = JSON.parse((await runCli(rotate('status', '-o', 'json'))).stdout);
    expect(status).toMatchObject({ inProgress: true, rotation: { completed: 'prepare', running: { step: 'wait-bundle' } } });

    api.putPod('demo', pod('db-0', db)); // scheduled and started: Running, with its pod IP
    // No --fleet: with --kubernetes the fleet is the meshed pods.
    const resumed = await runCli(rotate('--timeout', '20s'));
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resuming rotation \S+ at wait-bundle\n/);
    expect(resumed.stdout).toMatch(/wait-bundle: 3 of 3 proxies hold bundle/);
    expect(resumed.stdout).toMatch(/wait-reissue: 3 of 3 proxies/);
    expect(resumed.stdout).toMatch(/rotation \S+ completed in /);

    const bundle = validateBundle(await store.readBundle(), new Date());
    const last = JSON.parse((await runCli(rotate('status', '-o', 'json'))).stdout).last;
    expect(last).toMatchObject({ outcome: 'completed' });
    expect(anchorsOf(bundle.pem)).toEqual([last.newAnchor.fingerprint]);
    expect(await opensslVerifies(bundle.pem, (await store.readIssuer()).certificatePem)).toBe(true);
    for (const p of proxies) {
      expect(p.bundleFingerprint).toBe(bundleFingerprintOfPem(bundle.pem));
      expect(p.certificateAnchor).toBe(last.newAnchor.fingerprint);
      expect(p.refusedBundles).toBe(0);
    }
    expect(await exists(join(home.home, HomeLayout.proxies))).toBe(false); // no fleet file was ever there
  });

  it('--dry-run names the fleet from the cluster: namespaces, selector, and the pods that cannot be asked yet', async () => {
    const { api, home, kubeconfig } = await setUp(['web', 'api']);
    const [web, apiProxy] = proxies as [FakeProxy, FakeProxy];
    api.putPod('demo', pod('web-0', web));
    api.putPod('demo', pod('web-1', web, { phase: 'Pending' }));
    api.putPod('demo', pod('batch-0', web, { phase: 'Running', podIP: '127.0.0.1' }, { app: 'batch' }));
    api.putPod('shop', pod('api-0', apiProxy));
    api.putPod('other', pod('db-0', apiProxy));
    const before = await hashTree(home.home);
    const r = await runCli([
      'rotate-anchor', '--dry-run', '--home', home.home, '--kubernetes', '--kubeconfig', kubeconfig,
      '--fleet-namespace', 'demo', '--fleet-namespace', 'shop', '--fleet-selector', 'app!=batch',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /3 proxies listed in meshed pods \(container linkerd-proxy\) in namespaces demo, shop with labels app!=batch, from the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: demo\/web-0, demo\/web-1 \(Pending, no pod IP yet\), shop\/api-0\n/,
    );
    expect(await hashTree(home.home)).toEqual(before);

    // --proxies with --kubernetes and no --fleet: the file, as before the Kubernetes fleet existed.
    const file = await runCli(['rotate-anchor', '--dry-run', '--home', home.home, '--kubernetes', '--kubeconfig', kubeconfig, '--proxies', join(home.home, 'fleet.json')]);
    expect(file.stdout).toContain(`the fleet cannot be read: proxy registry ${join(home.home, 'fleet.json')} does not exist`);
  });

  it('refuses contradictory or malformed fleet flags, before anything is done', async () => {
    home = await makeTestHome();
    const before = await hashTree(home.home);
    const cases: [string[], RegExp, number][] = [
      [['--fleet', 'cluster'], /--fleet "cluster": use file or kubernetes/, ExitCode.USAGE],
      [['--fleet', 'file', '--fleet-namespace', 'demo'], /--fleet-namespace and --fleet-selector choose meshed pods; they apply to --fleet kubernetes/, ExitCode.USAGE],
      [['--fleet', 'kubernetes', '--proxies', 'fleet.json'], /--proxies names a fleet file; it applies to --fleet file/, ExitCode.USAGE],
      [['--fleet', 'kubernetes', '--fleet-namespace', 'Demo_NS'], /--fleet-namespace "Demo_NS" is not a namespace name/, ExitCode.USAGE],
      [['--fleet', 'kubernetes', '--kubeconfig', join(home.home, 'missing')], /--kubeconfig: no file at /, ExitCode.NO_INPUT],
    ];
    for (const [flags, message, code] of cases) {
      const r = await runCli(['rotate-anchor', 'prepare', '--home', home.home, ...flags]);
      expect(r.stderr, flags.join(' ')).toMatch(message);
      expect(r.code, flags.join(' ')).toBe(code);
    }
    expect(await hashTree(home.home)).toEqual(before);
  });

  it('an API server that cannot be reached is an error (exit 69) before anything changes, not an empty fleet', async () => {
    home = await makeTestHome();
    const gone = await KubeApiServer.start();
    const kubeconfig = await writeKubeConfig(gone, home.home);
    await gone.close();
    const before = await hashTree(home.home);
    // The store is the home; only the fleet is in the (unreachable) cluster.
    const r = await runCli(['rotate-anchor', '--home', home.home, '--fleet', 'kubernetes', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toMatch(/^error: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ to list the pods in all namespaces \(the fleet of meshed pods\): .*ECONNREFUSED/);
    expect(r.stderr).not.toContain('lists no proxies');
    expect(await hashTree(home.home)).toEqual(before);
  });
});

describe('identity rotate-issuer --kubernetes --renew-now', () => {
  it('asks the meshed pods to renew and waits for them', async () => {
    const { api, home, store, kubeconfig } = await setUp(['web', 'api']);
    const [web, apiProxy] = proxies as [FakeProxy, FakeProxy];
    api.putPod('demo', pod('web-0', web));
    api.putPod('shop', pod('api-0', apiProxy));
    const r = await runCli([
      'rotate-issuer', '--renew-now', '--home', home.home, '--kubernetes', '--kubeconfig', kubeconfig, '--poll-interval', '50ms', '--renew-every', '100ms', '--timeout', '20s',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/renew: 2 of 2 proxies /);
    const issuer = (await store.readIssuer()).certificatePem;
    expect(issuer).not.toBe((await home.store.readIssuer()).certificatePem);
    expect(web.renewRequests).toBeGreaterThan(0);
    expect(apiProxy.renewRequests).toBeGreaterThan(0);
  });
});
