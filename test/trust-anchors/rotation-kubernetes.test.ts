import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { loadTrust } from '../../identity/issuer-reloader.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { abortRotation, RotationOrderError, runRotation, runStep } from '../../trust-anchors/rotation/index.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { anchorsOf, crashOnceAt, opensslVerifies, rotationContext, SimulatedCrash, type FakeProxy } from './rotation-fakes.ts';
import { putHomeTrustInCluster, startFleetIn, stopFleetAndHome } from './rotation-setup.ts';

let api: KubeApiServer;
let home: TestHome;
let store: KubernetesTrustStore;
let fleet: FakeProxy[] = [];

/** The cluster holds the issuer and bundle of `home` (as `linkerd install` would put them); the anchor key stays in the home. */
beforeEach(async () => {
  api = await KubeApiServer.start();
  home = await makeTestHome();
  await putHomeTrustInCluster(api, home);
  store = new KubernetesTrustStore({ kubeConfig: kubeConfigFor(api), backoff: { initialMs: 10, maxMs: 40 } });
  fleet = await startFleetIn(home, store, ['web', 'api', 'db']);
});

afterEach(async () => {
  await stopFleetAndHome(fleet, home);
  await api.close();
});

describe('anchor rotation with the Kubernetes store', () => {
  it('publishes to the ConfigMap and Secret, keeps the anchor keys in the local home, and survives a crash', async () => {
    const homeBundle = await readFile(join(home.home, HomeLayout.bundle), 'utf8');
    const oldAnchor = home.bundle.anchors[0]!.fingerprint;
    await expect(runRotation(rotationContext(home.home, store, { hooks: crashOnceAt('activate:issuer-written') }))).rejects.toBeInstanceOf(SimulatedCrash);
    const paused = await rotationContext(home.home, store).stateFile.read();
    expect(paused!.store).toBe('Kubernetes Secret linkerd/linkerd-identity-issuer, ConfigMap linkerd/linkerd-identity-trust-roots');
    // the directory store may not resume a rotation that publishes to the cluster
    await expect(runStep(rotationContext(home.home, home.store), 'activate')).rejects.toBeInstanceOf(RotationOrderError);

    const state = (await runRotation(rotationContext(home.home, store)))!;
    expect(state.outcome).toBe('completed');
    const bundle = (await store.readBundle()).pem;
    expect(anchorsOf(bundle)).toEqual([state.newAnchor!.fingerprint]);
    expect(anchorsOf(bundle)).not.toContain(oldAnchor);
    const trust = await loadTrust(store, systemClock); // what `identity serve --kubernetes` loads
    expect(trust.issuer.anchor.fingerprint).toBe(state.newAnchor!.fingerprint);
    expect(await opensslVerifies(bundle, (await store.readIssuer()).certificatePem)).toBe(true);
    const secret = api.getObject('secrets', 'linkerd', 'linkerd-identity-issuer')!;
    expect((secret as { type?: string }).type).toBe('kubernetes.io/tls');
    expect(fleet.every((p) => p.certificateAnchor === state.newAnchor!.fingerprint && p.refusedBundles === 0)).toBe(true);
    // the anchor key never went to the cluster: the home's anchor/ is the new one, its own bundle untouched
    expect(anchorsOf((await home.store.readAnchor()).certificatePem)).toEqual([state.newAnchor!.fingerprint]);
    expect(await readFile(join(home.home, HomeLayout.bundle), 'utf8')).toBe(homeBundle);
    expect(JSON.stringify(api.getObject('configmaps', 'linkerd', 'linkerd-identity-trust-roots'))).not.toContain('PRIVATE KEY');
  });

  it('abort after activate restores the Secret and the ConfigMap', async () => {
    await expect(runRotation(rotationContext(home.home, store, { hooks: crashOnceAt('wait-reissue:done') }))).rejects.toBeInstanceOf(SimulatedCrash);
    await abortRotation(rotationContext(home.home, store));
    expect((await store.readBundle()).pem).toBe(home.bundle.pem);
    const trust = await loadTrust(store, systemClock);
    expect(trust.issuer.certificate.fingerprint).toBe(home.issuer.certificate.fingerprint);
    expect(fleet.every((p) => p.bundleFingerprint === home.bundle.fingerprint && p.refusedBundles === 0)).toBe(true);
  });
});
