/**
 * Fakes for rotation tests: proxy admin endpoints whose state the test controls, the fleet file
 * naming them, and helpers to check the outcome independently (openssl, file hashes).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, lstat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { parseCertificate } from '../../trust-anchors/certificate.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { decodeCertificates } from '../../trust-anchors/pem.ts';
import type { TrustStore } from '../../trust-anchors/store.ts';
import { validateBundle, validateIssuer, type TrustBundle } from '../../trust-anchors/trust.ts';
import { readProxyTrust, requestRenewal } from '../../proxy/app/admin/fleet-client.ts';
import {
  AnchorKeyring,
  RotationStateFile,
  type FleetProbe,
  type RotationCheckpoint,
  type RotationContext,
  type RotationOptions,
} from '../../trust-anchors/rotation/index.ts';
import { FileFleet } from '../../trust-anchors/rotation/fleet-file.ts';
import { openssl } from '../support/csr.ts';

interface Leaf {
  anchor: string;
  issuer: string;
  notAfter: string;
}

/**
 * A proxy's admin endpoint (`GET /identity`, `POST /renew`) over real HTTP on 127.0.0.1:0, backed
 * by a model of the proxy's trust: it picks up the store's bundle when asked while `following`
 * (and refuses, as the real proxy does, a bundle its certificate does not chain to), and on
 * `POST /renew` takes a certificate from the store's issuer, checked against its own bundle.
 */
export class FakeProxy {
  readonly name: string;
  readonly identity: string;
  admin = '';
  /** When false the proxy never picks up a new bundle: a straggler. */
  following = true;
  /** When false `POST /renew` answers 404, like a proxy without the endpoint. */
  renewable = true;
  renewRequests = 0;
  refusedBundles = 0;
  #bundle!: TrustBundle;
  #leaf: Leaf | null = null;
  readonly #store: TrustStore;
  #server: Server | undefined;

  private constructor(name: string, store: TrustStore) {
    this.name = name;
    this.identity = `${name}.demo.serviceaccount.identity.linkerd.cluster.local`;
    this.#store = store;
  }

  /** Starts certified by the store's current issuer, holding the store's current bundle. */
  static async start(name: string, store: TrustStore): Promise<FakeProxy> {
    const proxy = new FakeProxy(name, store);
    proxy.#bundle = validateBundle(await store.readBundle(), systemClock.now());
    await proxy.renew();
    await proxy.listen();
    return proxy;
  }

  get bundleFingerprint(): string {
    return this.#bundle.fingerprint;
  }

  get certificateAnchor(): string | null {
    return this.#leaf?.anchor ?? null;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      void this.#handle(req.method ?? 'GET', req.url ?? '/').then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(this.admin ? Number(this.admin.split(':')[1]) : 0, '127.0.0.1', resolve));
    this.admin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#server = server;
  }

  async #handle(method: string, url: string): Promise<{ status: number; body: object }> {
    if (method === 'GET' && url === '/identity') {
      await this.syncBundle();
      return { status: this.#leaf ? 200 : 503, body: this.document() };
    }
    if (method === 'POST' && url === '/renew') {
      if (!this.renewable) return { status: 404, body: { error: 'not found' } };
      this.renewRequests++;
      if (this.following) await this.renew();
      return { status: 202, body: { renewing: true } };
    }
    return { status: 404, body: { error: 'not found' } };
  }

  document() {
    return {
      identity: this.identity,
      serial: this.#leaf ? '01' : null,
      issuer: this.#leaf ? 'CN=identity.linkerd.cluster.local' : null,
      bundleFingerprint: this.#bundle.fingerprint,
      certificateAnchors: this.#leaf ? [this.#leaf.anchor] : [],
      issuerFingerprint: this.#leaf?.issuer ?? null,
      notAfter: this.#leaf?.notAfter ?? null,
    };
  }

