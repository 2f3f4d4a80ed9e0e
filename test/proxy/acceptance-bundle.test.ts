/**
 * Acceptance, trust bundle reload without a restart, with real processes.
 *
 * The scenario. A proxy refuses a bundle that its own certificate does not chain to, so with one
 * CA for everybody no bundle can lack the peer's anchor while keeping the proxy's own. Hence two
 * trust anchors, in two homes, each with its own `identity serve` process:
 *
 *   home A ─ identity serve A ─ certifies web        home B ─ identity serve B ─ certifies api
 *
 * Both proxies start with a bundle file holding both anchors (A+B), so web -> api works. Then:
 * - client side: web's bundle file becomes A only (web's own anchor, not api's). The reload is
 *   applied (web's own certificate still chains), and web's new handshakes to api fail: it cannot
 *   verify api's certificate (`untrusted-peer`). Restoring A+B makes new connections work again.
 * - server side: api's bundle file becomes B only; api no longer trusts web's client certificate
 *   (`untrusted-peer` inbound), new connections are refused; restoring A+B makes them work.
 * - a bundle with only the peer's anchor (B for web) is refused: web would be cut off from all.
 * A connection opened before the first change carries data throughout (new handshakes only), and
 * neither proxy process restarts. Files are replaced the way a ConfigMap update does (new file,
 * then rename), and the proxies poll them every 200 ms.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { API, WEB } from './support/process-mesh.ts';
import { isRunning, ProcessSet, startIdentityProcess, startProxyProcess, waitUntil, type ProxyProcess } from './support/processes.ts';
import { collect, dialLocal, echo, startServer, waitForData, type TestServer } from './support/sockets.ts';

let homeA: TestHome;
let homeB: TestHome;
let dir: string;
let processes: ProcessSet;
let app: TestServer;
let web: ProxyProcess;
let api: ProxyProcess;

beforeAll(async () => {
  [homeA, homeB] = await Promise.all([makeTestHome(), makeTestHome()]);
  dir = await mkdtemp(join(tmpdir(), 'acceptance-bundle-'));
  processes = new ProcessSet(dir);
  app = await startServer((s) => echo(s));
  const [serviceA, serviceB] = await Promise.all([
    startIdentityProcess(processes, { home: homeA.home, name: 'identity-a' }),
    startIdentityProcess(processes, { home: homeB.home, name: 'identity-b' }),
  ]);
  const both = homeA.bundle.pem + homeB.bundle.pem;
  const extra = ['--bundle-reload-interval', '200ms'];
  api = await startProxyProcess(processes, {
    name: 'api', identity: API, token: await homeB.token({ namespace: 'demo', name: 'api' }), home: homeB.home, service: serviceB,
    bundlePem: both, appPort: app.port, extra,
  });
  web = await startProxyProcess(processes, {
    name: 'web', identity: WEB, token: await homeA.token({ namespace: 'demo', name: 'web' }), home: homeA.home, service: serviceA,
    bundlePem: both, outbound: [{ port: api.ports.inbound, identity: API }], extra,
  });
}, 180_000);

afterAll(async () => {
  await processes?.stopAll();
  await app?.close();
  await homeA?.cleanup();
  await homeB?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** Replaces the file in one rename, as a ConfigMap's `..data` swap does. */
async function replaceBundle(proxy: ProxyProcess, pem: string): Promise<void> {
  const next = `${proxy.bundleFile}.next`;
  await writeFile(next, pem);
  await rename(next, proxy.bundleFile);
}

const reloads = (proxy: ProxyProcess, result: string) => proxy.metric('proxy_trust_bundle_reloads_total', { result });

/** Replaces the bundle file and waits until the proxy reports the reload `result`. */
async function changeBundle(proxy: ProxyProcess, pem: string, result: 'applied' | 'refused'): Promise<void> {
  const before = await reloads(proxy, result);
  await replaceBundle(proxy, pem);
  await waitUntil(`${proxy.name}'s proxy to report a ${result} bundle`, async () => (await reloads(proxy, result)) === before + 1);
}

/** A new connection through web -> api: the echo, or how it ended. */
async function attempt(text: string): Promise<string> {
  const socket = await dialLocal(web.ports.outbound[0]!).catch((err: NodeJS.ErrnoException) => err);
  if (socket instanceof Error) return socket.code ?? socket.message;
  const received = collect(socket);
  socket.write(text); // no FIN: a refusal must show as a reset (see proxy/README.md, known limits)
  const outcome = await Promise.race([received, waitForData(socket, (d) => d.length >= text.length).then(() => undefined)]);
  if (outcome) return outcome.data.length ? `data:${outcome.data.toString()}` : outcome.ending;
  socket.end();
  const { data } = await received;
  return `data:${data.toString()}`;
}

describe('acceptance: the trust bundle file is reloaded without a restart', () => {
  it('a bundle without the peer anchor makes new handshakes fail; restoring it makes them succeed; open connections and processes are untouched', async () => {
    const pids = [web.pid, api.pid];
    const bundleA = homeA.bundle.pem;
    const bundleB = homeB.bundle.pem;
    const both = bundleA + bundleB;
    const failures = (proxy: ProxyProcess, direction: string, reason: string) => proxy.metric('proxy_tls_handshake_failures_total', { direction, reason });

    expect(await attempt('hello')).toBe('data:hello');
    // Opened before any change, used throughout.
    const longLived = await dialLocal(web.ports.outbound[0]!);
    const longLivedReceived = collect(longLived);
    longLived.write('before;');
    await waitForData(longLived, (d) => d.toString().endsWith('before;'));

    // Client side: web trusts only its own anchor A; api's certificate chains to B.
    await changeBundle(web, bundleA, 'applied');
    expect((await web.identityDocument()).bundleFingerprint).toBe(homeA.bundle.fingerprint);
    const webUntrusted = await failures(web, 'outbound', 'untrusted-peer');
    const accepted = app.accepted.length;
    expect(await attempt('must not pass')).toBe('ECONNRESET');
    expect(await failures(web, 'outbound', 'untrusted-peer')).toBe(webUntrusted + 1);
    expect(app.accepted.length).toBe(accepted);
    longLived.write('during client-side change;');
    await waitForData(longLived, (d) => d.toString().endsWith('during client-side change;'));

    // A bundle with only the peer's anchor would cut web off: refused, A stays in force.
    await changeBundle(web, bundleB, 'refused');
    expect((await web.identityDocument()).bundleFingerprint).toBe(homeA.bundle.fingerprint);

    await changeBundle(web, both, 'applied');
    expect(await attempt('web trusts api again')).toBe('data:web trusts api again');

    // Server side: api trusts only its own anchor B; web's client certificate chains to A.
    await changeBundle(api, bundleB, 'applied');
    const apiUntrusted = await failures(api, 'inbound', 'untrusted-peer');
    const accepted2 = app.accepted.length;
    expect(await attempt('must not pass either')).toBe('ECONNRESET');
    await waitUntil("api's proxy to count the untrusted client", async () => (await failures(api, 'inbound', 'untrusted-peer')) === apiUntrusted + 1);
    expect(app.accepted.length).toBe(accepted2);

    await changeBundle(api, both, 'applied');
    expect(await attempt('api trusts web again')).toBe('data:api trusts web again');

    longLived.end('after');
    expect(await longLivedReceived).toMatchObject({ ending: 'end' });
    expect((await longLivedReceived).data.toString()).toBe('before;during client-side change;after');

    // No restart: the same two processes did all of it.
    expect([web.pid, api.pid]).toEqual(pids);
    expect(isRunning(web.process) && isRunning(api.process)).toBe(true);
  }, 120_000);
});
