/**
 * `identity init --kubernetes`: the home is made (or, with --publish-only, read) locally, and its
 * issuer and bundle are published to the test API server as `serve --kubernetes` reads them; the
 * anchor key never leaves the home.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.ts';
import { ExitCode } from '../../common/errors.ts';
import { identityName, type IdentityDomain } from '../../common/names.ts';
import { createCertifyClient } from '../../identity/grpc/client.ts';
import { parseCertificate, verifyPath } from '../../trust-anchors/certificate.ts';
import { writeKeyPairDir } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { runCli, startCli, type CliResult } from '../support/cli.ts';
import { makeCsr, openssl } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';
import { KubeApiServer, type KubeObject } from '../support/kube-api-server.ts';
import { kubeConfigFor, writeKubeConfig } from '../support/kubeconfig.ts';
import { exists, linkerdTrustNames, putHomeTrustInCluster, type ClusterTrustNames } from '../trust-anchors/rotation-setup.ts';

const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

interface Cluster {
  api: KubeApiServer;
  dir: string;
  kubeconfig: string;
  /** Where the home goes; not created. */
  home: string;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(options: { token?: string } = {}): Promise<Cluster> {
  const api = await KubeApiServer.start();
  cleanups.push(() => api.close());
  const dir = await mkdtemp(join(tmpdir(), 'identity-init-kube-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = await writeKubeConfig(api, dir, options.token ? { token: options.token } : {});
  return { api, dir, kubeconfig, home: join(dir, 'home') };
}

function init(c: Cluster, ...extra: string[]): Promise<CliResult> {
  return runCli(['init', '--kubernetes', '--home', c.home, '--kubeconfig', c.kubeconfig, ...extra]);
}

/** The objects as the API server stores them (Secret data base64, as in etcd). */
function stored(api: KubeApiServer, names: ClusterTrustNames = linkerdTrustNames) {
  const secret = api.getObject('secrets', names.namespace, names.issuerSecret) as (KubeObject & { type?: string; data?: Record<string, string> }) | undefined;
  const configMap = api.getObject('configmaps', names.namespace, names.bundleConfigMap) as (KubeObject & { data?: Record<string, string> }) | undefined;
  return { secret, configMap };
}

/** Requests that could have changed something. */
const writes = (api: KubeApiServer) => api.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/tokenreviews'));

/**
 * Every Secret and ConfigMap the API server holds, listed through the client library, searched
 * for the anchor's private key in every form it could take (PEM, its base64 body, the whole PEM
 * base64-encoded as Secret data is, PKCS#8 DER base64, the JWK scalar). As a control, the same
 * search must find the issuer key (in its PEM forms), which does belong in the Secret.
 */
async function assertAnchorKeyNowhere(api: KubeApiServer, home: string): Promise<void> {
  const forms = (pem: string) => {
    const key = createPrivateKey(pem);
    return [
      pem.trim(),
      pem.replace(/-----[^-]+-----|\s/g, ''),
      Buffer.from(pem).toString('base64'),
      key.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
      key.export({ format: 'jwk' }).d!,
    ];
  };
  const anchorForms = forms(await readFile(join(home, 'anchor', 'tls.key'), 'utf8'));
  const issuerForms = forms(await readFile(join(home, 'issuer', 'tls.key'), 'utf8'));
  const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
  const objects = [...(await core.listSecretForAllNamespaces()).items, ...(await core.listConfigMapForAllNamespaces()).items];
  const texts = objects.map((o) => {
    const data = Object.values((o as { data?: Record<string, string> }).data ?? {});
    const text = [JSON.stringify(o), ...data.map(unb64)].join('\n');
    return `${text}\n${text.replace(/\s/g, '')}`; // and without line breaks, for the base64 body of a PEM
  });
  expect(objects.length).toBeGreaterThan(0);
  for (const text of texts) for (const form of anchorForms) expect(text.includes(form)).toBe(false);
  // (The JWK scalar is only there to catch a key published as JWK; a PEM key does not show it.)
  expect(issuerForms.slice(0, 4).every((form) => texts.some((t) => t.includes(form)))).toBe(true);
}

/** Serves with the printed `next:` command (plus loopback ports) and certifies one workload. */
async function serveAndCertify(c: Cluster, stdout: string, domain: IdentityDomain, bundlePem: string): Promise<void> {
  const next = /^next: identity (serve --kubernetes .*)$/m.exec(stdout);
  expect(next, stdout).not.toBeNull();
  c.api.registerToken('web-token', { username: 'system:serviceaccount:demo:web', audiences: ['identity.l5d.io'] });
  const server = startCli([...next![1]!.split(' '), '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']);
  cleanups.push(() => server.stop());
  const out = await server.waitFor(/"listen":"127\.0\.0\.1:(\d+)"/);
  const port = /"listen":"127\.0\.0\.1:(\d+)"/.exec(out)![1]!;
  const webId = identityName({ namespace: 'demo', name: 'web' }, domain);
  const client = createCertifyClient({
    address: `127.0.0.1:${port}`,
    serverIdentity: identityName({ namespace: domain.controlPlaneNamespace, name: 'identity' }, domain),
    trustBundlePem: bundlePem,
  });
  try {
    const answer = await client.certify({ identity: webId, token: Buffer.from('web-token'), csr: await makeCsr({ dns: [webId] }) });
    const leaf = parseCertificate(answer.leafDer, 'leaf');
    expect(leaf.dnsNames).toEqual([webId]);
    const bundle = validateBundle({ pem: bundlePem, source: 'bundle' }, new Date());
    verifyPath(leaf, answer.intermediatesDer.map((d) => parseCertificate(d, 'issuer')), bundle.anchors, new Date(), 'leaf');
  } finally {
    client.close();
  }
}

describe('identity init --kubernetes', () => {
  it('creates the home, the kubernetes.io/tls issuer Secret and the trust-roots ConfigMap; serve --kubernetes serves from them', async () => {
    const c = await cluster();
    const r = await init(c);
    expect(r.code, r.stderr).toBe(0);

    const { secret, configMap } = stored(c.api);
    expect(secret?.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(unb64(secret!.data!['tls.crt']!)).toBe(await readFile(join(c.home, 'issuer', 'tls.crt'), 'utf8'));
    expect(unb64(secret!.data!['tls.key']!)).toBe(await readFile(join(c.home, 'issuer', 'tls.key'), 'utf8'));
    expect(unb64(secret!.data!['ca.crt']!)).toBe(await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8'));
    expect(Object.keys(configMap?.data ?? {})).toEqual(['ca-bundle.crt']);
    expect(configMap!.data!['ca-bundle.crt']).toBe(await readFile(join(c.home, 'bundle.crt'), 'utf8'));

    // What serve --kubernetes reads back is valid, and openssl agrees that the issuer chains to the bundle.
    const store = new KubernetesTrustStore({ kubeConfig: kubeConfigFor(c.api) });
    const bundle = validateBundle(await store.readBundle(), new Date());
    const issuer = validateIssuer(await store.readIssuer(), bundle, new Date());
    const verified = await openssl((d) => ['verify', '-CAfile', join(d, 'bundle.pem'), join(d, 'issuer.pem')], {
      'bundle.pem': bundle.pem,
      'issuer.pem': (await store.readIssuer()).certificatePem,
    });
    expect(verified).toMatch(/issuer\.pem: OK/);

    // The output names what was made where, by fingerprint, and never a key.
    expect(r.stdout).toContain(`created identity home ${c.home}`);
    expect(r.stdout).toContain(`published to the Kubernetes API server at ${c.api.url}`);
    expect(r.stdout).toMatch(new RegExp(`created +Secret linkerd/linkerd-identity-issuer .*issuer SHA-256 ${issuer.certificate.fingerprint}`));
    expect(r.stdout).toMatch(new RegExp(`created +ConfigMap linkerd/linkerd-identity-trust-roots .*bundle SHA-256 ${bundle.fingerprint}`));
    expect(r.stdout).toContain(`anchor SHA-256 ${bundle.anchors[0]!.fingerprint}`);
    expect(r.stdout).toContain(`next: identity serve --kubernetes --home ${c.home} --kubeconfig ${c.kubeconfig}\n`);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);

    await assertAnchorKeyNowhere(c.api, c.home);
    await serveAndCertify(c, r.stdout, testDomain, bundle.pem);
  });

  it('takes the names, trust domain and context, and the serve command it prints works with them', async () => {
    const c = await cluster();
    c.api.createNamespace('identity-system');
    const names = { namespace: 'identity-system', issuerSecret: 'mesh-issuer', bundleConfigMap: 'mesh-roots' };
    const r = await init(
      c,
      '--context', 'test', '--namespace', names.namespace, '--issuer-secret', names.issuerSecret,
      '--trust-roots-configmap', names.bundleConfigMap, '--trust-domain', 'example.org',
    );
    expect(r.code, r.stderr).toBe(0);
    const { secret, configMap } = stored(c.api, names);
    expect(secret?.type).toBe('kubernetes.io/tls');
    expect(stored(c.api).secret).toBeUndefined();
    expect(r.stdout).toMatch(/next: identity serve --kubernetes .* --namespace identity-system --issuer-secret mesh-issuer --trust-roots-configmap mesh-roots --trust-domain example.org --control-plane-namespace linkerd\n/);
    expect(r.stdout).toContain('serve takes no --context');
    await serveAndCertify(c, r.stdout, { trustDomain: 'example.org', controlPlaneNamespace: 'linkerd' }, configMap!.data!['ca-bundle.crt']!);
  });

  it.each(['Secret', 'ConfigMap'] as const)('refuses when the %s already exists, changing nothing in the cluster or locally', async (kind) => {
    const c = await cluster();
    if (kind === 'Secret') {
      c.api.putSecret('linkerd', { metadata: { name: 'linkerd-identity-issuer' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'x', 'tls.key': 'y' } });
    } else {
      c.api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': 'z' } });
    }
    const before = { revision: c.api.resourceVersion, objects: stored(c.api) };
    const r = await init(c);
    expect(r.code).toBe(ExitCode.CANT_CREATE);
    expect(r.stderr).toMatch(new RegExp(`${kind} linkerd/linkerd-identity-\\S+ already exists on ${c.api.url.replace(/\./g, '\\.')}; nothing was changed`));
    expect(r.stderr).toContain('--force');
    expect(r.stderr).toContain('no longer be trusted');
    expect(c.api.resourceVersion).toBe(before.revision);
    expect(stored(c.api)).toEqual(before.objects);
    expect(writes(c.api)).toEqual([]);
    expect(await exists(c.home)).toBe(false);
  });

  it('--force replaces both objects (and an existing home), and warns that the old anchor is no longer trusted', async () => {
    const c = await cluster();
    const other = await makeTestHome();
    cleanups.push(() => other.cleanup());
    await putHomeTrustInCluster(c.api, other);
    c.api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots', labels: { team: 'mesh' } }, data: { 'ca-bundle.crt': other.bundle.pem } });

    const r = await init(c, '--force');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/replaced ConfigMap linkerd\/linkerd-identity-trust-roots .*; was bundle SHA-256 [0-9a-f]{16}…/);
    expect(r.stdout).toMatch(/replaced Secret linkerd\/linkerd-identity-issuer .*; was issuer SHA-256 [0-9a-f]{16}…/);
    expect(r.stderr).toMatch(/warning: the anchors of the previous ConfigMap linkerd\/linkerd-identity-trust-roots are no longer trusted/);
    const first = stored(c.api);
    expect(first.configMap!.data!['ca-bundle.crt']).toBe(await readFile(join(c.home, 'bundle.crt'), 'utf8'));
    expect(first.configMap!.data!['ca-bundle.crt']).not.toContain(other.bundle.pem.trim());
    expect(first.configMap!.metadata.labels).toEqual({ team: 'mesh' });
    expect(unb64(first.secret!.data!['tls.crt']!)).toBe(await readFile(join(c.home, 'issuer', 'tls.crt'), 'utf8'));
    await assertAnchorKeyNowhere(c.api, c.home);

    // Again with the home now there: --force makes a new anchor, and publishes it.
    const oldAnchor = await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8');
    const again = await init(c, '--force');
    expect(again.code, again.stderr).toBe(0);
    const newAnchor = await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8');
    expect(newAnchor).not.toBe(oldAnchor);
    const second = stored(c.api);
    expect(second.configMap!.data!['ca-bundle.crt']).toBe(newAnchor);
    expect(unb64(second.secret!.data!['ca.crt']!)).toBe(newAnchor);
    await assertAnchorKeyNowhere(c.api, c.home);
  });
});

describe('identity init --kubernetes with an existing home', () => {
  let home: TestHome;
  const useHome = async (c: Cluster) => {
    home = await makeTestHome();
    cleanups.push(() => home.cleanup());
    c.home = home.home;
  };

  it('is refused without --publish-only or --force; --publish-only publishes it without a new anchor', async () => {
    const c = await cluster();
    await useHome(c);
    const anchorBefore = await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8');

    const refused = await init(c);
    expect(refused.code).toBe(ExitCode.CANT_CREATE);
    expect(refused.stderr).toContain('--publish-only');
    expect(writes(c.api)).toEqual([]);

    const r = await init(c, '--publish-only');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`publishing identity home ${c.home} (unchanged)`);
    expect(r.stdout).not.toContain('created identity home');
    expect(await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8')).toBe(anchorBefore);
    const { secret, configMap } = stored(c.api);
    expect(configMap!.data!['ca-bundle.crt']).toBe(home.bundle.pem);
    const issuer = await home.store.readIssuer();
    expect(unb64(secret!.data!['tls.crt']!)).toBe(issuer.certificatePem);
    expect(unb64(secret!.data!['tls.key']!)).toBe(issuer.privateKeyPem);
    expect(r.stdout).toContain(`issuer SHA-256 ${home.issuer.certificate.fingerprint}`);
    await assertAnchorKeyNowhere(c.api, c.home);

    // Published once: a second time is refused, --force re-publishes (the same bundle: no warning).
    const twice = await init(c, '--publish-only');
    expect(twice.code).toBe(ExitCode.CANT_CREATE);
    const forced = await init(c, '--publish-only', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/replaced ConfigMap/);
    expect(forced.stderr).not.toContain('no longer trusted');
    expect(await readFile(join(c.home, 'anchor', 'tls.crt'), 'utf8')).toBe(anchorBefore);
  });

  it('--publish-only refuses a missing home, flags that shape a new home, and a home whose issuer has expired', async () => {
    const c = await cluster();
    const missing = await init(c, '--publish-only');
    expect(missing.code).toBe(ExitCode.NO_INPUT);
    expect(missing.stderr).toMatch(/no identity home at .* to publish/);

    await useHome(c);
    const shaped = await init(c, '--publish-only', '--trust-domain', 'example.org');
    expect(shaped.code).toBe(ExitCode.USAGE);
    expect(shaped.stderr).toContain('--trust-domain');
    const local = await runCli(['init', '--home', c.home, '--publish-only']);
    expect(local.code).toBe(ExitCode.USAGE);
    expect(local.stderr).toContain('--kubernetes');

    const expired = await makeTestHome({ clock: new ManualClock(Date.now() - 3 * 86_400_000), issuerLifetimeMs: 86_400_000 });
    cleanups.push(() => expired.cleanup());
    const stale = await runCli(['init', '--kubernetes', '--publish-only', '--home', expired.home, '--kubeconfig', c.kubeconfig]);
    expect(stale.code).toBe(ExitCode.CONFIG);
    expect(writes(c.api)).toEqual([]);
  });

  it('--publish-only refuses a home whose issuer is the trust anchor itself: its key would leave the home', async () => {
    const c = await cluster();
    await useHome(c);
    const anchor = await home.store.readAnchor();
    await writeKeyPairDir(join(c.home, 'issuer'), { certificatePem: anchor.certificatePem, privateKeyPem: anchor.privateKeyPem, caPem: anchor.certificatePem });
    const r = await init(c, '--publish-only');
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stderr).toContain('refusing to publish it (the anchor key must stay in the home)');
    expect(writes(c.api)).toEqual([]);
  });
});

describe('identity init --kubernetes when the cluster is not ready', () => {
  it('names a missing namespace and says to create it, creating nothing', async () => {
    const c = await cluster();
    const r = await init(c, '--namespace', 'nowhere');
    expect(r.code).toBe(ExitCode.NO_INPUT);
    expect(r.stderr).toMatch(/namespace "nowhere" not found on https:\/\/127\.0\.0\.1:\d+ \(nothing was changed\); create it first \("kubectl create namespace nowhere"\)/);
    expect(writes(c.api)).toEqual([]);
    expect(await exists(c.home)).toBe(false);
  });

  it('without the right to read namespaces, the first create finds the namespace missing and says how to go on', async () => {
    const setup = await cluster();
    setup.api.registerToken('ops-token', { username: 'ops' });
    setup.api.forbid('ops-token', { resource: 'namespaces' });
    await mkdir(join(setup.dir, 'ops'));
    const c = { ...setup, kubeconfig: await writeKubeConfig(setup.api, join(setup.dir, 'ops'), { token: 'ops-token' }) };
    const r = await init(c, '--namespace', 'nowhere');
    expect(r.code).toBe(ExitCode.NO_INPUT);
    expect(r.stderr).toMatch(/namespace "nowhere" not found .*nothing was written to the cluster \(the home .* was created\).*kubectl create namespace nowhere/);
    const hint = /run "identity (init --kubernetes --publish-only [^"]+)"/.exec(r.stderr);
    expect(hint, r.stderr).not.toBeNull();
    expect(stored(c.api, { ...linkerdTrustNames, namespace: 'nowhere' })).toEqual({ secret: undefined, configMap: undefined });

    c.api.createNamespace('nowhere');
    const retry = await runCli(hint![1]!.split(' '));
    expect(retry.code, retry.stderr).toBe(0);
    expect(stored(c.api, { ...linkerdTrustNames, namespace: 'nowhere' }).secret?.type).toBe('kubernetes.io/tls');
  });

  it('exits 69 naming the API server when it cannot be reached, creating nothing', async () => {
    const c = await cluster();
    await c.api.close();
    const r = await init(c);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toContain(`cannot reach the Kubernetes API server at ${c.api.url}`);
    expect(await exists(c.home)).toBe(false);

    // --force does not replace an existing home before the cluster has answered: its anchor survives.
    const existing = await makeTestHome();
    cleanups.push(() => existing.cleanup());
    const anchor = await readFile(join(existing.home, 'anchor', 'tls.key'), 'utf8');
    const forced = await init({ ...c, home: existing.home }, '--force');
    expect(forced.code).toBe(ExitCode.UNAVAILABLE);
    expect(await readFile(join(existing.home, 'anchor', 'tls.key'), 'utf8')).toBe(anchor);
  });

  it('when the Secret cannot be written after the ConfigMap was, says so and how to finish; the command it names does', async () => {
    const c = await cluster();
    c.api.fail({ code: 503, count: 1, match: (req) => req.method === 'POST' && req.path.endsWith('/secrets') });
    const r = await init(c);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toContain('ConfigMap linkerd/linkerd-identity-trust-roots was written but Secret linkerd/linkerd-identity-issuer was not');
    expect(stored(c.api).secret).toBeUndefined();
    const hint = /run "identity (init --kubernetes --publish-only --force [^"]+)"/.exec(r.stderr);
    expect(hint, r.stderr).not.toBeNull();
    const retry = await runCli(hint![1]!.split(' '));
    expect(retry.code, retry.stderr).toBe(0);
    expect(unb64(stored(c.api).secret!.data!['tls.crt']!)).toBe(await readFile(join(c.home, 'issuer', 'tls.crt'), 'utf8'));
    await assertAnchorKeyNowhere(c.api, c.home);
  });

  it('refuses Kubernetes flags without --kubernetes, an unknown --context and a bad --namespace as usage errors', async () => {
    const c = await cluster();
    const noKube = await runCli(['init', '--home', c.home, '--kubeconfig', c.kubeconfig]);
    expect(noKube.code).toBe(ExitCode.USAGE);
    expect(noKube.stderr).toContain('--kubeconfig applies to --kubernetes');
    const context = await init(c, '--context', 'elsewhere');
    expect(context.code).toBe(ExitCode.USAGE);
    const namespace = await init(c, '--namespace', 'Not_A_Namespace');
    expect(namespace.code).toBe(ExitCode.USAGE);
    expect(writes(c.api)).toEqual([]);
    expect(await exists(c.home)).toBe(false);
  });
});
