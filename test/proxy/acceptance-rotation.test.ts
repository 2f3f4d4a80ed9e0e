/**
 * Acceptance, trust anchor rotation on a running mesh of real processes: `identity serve`, three
 * proxies (web calling api and db), new connections every 10 ms to each server and a long-lived
 * stream to each, while `identity rotate-anchor` runs every step against the proxies' admin
 * endpoints (the fleet registry). Not one connection may fail, not one byte change, the streams
 * must stay open throughout, the old anchor must end up in no bundle, and a client holding a
 * certificate from the old anchor must then be refused.
 *
 * And a proxy that never picks the new bundle up holds the rotation at wait-bundle, named, while
 * traffic goes on untouched; `abort` then takes the mesh back to the old anchor.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePem } from '../../trust-anchors/pem.ts';
import { anchorFingerprint, bundleFingerprintOfPem, parseAnchors } from '../../trust-anchors/rotation/fingerprints.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { runCli, startCli } from '../support/cli.ts';
import { idOf } from './support/mesh.ts';
import { issueCredentials } from './support/pki.ts';
import { ProcessSet, startIdentityProcess, startProxyProcess, type IdentityProcess, type ProxyProcess } from './support/processes.ts';
import { echo, startServer, type TestServer } from './support/sockets.ts';
import { startTraffic, type Traffic } from './support/traffic.ts';

const API = idOf('api');
const DB = idOf('db');
const WEB = idOf('web');

interface RotationMesh {
  home: TestHome;
  processes: ProcessSet;
  identity: IdentityProcess;
  proxies: ProxyProcess[];
  web: ProxyProcess;
  api: ProxyProcess;
  apps: TestServer[];
  registry: string;
  close(): Promise<void>;
}

/** identity serve + api and db (each in front of an echo app) + web with a route to each; all read `<home>/bundle.crt` unless `stuck`. */
async function startRotationMesh(options: { stuck?: boolean } = {}): Promise<RotationMesh> {
  const home = await makeTestHome();
  const processes = new ProcessSet(join(home.home, 'logs'));
  const apps = [await startServer((s) => echo(s)), await startServer((s) => echo(s))];
  const close = async () => {
    await processes.stopAll();
    await Promise.all(apps.map((a) => a.close()));
    if (process.env.ACCEPTANCE_KEEP_LOGS) console.log(`acceptance: logs kept in ${processes.logDir}`);
    else await home.cleanup();
  };
  try {
    const identity = await startIdentityProcess(processes, { home: home.home });
    const shared = join(home.home, 'bundle.crt');
    // Renewals on request only matter here; a short minimum keeps the early renewal prompt.
    const common = { home: home.home, service: identity, extra: ['--min-refresh', '1s', '--bundle-reload-interval', '200ms'] };
    const token = (name: string) => home.token({ namespace: 'demo', name });
    const api = await startProxyProcess(processes, { ...common, name: 'api', identity: API, token: await token('api'), appPort: apps[0]!.port, sharedBundleFile: shared });
    const db = await startProxyProcess(processes, { ...common, name: 'db', identity: DB, token: await token('db'), appPort: apps[1]!.port, sharedBundleFile: shared });
    const web = await startProxyProcess(processes, {
      ...common,
      name: 'web',
      identity: WEB,
      token: await token('web'),
      outbound: [{ port: api.ports.inbound, identity: API }, { port: db.ports.inbound, identity: DB }],
      sharedBundleFile: shared,
    });
    const proxies = [api, db, web];
    if (options.stuck) {
      // Its own copy of the bundle, which nobody updates: it never learns of the new anchor.
      proxies.push(await startProxyProcess(processes, { ...common, name: 'stuck', identity: idOf('stuck'), token: await token('stuck') }));
    }
    const registry = join(home.home, 'mesh', 'proxies.json');
    await mkdir(join(home.home, 'mesh'), { recursive: true, mode: 0o700 });
    await writeFile(registry, JSON.stringify({ proxies: proxies.map((p) => ({ name: p.name, admin: `127.0.0.1:${p.ports.admin}` })) }), { mode: 0o600 });
    return { home, processes, identity, proxies, web, api, apps, registry, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Mutual TLS to api's inbound port with these credentials; resolves true when api's app echoes. */
function talkToApi(port: number, credentials: ReturnType<typeof issueCredentials>, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: TLSSocket | undefined;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 10_000);
    socket = connect({
      host: '127.0.0.1',
      port,
      servername: API,
      cert: [credentials.leafDer, ...credentials.intermediatesDer].map((der) => encodePem(der, 'CERTIFICATE')).join(''),
      key: credentials.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      ca: caPem,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined, // the server's name is not what this test is about
    });
    socket.on('secureConnect', () => socket!.write('ping'));
    socket.on('data', (d: Buffer) => done(d.toString() === 'ping'));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

const run = (args: string[], timeoutMs = 240_000) => runCli(args, { timeoutMs });

describe('acceptance: rotate-anchor on a running mesh', () => {
  let mesh: RotationMesh;
  let traffic: Traffic[] = [];
  beforeAll(async () => {
    mesh = await startRotationMesh();
  }, 180_000);
  afterAll(async () => {
    await Promise.all(traffic.map((t) => t.stop().catch(() => undefined)));
    await mesh?.close();
  }, 60_000);

  it('rotates with 0 failed connections, 0 corrupted bytes, streams open; the old anchor is then in no bundle and refused', async () => {
    const home = mesh.home.home;
    const oldBundlePem = await readFile(join(home, 'bundle.crt'), 'utf8');
    const oldAnchor = anchorFingerprint(oldBundlePem);
    const oldCredentials = issueCredentials(mesh.home.issuer, WEB, { lifetimeMs: 3_600_000 });
    // Control: before the rotation, that certificate is admitted.
    expect(await talkToApi(mesh.api.ports.inbound, oldCredentials, oldBundlePem)).toBe(true);

    traffic = await Promise.all(mesh.web.ports.outbound.map((port) => startTraffic({ port, workers: 2, pauseMs: 10, streamChunkBytes: 16 * 1024, streamIntervalMs: 20 })));
    const started = Date.now();
    const result = await run(['rotate-anchor', '--home', home, '--proxies', mesh.registry, '--timeout', '3m', '--poll-interval', '250ms', '--renew-every', '2s']);
    const rotationMs = Date.now() - started;
    const reports = await Promise.all(traffic.map((t) => t.stop()));
    traffic = [];
    console.log(`rotate-anchor: ${rotationMs} ms; ${result.stdout.trim().split('\n').slice(-1)[0]}`);
    console.log(`traffic: ${reports.map((r) => `${r.connections} connections, ${r.failed} failed, stream ${r.stream.received}/${r.stream.sent} bytes`).join('; ')}`);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);

    for (const r of reports) {
      expect(r.failures).toEqual([]);
      expect(r.failed).toBe(0);
      // Opened before the rotation, written to throughout, closed cleanly by us afterwards.
      expect(r.stream).toEqual({ sent: r.stream.sent, received: r.stream.sent, corrupted: 0, ending: 'end' });
      expect(r.connections).toBeGreaterThan(20);
    }

    const newBundlePem = await readFile(join(home, 'bundle.crt'), 'utf8');
    const anchors = parseAnchors(newBundlePem, 'bundle').map((a) => a.fingerprint);
    expect(anchors).toHaveLength(1);
    expect(anchors).not.toContain(oldAnchor);
    for (const p of mesh.proxies) {
      const doc = await p.identityDocument();
      expect(doc.bundleFingerprint, p.name).toBe(bundleFingerprintOfPem(newBundlePem));
      expect(doc.certificateAnchors, p.name).toEqual(anchors);
    }
    // The old anchor's certificate no longer opens a connection (offering either bundle as CA).
    expect(await talkToApi(mesh.api.ports.inbound, oldCredentials, oldBundlePem + newBundlePem)).toBe(false);
    const status = await run(['rotate-anchor', 'status', '--home', home, '-o', 'json'], 60_000);
    expect(status.code, status.stderr).toBe(0);
  }, 300_000);

  it('killed with SIGKILL after each step and re-run, a second rotation completes, traffic untouched', async () => {
    const home = mesh.home.home;
    const before = parseAnchors(await readFile(join(home, 'bundle.crt'), 'utf8'), 'bundle').map((a) => a.fingerprint);
    traffic = [await startTraffic({ port: mesh.web.ports.outbound[0]!, workers: 2, pauseMs: 10 })];
    const args = ['rotate-anchor', '--home', home, '--proxies', mesh.registry, '--timeout', '3m', '--poll-interval', '250ms', '--renew-every', '2s'];
    const outputs: string[] = [];
    for (const step of ['prepare', 'wait-bundle', 'activate', 'wait-reissue', 'retire']) {
      const cli = startCli(args);
      await cli.waitFor(new RegExp(`^${step}: done`, 'm'), 180_000);
      cli.child.kill('SIGKILL');
      await cli.stop();
      outputs.push(cli.output());
    }
    // Killed after retire too, before it could record the end: one more run finishes the record.
    const last = await run(args);
    outputs.push(last.stdout);
    expect(last.code, `${last.stdout}\n${last.stderr}`).toBe(0);
    expect(last.stdout).toMatch(/completed in/);
    const report = await traffic[0]!.stop();
    traffic = [];
    // Every run after the first picked the rotation up where the previous one was killed.
    for (const output of outputs.slice(1)) expect(output).toMatch(/resuming rotation \S+ at /);
    const status = JSON.parse((await run(['rotate-anchor', 'status', '--home', home, '-o', 'json'], 60_000)).stdout) as { inProgress: boolean };
    expect(status.inProgress).toBe(false);
    const after = parseAnchors(await readFile(join(home, 'bundle.crt'), 'utf8'), 'bundle').map((a) => a.fingerprint);
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    for (const p of mesh.proxies) expect((await p.identityDocument()).certificateAnchors, p.name).toEqual(after);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.stream.corrupted).toBe(0);
    expect(report.stream.ending).toBe('end');
  }, 600_000);
});

describe('acceptance: a proxy that never picks up the new bundle', () => {
  let mesh: RotationMesh;
  beforeAll(async () => {
    mesh = await startRotationMesh({ stuck: true });
  }, 180_000);
  afterAll(async () => {
    await mesh?.close();
  }, 60_000);

  it('holds the rotation at wait-bundle, naming it, with traffic unaffected; abort returns to the old anchor', async () => {
    const home = mesh.home.home;
    const oldBundlePem = await readFile(join(home, 'bundle.crt'), 'utf8');
    const traffic = await startTraffic({ port: mesh.web.ports.outbound[0]!, workers: 1, pauseMs: 10 });
    const held = await run(['rotate-anchor', '--home', home, '--proxies', mesh.registry, '--timeout', '5s', '--poll-interval', '250ms']);
    expect(held.code, `${held.stdout}\n${held.stderr}`).toBe(75);
    expect(`${held.stdout}\n${held.stderr}`).toMatch(/stuck/);
    const status = await run(['rotate-anchor', 'status', '--home', home, '-o', 'json'], 60_000);
    expect(status.stdout).toMatch(/wait-bundle/);

    const aborted = await run(['rotate-anchor', 'abort', '--home', home, '--proxies', mesh.registry, '--timeout', '1m', '--poll-interval', '250ms']);
    const report = await traffic.stop();
    expect(aborted.code, `${aborted.stdout}\n${aborted.stderr}`).toBe(0);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.stream.corrupted).toBe(0);
    expect(report.stream.ending).toBe('end');
    expect(bundleFingerprintOfPem(await readFile(join(home, 'bundle.crt'), 'utf8'))).toBe(bundleFingerprintOfPem(oldBundlePem));
  }, 300_000);
});