  /** Picks up the store's bundle while following, refusing one that its own certificate does not chain to. */
  async syncBundle(): Promise<void> {
    if (!this.following) return;
    const next = validateBundle(await this.#store.readBundle(), systemClock.now());
    if (next.fingerprint === this.#bundle.fingerprint) return;
    if (this.#leaf && !next.anchors.some((a) => a.fingerprint === this.#leaf!.anchor)) {
      this.refusedBundles++;
      return;
    }
    this.#bundle = next;
  }

  /** A new certificate from the store's issuer, verified against this proxy's bundle (refused otherwise, as a real proxy would). */
  async renew(): Promise<void> {
    const issuer = validateIssuer(await this.#store.readIssuer(), this.#bundle, systemClock.now());
    this.#leaf = { anchor: issuer.anchor.fingerprint, issuer: issuer.certificate.fingerprint, notAfter: issuer.notAfter.toISOString() };
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function startFleet(store: TrustStore, names: string[]): Promise<FakeProxy[]> {
  return Promise.all(names.map((n) => FakeProxy.start(n, store)));
}

/** `<home>/mesh/proxies.json` naming the proxies, as the local mesh will write it. */
export async function writeFleetFile(home: string, proxies: { name: string; admin: string }[]): Promise<string> {
  const path = join(home, HomeLayout.proxies);
  await mkdir(join(home, 'mesh'), { recursive: true });
  await writeFile(path, JSON.stringify({ proxies: proxies.map((p) => ({ name: p.name, admin: p.admin })) }));
  return path;
}

export const httpProbe: FleetProbe = {
  readTrust: (m) => readProxyTrust(m.admin, 1_000),
  requestRenewal: (m) => requestRenewal(m.admin, 1_000),
};

export const fastOptions: RotationOptions = {
  anchorLifetimeMs: 365 * 86_400_000,
  issuerLifetimeMs: 180 * 86_400_000,
  timeoutMs: 5_000,
  pollIntervalMs: 20,
  renewEveryMs: 50,
  allowEmptyFleet: false,
};

export interface TestRotation extends RotationContext {
  lines: string[];
}

/** A rotation context on a home and a store, with the fleet file in the home and fast timings. */
export function rotationContext(home: string, store: TrustStore, overrides: Partial<Omit<RotationContext, 'options'>> & { options?: Partial<RotationOptions> } = {}): TestRotation {
  const lines: string[] = [];
  const { options, ...rest } = overrides;
  return {
    store,
    keyring: new AnchorKeyring(home),
    stateFile: new RotationStateFile(home),
    fleet: new FileFleet(join(home, HomeLayout.proxies)),
    probe: httpProbe,
    clock: systemClock,
    progress: (line) => lines.push(line),
    ...rest,
    options: { ...fastOptions, ...options },
    lines,
  };
}

export class SimulatedCrash extends Error {}

/** Hooks that "crash" the run (throw) the first time it reaches `at`. */
export function crashOnceAt(at: RotationCheckpoint) {
  let crashed = false;
  return {
    get crashed() {
      return crashed;
    },
    checkpoint(name: RotationCheckpoint) {
      if (name === at && !crashed) {
        crashed = true;
        throw new SimulatedCrash(`simulated crash at ${name}`);
      }
    },
  };
}

/** The anchor fingerprints of a bundle PEM. */
export function anchorsOf(pem: string): string[] {
  return decodeCertificates(pem, 'bundle').map((der) => parseCertificate(der, 'bundle').fingerprint);
}

/** `openssl verify -CAfile bundle cert`: true when openssl accepts the chain. */
export async function opensslVerifies(bundlePem: string, certPem: string): Promise<boolean> {
  return openssl((d) => ['verify', '-CAfile', join(d, 'bundle.pem'), join(d, 'cert.pem')], { 'bundle.pem': bundlePem, 'cert.pem': certPem }).then(
    (out) => out.includes(': OK'),
    () => false,
  );
}

/** Every file of a tree with the SHA-256 of its content (symlinks by target), to show that nothing changed. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel))) {
      const path = join(rel, entry);
      const info = await lstat(join(dir, path));
      if (info.isSymbolicLink()) out[path] = `-> ${await readlink(join(dir, path))}`;
      else if (info.isDirectory()) await walk(path);
      else out[path] = `${(info.mode & 0o777).toString(8)} ${createHash('sha256').update(await readFile(join(dir, path))).digest('hex')}`;
    }
  };
  await walk('');
  return out;
}
