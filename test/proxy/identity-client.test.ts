import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/log.ts';
import { identityName, identityServiceAccount } from '../../common/names.ts';
import { buildCsr } from '../../identity/csr-builder.ts';
import { createCertifyClient } from '../../identity/grpc/client.ts';
import { startIdentityService, type RunningIdentityService } from '../../identity/service.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { checkIssued } from '../../proxy/identity-client/attempt.ts';
import { IdentityClient, type IdentityClientOptions, type IssuedCredentials } from '../../proxy/identity-client/index.ts';
import { parseCertificate, verifyPath } from '../../trust-anchors/certificate.ts';
import { generateP256KeyPair, spkiDer } from '../../trust-anchors/keys.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);
const serviceId = identityName(identityServiceAccount(testDomain), testDomain);

let t: TestHome;
let other: TestHome;
let service: RunningIdentityService;
let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

function startService(port: number, ledger: string): Promise<RunningIdentityService> {
  return startIdentityService({
    store: t.store,
    domain: testDomain,
    validator: new LocalJwtValidator({ verificationKey: t.tokenPublicKey, trustDomain: testDomain.trustDomain, clock: systemClock }),
    ledgerPath: join(t.home, ledger),
    listen: { host: '127.0.0.1', port },
    adminListen: { host: '127.0.0.1', port: 0 },
    clock: systemClock,
    logger: silentLogger,
    // Short leaves, so that the scheduled renewal runs within the test (70% of ~4 s).
    leafLifetimeMs: 4_000,
  });
}

/** Polls a condition; never asserts on how long it took, only that it happened within the bound. */
async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Harness {
  client: IdentityClient;
  delivered: IssuedCredentials[];
  tokenFile: string;
  logs: string[];
  writeToken(text?: string): Promise<string>;
}

let counter = 0;
async function harness(overrides: Partial<IdentityClientOptions> = {}, sink?: (c: IssuedCredentials) => void): Promise<Harness> {
  const tokenFile = join(dir, `token-${++counter}`);
  const writeToken = async (text?: string) => {
    const token = text ?? (await t.token(web));
    await writeFile(tokenFile, token);
    return token;
  };
  await writeToken();
  const delivered: IssuedCredentials[] = [];
  const logs: string[] = [];
  const client = new IdentityClient(
    {
      localIdentity: webId,
      tokenFile,
      service: { address: `127.0.0.1:${service.port}`, serverIdentity: serviceId },
      trustBundlePem: () => t.bundle.pem,
      clock: systemClock,
      logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }),
      minRefreshMs: 500,
      retryMinMs: 50,
      timeoutMs: 5_000,
      ...overrides,
    },
    (c) => {
      sink?.(c);
      delivered.push(c);
    },
  );
  cleanups.push(() => client.stop());
  return { client, delivered, tokenFile, logs, writeToken };
}

const publicKeyHex = (c: IssuedCredentials) => spkiDer(c.privateKey).toString('hex');

beforeAll(async () => {
  [t, other] = await Promise.all([makeTestHome(), makeTestHome()]);
  dir = await mkdtemp(join(tmpdir(), 'identity-client-'));
  service = await startService(0, 'ledger.jsonl');
});

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

afterAll(async () => {
  await service?.close();
  await Promise.all([t?.cleanup(), other?.cleanup(), dir && rm(dir, { recursive: true, force: true })]);
});

