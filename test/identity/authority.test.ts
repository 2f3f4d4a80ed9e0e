import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../common/clock.ts';
import { GrpcStatus, grpcStatusOf } from '../../common/errors.ts';
import { identityName } from '../../common/names.ts';
import { CertificateAuthority, type CertifyRequest, type IssuanceEntry } from '../../identity/authority/authority.ts';
import { inThreadCsrVerifier, type CsrVerifier } from '../../identity/authority/csr-verifier.ts';
import { CryptoWorkerPool } from '../../identity/crypto-workers/pool.ts';
import { IssuerHolder } from '../../identity/authority/issuer-holder.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { signLocalServiceAccountToken } from '../../identity/validators/local-token.ts';
import { generateP256KeyPair } from '../../trust-anchors/keys.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import { makeCsr, makeOpensslCsr, openssl } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);

class MemoryRecorder {
  entries: IssuanceEntry[] = [];
  async append(entry: IssuanceEntry) {
    this.entries.push(entry);
  }
}

let t: TestHome;
let recorder: MemoryRecorder;
let authority: CertificateAuthority;

/** Where the CSR checks run: every test below runs against each. */
interface Implementation {
  csrVerifier: CsrVerifier;
  close(): Promise<void>;
}
let impl: Implementation;

function makeAuthority(home: TestHome, options: { clock?: ManualClock; issuers?: IssuerHolder } = {}) {
  const clock = options.clock ?? systemClock;
  return new CertificateAuthority({
    issuers: options.issuers ?? new IssuerHolder(home.issuer),
    validator: new LocalJwtValidator({ verificationKey: home.tokenPublicKey, trustDomain: testDomain.trustDomain, clock }),
    csrVerifier: impl.csrVerifier,
    recorder,
    domain: testDomain,
    clock,
  });
}

async function request(overrides: Partial<CertifyRequest> = {}): Promise<CertifyRequest> {
  return {
    identity: webId,
    token: Buffer.from(await t.token(web)),
    csr: await makeCsr({ dns: [webId] }),
    ...overrides,
  };
}

/** The CSR with the last byte of its key's Y coordinate changed: well-formed DER, a point off the curve. */
function offCurve(csr: Buffer): Buffer {
  const prefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
  const at = csr.indexOf(prefix);
  if (at < 0) throw new Error('no P-256 SPKI in the CSR');
  const out = Buffer.from(csr);
  out[at + prefix.length + 63] ^= 0x01;
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    return grpcStatusOf(err);
  }
  return GrpcStatus.OK;
}

beforeAll(async () => {
  t = await makeTestHome();
  recorder = new MemoryRecorder();
});
afterAll(() => t.cleanup());

const implementations: Array<{ name: string; start: () => Promise<Implementation> }> = [
  { name: 'in-thread', start: async () => ({ csrVerifier: inThreadCsrVerifier, close: async () => undefined }) },
  {
    name: 'on a crypto worker pool',
    start: async () => {
      const pool = await CryptoWorkerPool.start({ size: 2 });
      return { csrVerifier: pool, close: () => pool.close() };
    },
  },
];

