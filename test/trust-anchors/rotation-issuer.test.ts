import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { TrustError } from '../../common/errors.ts';
import { loadTrust } from '../../identity/issuer-reloader.ts';
import { loadCaSigner, rotateIssuer } from '../../trust-anchors/rotation/index.ts';
import { validateIssuer } from '../../trust-anchors/trust.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { opensslVerifies } from './rotation-fakes.ts';

const homes: TestHome[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await h.cleanup();
});

async function home(): Promise<TestHome> {
  const h = await makeTestHome();
  homes.push(h);
  return h;
}

describe('rotateIssuer', () => {
  it('writes a new issuer, signed by the anchor, that validates and that the identity service would load', async () => {
    const h = await home();
    const signer = loadCaSigner(await h.store.readAnchor());
    const { issuer, previous } = await rotateIssuer({ store: h.store, signer, lifetimeMs: 30 * 86_400_000, clock: systemClock });
    expect(previous!.certificate.fingerprint).toBe(h.issuer.certificate.fingerprint);
    expect(issuer.certificate.fingerprint).not.toBe(h.issuer.certificate.fingerprint);
    // same profile as init's: CA, path length 0, P-256, same name, signed by the anchor
    expect(issuer.certificate.isCa).toBe(true);
    expect(issuer.certificate.pathLength).toBe(0);
    expect(issuer.certificate.subject).toBe(h.issuer.certificate.subject);
    expect(issuer.certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(issuer.anchor.fingerprint).toBe(h.bundle.anchors[0]!.fingerprint);
    expect(Math.abs(issuer.certificate.notAfter.getTime() - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    // what the identity service does on reload (issuer-reloader.ts), and openssl as an independent judge
    const loaded = await loadTrust(h.store, systemClock);
    expect(loaded.issuer.certificate.fingerprint).toBe(issuer.certificate.fingerprint);
    expect(validateIssuer(await h.store.readIssuer(), h.bundle, new Date()).certificate.fingerprint).toBe(issuer.certificate.fingerprint);
    expect(await opensslVerifies(h.bundle.pem, (await h.store.readIssuer()).certificatePem)).toBe(true);
  });

  it('never outlives the anchor', async () => {
    const h = await home();
    const signer = loadCaSigner(await h.store.readAnchor());
    const { issuer } = await rotateIssuer({ store: h.store, signer, lifetimeMs: 10 * 365 * 86_400_000, clock: systemClock });
    expect(issuer.certificate.notAfter.getTime()).toBeLessThanOrEqual(signer.certificate.notAfter.getTime());
  });

  it('refuses an anchor that is not in the bundle, and leaves the issuer in service alone', async () => {
    const h = await home();
    const other = await home();
    const before = await h.store.readIssuer();
    const err = await rotateIssuer({ store: h.store, signer: loadCaSigner(await other.store.readAnchor()), lifetimeMs: 86_400_000, clock: systemClock }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TrustError);
    expect((err as Error).message).toMatch(/is not in the trust bundle .*bundle.crt/);
    expect(await h.store.readIssuer()).toEqual(before);
  });

  it('refuses an anchor whose key does not match its certificate', async () => {
    const h = await home();
    const other = await home();
    const anchor = await h.store.readAnchor();
    const wrong = { ...anchor, privateKeyPem: (await other.store.readAnchor()).privateKeyPem };
    expect(() => loadCaSigner(wrong)).toThrow(/the private key \(tls.key\) does not match the certificate/);
  });
});
