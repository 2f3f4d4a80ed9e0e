import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { runCli } from '../support/cli.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor, writeKubeConfig } from '../support/kubeconfig.ts';
import { hashTree, opensslVerifies, type FakeProxy } from '../trust-anchors/rotation-fakes.ts';
import { homeWithFleet, putHomeTrustInCluster, stopFleetAndHome } from '../trust-anchors/rotation-setup.ts';

let home: TestHome;
let fleet: FakeProxy[] = [];

afterEach(() => stopFleetAndHome(fleet, home));

const issuerInStore = async (h: TestHome) => validateIssuer(await h.store.readIssuer(), h.bundle, new Date());

describe('identity rotate-issuer', () => {
  it('writes a new issuer signed by the anchor, which validates and openssl accepts; --dry-run changes nothing', async () => {
    home = await makeTestHome();
    const before = await hashTree(home.home);
    const dry = await runCli(['rotate-issuer', '--home', home.home, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would write a new issuer \(ECDSA P-256, 180d\) signed by the anchor "CN=root.linkerd.cluster.local"/);
    expect(await hashTree(home.home)).toEqual(before);

    const r = await runCli(['rotate-issuer', '--home', home.home, '--lifetime', '30d']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const issuer = await issuerInStore(home);
    expect(issuer.certificate.fingerprint).not.toBe(home.issuer.certificate.fingerprint);
    expect(r.stdout).toContain(`SHA-256 ${issuer.certificate.fingerprint.slice(0, 16)}…`);
    expect(r.stdout).toMatch(/expires +\S+ \(in (29d23h|30d)\)/);
    expect(r.stdout).toContain('proxies move to it at their next renewal');
    expect(r.stdout).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    expect(await opensslVerifies(home.bundle.pem, (await home.store.readIssuer()).certificatePem)).toBe(true);
  });

  it('--renew-now asks every proxy to renew and waits until all hold a certificate from the new issuer', async () => {
    ({ home, fleet } = await homeWithFleet(['web', 'api']));
    const r = await runCli(['rotate-issuer', '--home', home.home, '--renew-now', '--poll-interval', '50ms', '--renew-every', '100ms', '--timeout', '20s']);
    expect(r.code).toBe(0);
    const issuer = await issuerInStore(home);
    expect(r.stdout).toMatch(/renew: 2 of 2 proxies hold a certificate from the new issuer [0-9a-f]{16}…\n$/);
    expect(fleet.every((p) => p.document().issuerFingerprint === issuer.certificate.fingerprint && p.renewRequests >= 1)).toBe(true);
  });

  it('--renew-now names a proxy that cannot renew, exit 75; the new issuer stays in service', async () => {
    ({ home, fleet } = await homeWithFleet(['web', 'api']));
    fleet[0]!.renewable = false;
    const proxies = join(home.home, 'fleet.json');
    await rename(join(home.home, HomeLayout.proxies), proxies);
    const r = await runCli(['rotate-issuer', '--home', home.home, '--renew-now', '--proxies', proxies, '--poll-interval', '50ms', '--timeout', '1s']);
    expect(r.code).toBe(ExitCode.TEMP_FAILURE);
    expect(r.stderr).toMatch(/stragglers: web: certificate from issuer [0-9a-f]{16}…; renew request failed: POST \/renew answered HTTP 404 \(a proxy without the renew endpoint\?\)/);
    expect(r.stderr).toContain('The new issuer is in service');
    expect((await issuerInStore(home)).certificate.fingerprint).not.toBe(home.issuer.certificate.fingerprint);
  });

  it('--renew-now with no proxy registry is refused before the issuer changes', async () => {
    home = await makeTestHome();
    const before = await hashTree(home.home);
    const r = await runCli(['rotate-issuer', '--home', home.home, '--renew-now']);
    expect(r.code).toBe(ExitCode.NO_INPUT);
    expect(r.stderr).toMatch(/proxy registry .*mesh\/proxies.json does not exist/);
    expect(await hashTree(home.home)).toEqual(before);
  });

  it('is refused while an anchor rotation is in progress', async () => {
    ({ home, fleet } = await homeWithFleet(['web']));
    expect((await runCli(['rotate-anchor', 'prepare', '--home', home.home])).code).toBe(0);
    const r = await runCli(['rotate-issuer', '--home', home.home]);
    expect(r.code).toBe(ExitCode.CANT_CREATE);
    expect(r.stderr).toContain('an anchor rotation is in progress');
  });

  it('--kubernetes: writes the issuer Secret, signing with the anchor key from --anchor-dir', async () => {
    home = await makeTestHome();
    const api = await KubeApiServer.start();
    try {
      api.createNamespace('mesh');
      await putHomeTrustInCluster(api, home, { namespace: 'mesh', issuerSecret: 'issuer', bundleConfigMap: 'roots' });
      const kubeconfig = await writeKubeConfig(api, home.home);
      const r = await runCli([
        'rotate-issuer', '--kubernetes', '--kubeconfig', kubeconfig, '--namespace', 'mesh', '--issuer-secret', 'issuer',
        '--trust-roots-configmap', 'roots', '--anchor-dir', join(home.home, HomeLayout.anchorDir), '--home', join(home.home, 'nowhere'),
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('written to     Kubernetes Secret mesh/issuer, ConfigMap mesh/roots');
      const store = new KubernetesTrustStore({ kubeConfig: kubeConfigFor(api), namespace: 'mesh', issuerSecretName: 'issuer', bundleConfigMapName: 'roots' });
      const written = validateIssuer(await store.readIssuer(), validateBundle(await store.readBundle(), new Date()), new Date());
      expect(written.certificate.fingerprint).not.toBe(home.issuer.certificate.fingerprint);
      expect(written.anchor.fingerprint).toBe(home.bundle.anchors[0]!.fingerprint);
    } finally {
      await api.close();
    }
  });
});