describe.each(implementations)('authority, CSRs checked $name', ({ start }) => {
  beforeAll(async () => {
    impl = await start();
    authority = makeAuthority(t);
  });
  afterAll(() => impl.close());

  describe('certify: ok', () => {
    it('signs a CSR made by openssl req, and openssl verify accepts the chain', async () => {
      const result = await authority.certify(await request({ csr: await makeOpensslCsr(webId) }));
      const leafPem = encodePem(result.leafDer, 'CERTIFICATE');
      const issuerPem = result.intermediatesDer.map((d) => encodePem(d, 'CERTIFICATE')).join('');
      const out = await openssl((d) => ['verify', '-CAfile', `${d}/bundle.pem`, '-untrusted', `${d}/issuer.pem`, `${d}/leaf.pem`], {
        'bundle.pem': t.bundle.pem,
        'issuer.pem': issuerPem,
        'leaf.pem': leafPem,
      });
      expect(out).toContain('leaf.pem: OK');
    });

    it('makes certificates with the documented profile, as openssl x509 -text reads it', async () => {
      const result = await authority.certify(await request());
      const text = await openssl((d) => ['x509', '-in', `${d}/leaf.pem`, '-noout', '-text'], {
        'leaf.pem': encodePem(result.leafDer, 'CERTIFICATE'),
      });
      expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
      expect(text).toContain('NIST CURVE: P-256');
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('X509v3 Authority Key Identifier');
      expect(text).toMatch(new RegExp(`X509v3 Subject Alternative Name: critical\\s+DNS:${webId.replace(/\./g, '\\.')}, URI:spiffe://cluster.local/ns/demo/sa/web`));
    });

    it('backdates notBefore by the skew allowance and gives 24 hours, with a random positive serial', async () => {
      const start = Math.floor(Date.now() / 1000) * 1000 + 3_600_000; // whole second, within the issuer's validity
      const clock = new ManualClock(start + 250);
      const fixed = makeAuthority(t, { clock });
      const token = await signLocalServiceAccountToken({
        signingKey: t.tokenKey, serviceAccount: web, trustDomain: 'cluster.local', ttlMs: 3_600_000, clock,
      });
      const serials = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const result = await fixed.certify({ identity: webId, token: Buffer.from(token), csr: await makeCsr({ dns: [webId] }) });
        const cert = new X509Certificate(result.leafDer);
        expect(new Date(cert.validFrom).getTime()).toBe(start - 20_000);
        expect(new Date(cert.validTo).getTime()).toBe(start + 86_400_000);
        expect(result.validUntil.getTime()).toBe(start + 86_400_000);
        expect(cert.serialNumber.length).toBeGreaterThanOrEqual(16); // >= 64 bits in hex
        expect(parseInt(cert.serialNumber.slice(0, 1), 16)).toBeLessThan(8); // positive
        serials.add(cert.serialNumber);
      }
      expect(serials.size).toBe(20);
    });

    it('never issues past the issuer: notAfter is clamped to the chain', async () => {
      const short = await makeTestHome({ issuerLifetimeMs: 3_600_000 });
      try {
        const result = await makeAuthority(short).certify({
          identity: webId, token: Buffer.from(await short.token(web)), csr: await makeCsr({ dns: [webId] }),
        });
        expect(result.validUntil.getTime()).toBe(Math.floor(short.issuer.notAfter.getTime() / 1000) * 1000);
      } finally {
        await short.cleanup();
      }
    });

    it('accepts a subject CN equal to the identity, and records every issuance in the ledger', async () => {
      const before = recorder.entries.length;
      const result = await authority.certify(await request({ csr: await makeCsr({ dns: [webId], commonName: webId }) }));
      expect(recorder.entries.length).toBe(before + 1);
      const entry = recorder.entries.at(-1)!;
      expect(entry).toMatchObject({ identity: webId, serial: result.serialHex, tokenSubject: 'system:serviceaccount:demo:web' });
      expect(entry.issuerFingerprint).toBe(t.issuer.certificate.fingerprint);
    });
  });

  describe('certify: bad input gets its documented code', () => {
    const cases: [string, () => Promise<Partial<CertifyRequest>>, number][] = [
      ['garbage bytes as CSR', async () => ({ csr: Buffer.from('not a csr at all, just bytes') }), GrpcStatus.INVALID_ARGUMENT],
      ['PEM instead of DER', async () => ({ csr: Buffer.from(encodePem(await makeCsr({ dns: [webId] }), 'CERTIFICATE REQUEST')) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with an RSA key', async () => ({ csr: await makeCsr({ keyType: 'rsa', dns: [webId] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with a P-384 key', async () => ({ csr: await makeCsr({ keyType: 'p384', dns: [webId] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with two DNS SANs', async () => ({ csr: await makeCsr({ dns: [webId, 'evil.example.com'] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with an IP SAN', async () => ({ csr: await makeCsr({ dns: [webId], ips: ['10.0.0.1'] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with a URI SAN', async () => ({ csr: await makeCsr({ dns: [webId], uris: ['spiffe://cluster.local/ns/demo/sa/web'] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with an e-mail SAN', async () => ({ csr: await makeCsr({ dns: [webId], emails: ['a@b.c'] }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR with no SAN', async () => ({ csr: await makeCsr({}) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR for another identity', async () => ({ csr: await makeCsr({ dns: [identityName({ namespace: 'demo', name: 'api' }, testDomain)] }) }), GrpcStatus.PERMISSION_DENIED],
      ['CSR with another subject CN', async () => ({ csr: await makeCsr({ dns: [webId], commonName: 'api.demo.serviceaccount.identity.linkerd.cluster.local' }) }), GrpcStatus.PERMISSION_DENIED],
      ['CSR whose signature does not verify', async () => ({ csr: await makeCsr({ dns: [webId], corruptSignature: true }) }), GrpcStatus.INVALID_ARGUMENT],
      ['CSR whose key is a point off the P-256 curve', async () => ({ csr: offCurve(await makeCsr({ dns: [webId] })) }), GrpcStatus.INVALID_ARGUMENT],
      ['empty CSR', async () => ({ csr: Buffer.alloc(0) }), GrpcStatus.INVALID_ARGUMENT],
      ['empty identity', async () => ({ identity: '' }), GrpcStatus.INVALID_ARGUMENT],
      ['empty token', async () => ({ token: Buffer.alloc(0) }), GrpcStatus.INVALID_ARGUMENT],
      ['garbage token', async () => ({ token: Buffer.from('garbage') }), GrpcStatus.UNAUTHENTICATED],
      ['expired token', async () => ({ token: Buffer.from(await t.token(web, { clock: new ManualClock(Date.now() - 7_200_000) })) }), GrpcStatus.UNAUTHENTICATED],
      ['token for another audience', async () => ({ token: Buffer.from(await t.token(web, { audience: 'vault' })) }), GrpcStatus.UNAUTHENTICATED],
      [
        'token signed by an unknown key',
        async () => ({
          token: Buffer.from(await signLocalServiceAccountToken({
            signingKey: generateP256KeyPair().privateKey, serviceAccount: web, trustDomain: 'cluster.local', ttlMs: 3_600_000, clock: systemClock,
          })),
        }),
        GrpcStatus.UNAUTHENTICATED,
      ],
      ['token for another namespace', async () => ({ token: Buffer.from(await t.token({ namespace: 'other', name: 'web' })) }), GrpcStatus.PERMISSION_DENIED],
      ['token for another ServiceAccount', async () => ({ token: Buffer.from(await t.token({ namespace: 'demo', name: 'api' })) }), GrpcStatus.PERMISSION_DENIED],
    ];

    for (const [name, overrides, code] of cases) {
      it(`fail/${name}`, async () => {
        const before = recorder.entries.length;
        expect(await codeOf(authority.certify(await request(await overrides())))).toBe(code);
        expect(recorder.entries.length).toBe(before);
      });
    }

    it('error messages never echo the token', async () => {
      const token = await t.token(web, { audience: 'vault' });
      const err = await authority.certify(await request({ token: Buffer.from(token) })).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).not.toContain(token.split('.')[1]!);
      expect((err as Error).message).toContain('audience');
    });

    it('fail/no issuer loaded answers UNAVAILABLE', async () => {
      const empty = makeAuthority(t, { issuers: new IssuerHolder() });
      expect(await codeOf(empty.certify(await request()))).toBe(GrpcStatus.UNAVAILABLE);
    });

    it('still serves after every bad input', async () => {
      const result = await authority.certify(await request());
      expect(result.identity).toBe(webId);
    });
  });
});
