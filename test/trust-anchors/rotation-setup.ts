/**
 * Set-up shared by the rotation tests (steps, crash, abort, Kubernetes, and the rotate-anchor and
 * rotate-issuer commands): a test home with a fleet of fake proxies named in its fleet file, the
 * matching tear-down, and a cluster seeded with the home's issuer and bundle.
 */
import { access } from 'node:fs/promises';
import type { TrustStore } from '../../trust-anchors/store.ts';
import type { KubeApiServer } from '../support/kube-api-server.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { startFleet, writeFleetFile, type FakeProxy } from './rotation-fakes.ts';

/** Starts fake proxies certified by `store` and names them in the fleet file of `home`. */
export async function startFleetIn(home: TestHome, store: TrustStore, names: string[]): Promise<FakeProxy[]> {
  const fleet = await startFleet(store, names);
  await writeFleetFile(home.home, fleet);
  return fleet;
}

/** A fresh test home, with fake proxies certified by its own store and named in its fleet file. */
export async function homeWithFleet(names: string[] = ['web', 'api', 'db']): Promise<{ home: TestHome; fleet: FakeProxy[] }> {
  const home = await makeTestHome();
  try {
    return { home, fleet: await startFleetIn(home, home.store, names) };
  } catch (err) {
    await home.cleanup();
    throw err;
  }
}

/** After a test: stops the proxies and empties the list, then removes the home (if the test made one). */
export async function stopFleetAndHome(fleet: FakeProxy[], home: TestHome | undefined): Promise<void> {
  await Promise.all(fleet.splice(0).map((p) => p.close()));
  await home?.cleanup();
}

export const exists = (path: string) => access(path).then(() => true, () => false);

/** Where the cluster keeps the issuer Secret and the trust-roots ConfigMap: Linkerd's names by default. */
export interface ClusterTrustNames {
  namespace: string;
  issuerSecret: string;
  bundleConfigMap: string;
}

export const linkerdTrustNames: ClusterTrustNames = {
  namespace: 'linkerd',
  issuerSecret: 'linkerd-identity-issuer',
  bundleConfigMap: 'linkerd-identity-trust-roots',
};

/** Puts the issuer and bundle of `home` in the cluster, as `linkerd install` would; the anchor key stays in the home. */
export async function putHomeTrustInCluster(api: KubeApiServer, home: TestHome, names: ClusterTrustNames = linkerdTrustNames): Promise<void> {
  const issuer = await home.store.readIssuer();
  api.putSecret(names.namespace, {
    metadata: { name: names.issuerSecret },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': issuer.certificatePem, 'tls.key': issuer.privateKeyPem, 'ca.crt': issuer.caPem },
  });
  api.putConfigMap(names.namespace, { metadata: { name: names.bundleConfigMap }, data: { 'ca-bundle.crt': home.bundle.pem } });
}