describe('IdentityClient against a real identity service', () => {
  it('delivers a first certificate at once, checked and chaining to the bundle, and becomes ready', async () => {
    const { client, delivered } = await harness();
    expect(client.ready).toBe(false);
    client.start();
    // start() launched an attempt; both renewNow calls share one attempt queued behind it.
    await Promise.all([client.renewNow(), client.renewNow()]);
    expect(client.ready).toBe(true);
    expect(delivered).toHaveLength(2);
    const [first] = delivered;
    const leaf = parseCertificate(first!.leafDer, 'leaf');
    expect(leaf.dnsNames).toEqual([webId]);
    expect(spkiDer(leaf.publicKey).equals(spkiDer(first!.privateKey))).toBe(true);
    const chain = first!.intermediatesDer.map((d) => parseCertificate(d, 'intermediate'));
    expect(verifyPath(leaf, chain, t.bundle.anchors, new Date(), 'leaf').length).toBeGreaterThan(1);
    const status = client.status();
    expect(status).toMatchObject({ renewals: 2, failures: 0, consecutiveFailures: 0, current: { serialHex: delivered[1]!.serialHex } });
    expect(status.nextAttemptAt).toBeInstanceOf(Date);
    expect(status.lastSuccessAt).toBeInstanceOf(Date);
  });

  it('renews on its schedule with a fresh key and serial every time', async () => {
    const renewed: string[] = [];
    const { client, delivered } = await harness({ onRenewed: (c) => void renewed.push(c.serialHex) });
    client.start();
    await until('three certificates from the schedule alone', () => delivered.length >= 3);
    expect(new Set(delivered.map(publicKeyHex)).size).toBe(delivered.length);
    expect(new Set(delivered.map((c) => c.serialHex)).size).toBe(delivered.length);
    expect(renewed).toEqual(delivered.map((c) => c.serialHex));
  });

  it('re-reads the token file at each attempt; a bad or missing token fails and keeps the certificate', async () => {
    const h = await harness();
    const { client, delivered } = h;
    const tokens = [await h.writeToken()];
    await client.renewNow();
    tokens.push(await h.writeToken()); // a rotated token for the same ServiceAccount
    await client.renewNow();
    expect(delivered).toHaveLength(2);
    const kept = client.status().current;

    await h.writeToken('not-a-jwt');
    await expect(client.renewNow()).rejects.toThrow(/UNAUTHENTICATED/);
    await h.writeToken('\n');
    await expect(client.renewNow()).rejects.toThrow(/token file .* is empty/);
    await unlink(h.tokenFile);
    await expect(client.renewNow()).rejects.toThrow(/cannot read the token file .*ENOENT/);
    expect(delivered).toHaveLength(2);
    expect(client.ready).toBe(true);
    expect(client.status()).toMatchObject({ failures: 3, consecutiveFailures: 3, current: kept });

    tokens.push(await h.writeToken());
    await client.renewNow();
    expect(delivered).toHaveLength(3);
    expect(client.status()).toMatchObject({ renewals: 3, failures: 3, consecutiveFailures: 0 });
    expect(h.logs.some((l) => l.includes('identity_client.renewal_failed'))).toBe(true);
    for (const token of tokens) expect(h.logs.join('\n')).not.toContain(token);
  });

  it('counts a refusal by the sink as a failure and retries with a new key', async () => {
    let offered = 0;
    const keys: string[] = [];
    const { client, delivered } = await harness({}, (c) => {
      keys.push(publicKeyHex(c));
      if (++offered <= 2) throw new Error('chain does not verify against the bundle');
    });
    client.start();
    await until('credentials accepted after two refusals', () => client.ready);
    expect(delivered).toHaveLength(1);
    expect(client.status()).toMatchObject({ failures: 2, renewals: 1 });
    expect(client.status().lastError).toMatch(/refused the credentials: chain does not verify/);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('backs off while the service is down, keeps its certificate, and resumes when it is back', async () => {
    const own = await startService(0, 'ledger-down-1.jsonl');
    let ownClosed = false;
    cleanups.push(async () => ownClosed || own.close());
    const delays: number[] = [];
    const h = await harness({ service: { address: `127.0.0.1:${own.port}`, serverIdentity: serviceId }, random: () => 0.99, onFailure: () => {
      const s = h.client.status();
      delays.push(s.nextAttemptAt!.getTime() - s.lastFailureAt!.getTime());
    } });
    await h.client.renewNow();
    const kept = h.client.status().current;
    await own.close();
    ownClosed = true;

    await expect(h.client.renewNow()).rejects.toThrow(/UNAVAILABLE/);
    await until('five failures in a row', () => h.client.status().consecutiveFailures >= 5);
    // Delays are computed (not measured): full jitter at 0.99 over a window doubling from 50 ms to the 500 ms cap.
    expect(delays.slice(0, 5)).toEqual([99, 198, 396, 495, 495]);
    expect(h.delivered).toHaveLength(1);
    expect(h.client.ready).toBe(true);
    expect(h.client.status().current).toEqual(kept);

    const back = await startService(own.port, 'ledger-down-2.jsonl');
    cleanups.push(() => back.close());
    await until('a certificate from the restarted service', () => h.delivered.length >= 2);
    expect(h.client.status().consecutiveFailures).toBe(0);
  });

  it('refuses a service that presents another identity', async () => {
    const { client } = await harness({ service: { address: `127.0.0.1:${service.port}`, serverIdentity: webId } });
    await expect(client.renewNow()).rejects.toThrow(/UNAVAILABLE: .*server certificate is for \[identity\.linkerd\..*\], not web\.demo/);
    expect(client.ready).toBe(false);
    expect(client.status()).toMatchObject({ failures: 1, renewals: 0 });
  });

  it('refuses a service whose anchor is not in the bundle, and follows the bundle when it changes', async () => {
    let bundle = other.bundle.pem;
    const failures: string[] = [];
    const { client } = await harness({ trustBundlePem: () => bundle, onFailure: (_reason, stage) => void failures.push(stage) });
    await expect(client.renewNow()).rejects.toThrow(/UNAVAILABLE: .*unable to get local issuer certificate/);
    bundle = 'not a bundle';
    await expect(client.renewNow()).rejects.toThrow(/trust bundle is unusable/);
    expect(client.ready).toBe(false);
    bundle = `${other.bundle.pem}${t.bundle.pem}`; // a rotation bundle holding both anchors
    await client.renewNow();
    expect(client.ready).toBe(true);
    expect(failures).toEqual(['certify', 'bundle']);
  });

  it('stops for good: idempotent, no schedule left, no renewal accepted', async () => {
    const { client } = await harness();
    await client.renewNow();
    await client.stop();
    await client.stop();
    expect(client.status().nextAttemptAt).toBeUndefined();
    await expect(client.renewNow()).rejects.toThrow(/stopped/);
    expect(() => client.start()).toThrow(TypeError);

    // Stopped while the first attempt is in flight: it settles without delivering anything.
    const late = await harness();
    late.client.start();
    await late.client.stop();
    expect(late.delivered).toHaveLength(0);
    expect(late.client.status()).toMatchObject({ renewals: 0, failures: 0 });
  });
});

describe('checkIssued', () => {
  it('refuses a leaf for another identity, for another key, or already expired', async () => {
    const api = { namespace: 'demo', name: 'api' };
    const apiId = identityName(api, testDomain);
    const keys = generateP256KeyPair();
    const certify = createCertifyClient({ address: `127.0.0.1:${service.port}`, serverIdentity: serviceId, trustBundlePem: t.bundle.pem });
    try {
      const out = await certify.certify({ identity: apiId, token: Buffer.from(await t.token(api)), csr: buildCsr(keys, apiId) });
      expect(checkIssued(out, keys, apiId, new Date()).identity).toBe(apiId);
      expect(() => checkIssued(out, keys, webId, new Date())).toThrow(/names \[api\.demo.*not exactly web\.demo/);
      expect(() => checkIssued(out, generateP256KeyPair(), apiId, new Date())).toThrow(/does not carry the key we sent/);
      expect(() => checkIssued(out, keys, apiId, new Date(Date.now() + 3_600_000))).toThrow(/expired/);
      expect(() => checkIssued({ ...out, leafDer: Buffer.from('junk') }, keys, apiId, new Date())).toThrow(/does not parse/);
    } finally {
      certify.close();
    }
  });
});
