import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { GrpcStatus, grpcStatusOf, InvalidArgumentError, UnavailableError } from '../../common/errors.ts';
import { identityName } from '../../common/names.ts';
import { CertificateAuthority } from '../../identity/authority/authority.ts';
import { verifyCsr, type KeyImport, type VerifiedCsr } from '../../identity/authority/csr.ts';
import { inThreadCsrVerifier, type CsrVerifier } from '../../identity/authority/csr-verifier.ts';
import { IssuerHolder } from '../../identity/authority/issuer-holder.ts';
import { CryptoWorkerPool } from '../../identity/crypto-workers/pool.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import { makeCsr } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

/** The CSR with the last byte of its key's Y coordinate changed: well-formed DER, a point off the curve. */
function offCurve(csr: Buffer): Buffer {
  const at = csr.indexOf(P256_SPKI_PREFIX);
  const out = Buffer.from(csr);
  out[at + P256_SPKI_PREFIX.length + 63] ^= 0x01;
  return out;
}

/** What a verifier says about a CSR, as plain data: the facts, or the error's class and message. */
async function outcome(verifier: CsrVerifier, der: Uint8Array): Promise<unknown> {
  try {
    const csr = await verifier.verify(der);
    return { ...csr, spkiDer: csr.spkiDer.toString('hex'), publicKeyBits: csr.publicKeyBits.toString('hex') };
  } catch (err) {
    return { error: (err as Error).name, message: (err as Error).message };
  }
}

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (r !== 'CloseReq' && r !== 'FSReqPromise') counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

let t: TestHome;
let samples: Buffer[];

beforeAll(async () => {
  t = await makeTestHome();
  const good = await Promise.all(Array.from({ length: 8 }, () => makeCsr({ dns: [webId] })));
  samples = [
    ...good,
    await makeCsr({ dns: [webId], commonName: webId }),
    await makeCsr({ dns: [webId], corruptSignature: true }),
    await makeCsr({ keyType: 'p384', dns: [webId] }),
    await makeCsr({ keyType: 'rsa', dns: [webId] }),
    await makeCsr({ dns: [webId, 'evil.example.com'], ips: ['10.0.0.1'], emails: ['a@b.c'] }),
    offCurve(good[0]!),
    Buffer.from('not a csr at all'),
    Buffer.from(encodePem(good[1]!, 'CERTIFICATE REQUEST')),
  ];
});
afterAll(() => t.cleanup());

describe('CSR verification', () => {
  it('gives the same facts whichever way the key is imported (JWK or SPKI)', () => {
    for (const der of samples.slice(0, -2)) {
      const viaJwk = verifyCsr(der, 'jwk');
      const viaSpki = verifyCsr(der, 'spki');
      expect(viaJwk).toEqual(viaSpki);
    }
    expect(verifyCsr(samples[0]!, 'jwk').signatureValid).toBe(true);
  });

  for (const keyImport of ['jwk', 'spki'] satisfies KeyImport[]) {
    it(`fail/off-curve point (${keyImport} import): parses, but the signature is not valid`, () => {
      const csr: VerifiedCsr = verifyCsr(offCurve(samples[0]!), keyImport);
      expect(csr).toMatchObject({ isP256: true, signatureValid: false });
    });
  }

  it('fail/off-curve point: the authority refuses it as INVALID_ARGUMENT (both implementations, see authority.test.ts)', async () => {
    await expect(inThreadCsrVerifier.verify(offCurve(samples[0]!))).resolves.toMatchObject({ signatureValid: false });
  });
});

