import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { identityName } from '../../common/names.ts';
import { CertifyCallError, createCertifyClient, type CertifyClient } from '../../identity/grpc/client.ts';
import { verifyLedger } from '../../identity/ledger/index.ts';
import { parseCertificate, verifyPath } from '../../trust-anchors/certificate.ts';
import { createIssuer } from '../../trust-anchors/certificates.ts';
import { parseP256PrivateKey, privateKeyToPem } from '../../trust-anchors/keys.ts';
import { decodeCertificates, encodePem } from '../../trust-anchors/pem.ts';
import { startCli, type RunningCli } from '../support/cli.ts';
import { makeCsr } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { writeKubeConfig } from '../support/kubeconfig.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);
const serviceId = identityName({ namespace: 'linkerd', name: 'identity' }, testDomain);
const b64 = (text: string) => Buffer.from(text).toString('base64');

let api: KubeApiServer;
let pki: TestHome;
let dir: string;
let server: RunningCli;
let client: CertifyClient;

function putIssuer(certificatePem: string, privateKeyPem: string, caPem: string) {
  api.putSecret('linkerd', {
    metadata: { name: 'linkerd-identity-issuer' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(certificatePem), 'tls.key': b64(privateKeyPem), 'ca.crt': b64(caPem) },
  });
}

async function newIssuerFromAnchor(): Promise<{ certificatePem: string; privateKeyPem: string; caPem: string }> {
  const anchor = await pki.store.readAnchor();
  const key = parseP256PrivateKey(anchor.privateKeyPem, 'anchor');
  const issuer = await createIssuer({
    commonName: 'identity.linkerd.cluster.local',
    lifetimeMs: 30 * 86_400_000,
    clock: systemClock,
    signer: { certificateDer: decodeCertificates(anchor.certificatePem, 'anchor')[0]!, keys: { privateKey: key, publicKey: createPublicKey(key) } },
  });
  return { certificatePem: issuer.certificatePem, privateKeyPem: privateKeyToPem(issuer.keys.privateKey), caPem: anchor.certificatePem };
}

async function certify(token: string) {
  return client.certify({ identity: webId, token: Buffer.from(token), csr: await makeCsr({ dns: [webId] }) });
}

async function statusOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (err instanceof CertifyCallError) return err.grpcStatus;
    throw err;
  }
}

/** Certifies until the answer's issuer is `issuerPem`; the watch delivers the change. */
async function untilIssuedBy(issuerPem: string): Promise<void> {
  for (;;) {
    const out = await certify('web-token');
    if (encodePem(out.intermediatesDer[0]!, 'CERTIFICATE') === issuerPem) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  api = await KubeApiServer.start();
  pki = await makeTestHome();
  dir = await mkdtemp(join(tmpdir(), 'identity-kube-'));
  const issuer = await pki.store.readIssuer();
  putIssuer(issuer.certificatePem, issuer.privateKeyPem, issuer.caPem);
  api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': pki.bundle.pem } });
  api.registerToken('web-token', { username: 'system:serviceaccount:demo:web', audiences: ['identity.l5d.io'] });
  api.registerToken('vault-token', { username: 'system:serviceaccount:demo:web', audiences: ['vault'] });
  api.registerToken('api-token', { username: 'system:serviceaccount:demo:api', audiences: ['identity.l5d.io'] });

  const kubeconfig = await writeKubeConfig(api, dir);
  server = startCli([
    'serve', '--kubernetes', '--kubeconfig', kubeconfig, '--ledger', join(dir, 'ledger.jsonl'),
    '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
  ]);
  const out = await server.waitFor(/"listen":"127\.0\.0\.1:(\d+)"/);
  const port = /"listen":"127\.0\.0\.1:(\d+)"/.exec(out)![1]!;
  client = createCertifyClient({ address: `127.0.0.1:${port}`, serverIdentity: serviceId, trustBundlePem: pki.bundle.pem });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await api?.close();
  await pki?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('identity serve --kubernetes against the test API server', () => {
  it('issues for a token that TokenReview authenticates, from the issuer in the Secret', async () => {
    const out = await certify('web-token');
    const leaf = parseCertificate(out.leafDer, 'leaf');
    expect(leaf.dnsNames).toEqual([webId]);
    verifyPath(leaf, out.intermediatesDer.map((d) => parseCertificate(d, 'issuer')), pki.bundle.anchors, new Date(), 'leaf');
    expect(api.requests.some((r) => r.path.includes('/tokenreviews'))).toBe(true);
  });

  it('refuses unknown tokens, tokens for another audience, and tokens of another ServiceAccount', async () => {
    expect(await statusOf(certify('no-such-token'))).toBe('UNAUTHENTICATED');
    expect(await statusOf(certify('vault-token'))).toBe('UNAUTHENTICATED');
    expect(await statusOf(certify('api-token'))).toBe('PERMISSION_DENIED');
  });

  it('answers UNAVAILABLE while the API server fails token reviews, and recovers', async () => {
    api.fail({ code: 503, count: 1, match: (r) => r.path.includes('/tokenreviews') });
    expect(await statusOf(certify('web-token'))).toBe('UNAVAILABLE');
    expect(await statusOf(certify('web-token'))).toBe('OK');
  });

  it('picks up a new issuer written to the Secret, through the watch', async () => {
    const next = await newIssuerFromAnchor();
    putIssuer(next.certificatePem, next.privateKeyPem, next.caPem);
    await untilIssuedBy(next.certificatePem);
    await server.waitFor(/issuer reloaded/);
  });

  it('refuses an invalid issuer in the Secret and keeps serving with the one in service', async () => {
    const other = await makeTestHome();
    try {
      const foreign = await other.store.readIssuer();
      putIssuer(foreign.certificatePem, foreign.privateKeyPem, foreign.caPem);
      await server.waitFor(/issuer_reload_refused/);
      const out = await certify('web-token');
      verifyPath(parseCertificate(out.leafDer, 'leaf'), out.intermediatesDer.map((d) => parseCertificate(d, 'issuer')), pki.bundle.anchors, new Date(), 'leaf');
    } finally {
      await other.cleanup();
    }
  });

  it('resumes after the watch connection is cut, and still sees the next issuer', async () => {
    expect(api.dropWatches({ abrupt: true })).toBeGreaterThan(0);
    const next = await newIssuerFromAnchor();
    putIssuer(next.certificatePem, next.privateKeyPem, next.caPem);
    await untilIssuedBy(next.certificatePem);
  });

  it('recorded every certificate in an intact ledger', async () => {
    const report = await verifyLedger(join(dir, 'ledger.jsonl'));
    expect(report.ok).toBe(true);
    expect(report.count).toBeGreaterThanOrEqual(4);
  });
});
