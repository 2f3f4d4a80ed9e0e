
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/log.ts';
import { identityName } from '../../common/names.ts';
import { runIdentityChecks } from '../../identity/check.ts';
import { CertifyCallError, createCertifyClient, type CertifyClient } from '../../identity/grpc/client.ts';
import { verifyLedger } from '../../identity/ledger/index.ts';
import { startIdentityService, type RunningIdentityService } from '../../identity/service.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { createIssuer } from '../../trust-anchors/certificates.ts';
import { parseP256PrivateKey, privateKeyToPem } from '../../trust-anchors/keys.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import { makeCsr, openssl } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);
const serviceId = identityName({ namespace: 'linkerd', name: 'identity' }, testDomain);

let t: TestHome;
let service: RunningIdentityService;
let client: CertifyClient;

async function certifyWeb(c: CertifyClient = client) {
  return c.certify({ identity: webId, token: Buffer.from(await t.token(web)), csr: await makeCsr({ dns: [webId] }) });
}

/** A new issuer signed by the home's own anchor, written through the store (atomic swap). */
async function rotateIssuer(home: TestHome): Promise<string> {
  const anchor = await home.store.readAnchor();
  const anchorKey = parseP256PrivateKey(anchor.privateKeyPem, 'anchor');
  const { decodeCertificates } = await import('../../trust-anchors/pem.ts');
  const { createPublicKey } = await import('node:crypto');
  const issuer = await createIssuer({
    commonName: 'identity.linkerd.cluster.local',
    lifetimeMs: 30 * 86_400_000,
    clock: systemClock,
    signer: { certificateDer: decodeCertificates(anchor.certificatePem, 'anchor')[0]!, keys: { privateKey: anchorKey, publicKey: createPublicKey(anchorKey) } },
  });
  await home.store.writeIssuer({ certificatePem: issuer.certificatePem, privateKeyPem: privateKeyToPem(issuer.keys.privateKey), caPem: anchor.certificatePem });
  return issuer.certificatePem;
}

beforeAll(async () => {
  t = await makeTestHome();
  service = await startIdentityService({
    store: t.store,
    domain: testDomain,
    validator: new LocalJwtValidator({ verificationKey: t.tokenPublicKey, trustDomain: testDomain.trustDomain, clock: systemClock }),
    ledgerPath: join(t.home, 'ledger.jsonl'),
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    clock: systemClock,
    logger: silentLogger,
  });
  client = createCertifyClient({ address: `127.0.0.1:${service.port}`, serverIdentity: serviceId, trustBundlePem: t.bundle.pem });
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await t?.cleanup();
});

describe('identity service over TLS gRPC', () => {
  it('issues a certificate that openssl verifies against the bundle', async () => {
    const out = await certifyWeb();
    const verified = await openssl((d) => ['verify', '-CAfile', `${d}/b.pem`, '-untrusted', `${d}/i.pem`, `${d}/l.pem`], {
      'b.pem': t.bundle.pem,
      'i.pem': out.intermediatesDer.map((d) => encodePem(d, 'CERTIFICATE')).join(''),
      'l.pem': encodePem(out.leafDer, 'CERTIFICATE'),
    });
    expect(verified).toContain('l.pem: OK');
    expect(out.validUntil.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
  });

  it('answers a bad request with its code and keeps serving', async () => {
    const err = await client
      .certify({ identity: webId, token: Buffer.from(await t.token({ namespace: 'demo', name: 'api' })), csr: await makeCsr({ dns: [webId] }) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertifyCallError);
    expect((err as CertifyCallError).grpcStatus).toBe('PERMISSION_DENIED');
    expect((await certifyWeb()).leafDer.length).toBeGreaterThan(0);
  });

  it('passes identity check against the live service, ledger included', async () => {
    const results = await runIdentityChecks({
      store: t.store,
      domain: testDomain,
      clock: systemClock,
      warnWithinMs: 60 * 86_400_000,
      ledgerPath: join(t.home, 'ledger.jsonl'),
      address: { host: '127.0.0.1', port: service.port },
    });
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(results.map((r) => r.name)).toContain(`identity service at 127.0.0.1:${service.port} answers as ${serviceId}`);
  });

  it('swaps in a replaced issuer while requests flow, failing none', async () => {
    const before = service.trust().issuer.certificate.fingerprint;
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          await certifyWeb();
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    });
    const newIssuerPem = await rotateIssuer(t);
    await service.reloadIssuer();
    // Keep the load on until a certificate from the new issuer comes back.
    let fromNew = false;
    while (!fromNew) {
      const out = await certifyWeb();
      fromNew = encodePem(out.intermediatesDer[0]!, 'CERTIFICATE') === newIssuerPem;
    }
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(service.trust().issuer.certificate.fingerprint).not.toBe(before);
    // The service's own certificate moved to the new issuer too, and a new client still connects.
    const fresh = createCertifyClient({ address: `127.0.0.1:${service.port}`, serverIdentity: serviceId, trustBundlePem: t.bundle.pem });
    try {
      expect((await certifyWeb(fresh)).leafDer.length).toBeGreaterThan(0);
    } finally {
      fresh.close();
    }
  });

  it('refuses an invalid replacement, counts it, and keeps the issuer in service', async () => {
    const inService = service.trust().issuer.certificate.fingerprint;
    const other = await makeTestHome();
    try {
      // An issuer from another anchor: it parses, but does not chain to this bundle.
      const foreign = await other.store.readIssuer();
      await t.store.writeIssuer({ certificatePem: foreign.certificatePem, privateKeyPem: foreign.privateKeyPem, caPem: foreign.caPem });
      await service.reloadIssuer();
      expect(service.trust().issuer.certificate.fingerprint).toBe(inService);
      const metrics = await service.metrics.registry.metrics();
      expect(metrics).toMatch(/identity_issuer_reloads_total\{result="failure"\} [1-9]/);
      expect((await certifyWeb()).leafDer.length).toBeGreaterThan(0);
    } finally {
      await other.cleanup();
    }
  });

  it('records every issued certificate in a ledger whose chain verifies', async () => {
    const report = await verifyLedger(join(t.home, 'ledger.jsonl'));
    expect(report.ok).toBe(true);
    const metrics = await service.metrics.registry.metrics();
    const okCount = Number(/identity_certify_requests_total\{code="OK"\} (\d+)/.exec(metrics)?.[1]);
    expect(report.count).toBe(okCount);
  });
});