describe('crypto worker pool', () => {
  let pool: CryptoWorkerPool;
  beforeAll(async () => {
    pool = await CryptoWorkerPool.start({ size: 3 });
  });
  afterAll(() => pool?.close());

  it('answers 400 parallel CSR checks exactly as the in-thread verifier does', async () => {
    const ders = Array.from({ length: 400 }, (_, i) => samples[i % samples.length]!);
    const [pooled, inThread] = await Promise.all([
      Promise.all(ders.map((der) => outcome(pool, der))),
      Promise.all(ders.map((der) => outcome(inThreadCsrVerifier, der))),
    ]);
    expect(pooled).toEqual(inThread);
    expect(pooled.filter((o) => (o as VerifiedCsr).signatureValid).length).toBe((400 * 10) / samples.length); // 8 + CN + several SANs
    expect(pool.stats).toMatchObject({ size: 3, ready: 3, pending: 0, restarts: 0 });
  });

  it('leaves the caller\'s buffer alone (it sends a copy)', async () => {
    const der = Buffer.from(samples[0]!);
    const csr = await pool.verify(der);
    expect(der.equals(samples[0]!)).toBe(true);
    expect(csr.spkiDer.equals(verifyCsr(der).spkiDer)).toBe(true);
  });

  it('fail/saturated: beyond maxPending a check is refused with UNAVAILABLE, not queued', async () => {
    const small = await CryptoWorkerPool.start({ size: 1, maxPending: 2 });
    try {
      const results = await Promise.allSettled(samples.slice(0, 5).map((der) => small.verify(der)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
      const refusal = (results[2] as PromiseRejectedResult).reason;
      expect(refusal).toBeInstanceOf(UnavailableError);
      expect(grpcStatusOf(refusal)).toBe(GrpcStatus.UNAVAILABLE);
      expect((await small.verify(samples[0]!)).signatureValid).toBe(true);
    } finally {
      await small.close();
    }
  });
});

describe('crypto worker pool: failures', () => {
  it('fail/worker crash: the request it held fails with UNAVAILABLE, the worker is replaced, others go on', async () => {
    const pool = await CryptoWorkerPool.start({ size: 2, workerUrl: fixture('crashing-crypto-worker.mjs') });
    try {
      const crash = Buffer.concat([Buffer.from('CRASH'), samples[0]!]);
      const [lost, ...others] = await Promise.allSettled([pool.verify(crash), ...samples.slice(0, 8).map((der) => pool.verify(der))]);
      expect(lost.status).toBe('rejected');
      const err = (lost as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(UnavailableError);
      expect(grpcStatusOf(err)).toBe(GrpcStatus.UNAVAILABLE);
      // Jobs on the other worker were answered; any that shared the dead worker's message failed the same way.
      for (const r of others) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UnavailableError);
        else expect(r.value.signatureValid).toBe(true);
      }
      expect(pool.stats.restarts).toBe(1);
      // The replacement takes work (it waits for a worker that is loading, rather than refusing).
      const after = await Promise.all(samples.slice(0, 8).map((der) => pool.verify(der)));
      expect(after.every((c) => c.signatureValid)).toBe(true);
      await waitFor(() => pool.stats.ready === 2);
    } finally {
      await pool.close();
    }
  });

  it('fail/worker crash: through the authority, the client gets UNAVAILABLE (never INTERNAL), and nothing is issued', async () => {
    const pool = await CryptoWorkerPool.start({ size: 1, workerUrl: fixture('crashing-crypto-worker.mjs') });
    const entries: unknown[] = [];
    try {
      const authority = new CertificateAuthority({
        issuers: new IssuerHolder(t.issuer),
        validator: new LocalJwtValidator({ verificationKey: t.tokenPublicKey, trustDomain: testDomain.trustDomain, clock: systemClock }),
        csrVerifier: pool,
        recorder: { append: async (e) => void entries.push(e) },
        domain: testDomain,
        clock: systemClock,
      });
      const token = Buffer.from(await t.token(web));
      const crash = Buffer.concat([Buffer.from('CRASH'), samples[0]!]);
      const err = await authority.certify({ identity: webId, token, csr: crash }).catch((e: unknown) => e);
      expect(grpcStatusOf(err)).toBe(GrpcStatus.UNAVAILABLE);
      expect(entries).toEqual([]);
      const ok = await authority.certify({ identity: webId, token, csr: samples[0]! });
      expect(ok.identity).toBe(webId);
      expect(entries).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it('fail/worker that cannot load: start() rejects with the reason and leaves nothing running', async () => {
    const threads = threadCount();
    await expect(CryptoWorkerPool.start({ size: 2, workerUrl: fixture('broken-crypto-worker.mjs') })).rejects.toThrow(/could not start.*broken on purpose/);
    await waitFor(() => threadCount() <= threads);
  });

  it('ok/close: terminates the workers, leaves no thread, timer or handle behind, and refuses later checks', async () => {
    await readFile(new URL(import.meta.url)); // the libuv pool's threads exist before the count
    const threads = threadCount();
    const resources = resourceCounts();
    const pool = await CryptoWorkerPool.start({ size: 2 });
    expect(threadCount()).toBeGreaterThan(threads);
    await Promise.all(samples.map((der) => pool.verify(der).catch(() => undefined)));
    await pool.close();
    await pool.close(); // idempotent
    await waitFor(() => threadCount() <= threads);
    // No more handles or timers of any kind than before the pool (fewer is fine: others' timers end).
    for (const [kind, n] of resourceCounts()) expect(n, kind).toBeLessThanOrEqual(resources.get(kind) ?? 0);
    const err = await pool.verify(samples[0]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
  });

  it('ok/in-flight at close: checks still in hand fail with UNAVAILABLE', async () => {
    const pool = await CryptoWorkerPool.start({ size: 1 });
    const pending = Promise.allSettled(samples.map((der) => pool.verify(der)));
    await pool.close();
    for (const r of await pending) {
      if (r.status === 'rejected') expect(r.reason instanceof UnavailableError || r.reason instanceof InvalidArgumentError).toBe(true);
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
