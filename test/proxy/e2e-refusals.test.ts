/**
 * End to end, in-process: what the proxies refuse, and how they say so (reset, log, counter),
 * plus the admin endpoints and a live bundle change under an open connection.
 */
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowAllPolicy, type InboundConnectionFacts, type InboundDecision, type InboundPolicy } from '../../proxy/app/inbound/authorize.ts';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { privateKeyToPem } from '../../trust-anchors/keys.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { issueCredentials } from './support/pki.ts';
import { eventually, idOf, metric, startMesh, type Mesh } from './support/mesh.ts';
import { collect, dialLocal, echo, startServer, type TestServer } from './support/sockets.ts';

const WEB = idOf('web');
const API = idOf('api');

let mesh: Mesh;
let foreign: TestHome;
let app: TestServer;
let notAllowedApp: TestServer;
let server: RunningProxy & { bundleFile: string };
let client: RunningProxy;
let uncertified: RunningProxy;
let impostor: TlsServer; // a TLS server with a valid mesh certificate for api, reached by a route expecting db
const facts: InboundConnectionFacts[] = [];
const testAllow = (): InboundDecision => ({ decision: 'allow', server: { kind: 'default', name: 'test' }, authorization: { kind: 'default', name: 'test' }, reason: 'test-allow' });
const testDeny = (): InboundDecision => ({ decision: 'deny', server: { kind: 'default', name: 'test' }, authorization: null, reason: 'test-deny' });
let decide: (f: InboundConnectionFacts) => InboundDecision = testAllow;
/** Records the facts of every decision and answers with `decide`. */
const recordingPolicy: InboundPolicy = { ...allowAllPolicy(), decide: (f) => (facts.push(f), decide(f)) };
let routePorts: { plain: number; wrongIdentity: number; portNotAllowed: number };

beforeAll(async () => {
  [mesh, foreign] = await Promise.all([startMesh(), makeTestHome()]);
  app = await startServer((s) => echo(s));
  notAllowedApp = await startServer((s) => echo(s));
  server = await mesh.proxy({
    sa: 'api',
    appPort: app.port,
    policy: recordingPolicy,
  });
  const destination = { host: '127.0.0.1', port: server.ports.inbound };
  const apiCredentials = issueCredentials(mesh.home.issuer, API);
  impostor = createTlsServer({ ...pemOf(apiCredentials), ca: mesh.home.bundle.pem }, (s) => s.on('error', () => {}).end('impostor'));
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  client = await mesh.proxy({
    sa: 'web',
    routes: [
      { destination, identity: API, opaque: false },
      { destination: { host: '127.0.0.1', port: (impostor.address() as AddressInfo).port }, identity: idOf('db'), opaque: false },
      { destination, identity: API, opaque: true, targetPort: notAllowedApp.port },
    ],
  });
  const [plain, wrongIdentity, portNotAllowed] = client.ports.outbound as [number, number, number];
  routePorts = { plain, wrongIdentity, portNotAllowed };
  // Claims web's identity with api's token: the identity service refuses it, so it never certifies.
  uncertified = await mesh.proxy({ sa: 'api', localName: WEB, routes: [{ destination, identity: API, opaque: false }] });
  await Promise.all([server.ready(), client.ready()]);
});

afterAll(async () => {
  await mesh?.close();
  await new Promise((resolve) => impostor?.close(resolve));
  await foreign?.cleanup();
  await app?.close();
  await notAllowedApp?.close();
});

const pemOf = (c: ReturnType<typeof issueCredentials>) => ({
  key: privateKeyToPem(c.privateKey),
  cert: [c.leafDer, ...c.intermediatesDer].map((d) => encodePem(d, 'CERTIFICATE')).join(''),
});
const roundTrip = async (port: number, text = 'ping') => {
  const socket = await dialLocal(port);
  const received = collect(socket);
  socket.end(text);
  return received;
};
/**
 * Writes without half-closing and reports how the connection ended. (A client that has already
 * sent its FIN may see a refusal across the TLS hop as a FIN: see proxy/README.md.)
 */
const attempt = async (port: number): Promise<string> => {
  const socket = await dialLocal(port).catch((err: NodeJS.ErrnoException) => err);
  if (socket instanceof Error) return socket.code ?? socket.message; // reset before 'connect' was seen
  const received = collect(socket);
  socket.write('ping');
  const { ending, data } = await received;
  return data.length ? `data:${data.toString()}` : ending;
};
const appConnections = () => app.accepted.length;

describe('refusals', () => {
  it('resets the application when the server is not the expected identity', async () => {
    const before = appConnections();
    expect(await attempt(routePorts.wrongIdentity)).toBe('ECONNRESET');
    expect(await metric(client, 'proxy_tls_handshake_failures_total', { direction: 'outbound', reason: 'identity-mismatch' })).toBe(1);
    expect(appConnections()).toBe(before);
  });

  it('refuses a transport header naming a port the server does not allow', async () => {
    expect(await attempt(routePorts.portNotAllowed)).toBe('ECONNRESET');
    await eventually(async () => (await metric(server, 'proxy_tcp_refused_total', { reason: 'port-not-allowed' })) === 1);
    expect(notAllowedApp.accepted.length).toBe(0);
  });

  it('refuses a client without a certificate', async () => {
    const before = appConnections();
    const socket = tlsConnect({ host: '127.0.0.1', port: server.ports.inbound, servername: API, ca: mesh.home.bundle.pem, checkServerIdentity: () => undefined });
    const outcome = await collect(socket as never);
    expect(outcome.ending).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
    await eventually(async () => (await metric(server, 'proxy_tls_handshake_failures_total', { reason: 'no-client-certificate' })) === 1);
    expect(appConnections()).toBe(before);
  });

  it('refuses a client certificate from another trust domain', async () => {
    const before = appConnections();
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: server.ports.inbound,
      servername: API,
      ca: mesh.home.bundle.pem,
      ...pemOf(issueCredentials(foreign.issuer, WEB)),
      checkServerIdentity: () => undefined,
    });
    socket.on('secureConnect', () => socket.write('must never reach the application'));
    await collect(socket as never);
    await eventually(async () => (await metric(server, 'proxy_tls_handshake_failures_total', { reason: 'untrusted-peer' })) === 1);
    expect(appConnections()).toBe(before);
  });

  it('refuses to connect out before it holds a certificate (no-identity), and is not ready', async () => {
    expect(await attempt(uncertified.ports.outbound[0]!)).toBe('ECONNRESET');
    expect(await metric(uncertified, 'proxy_tls_handshake_failures_total', { reason: 'no-identity' })).toBe(1);
    const ready = await fetch(`http://127.0.0.1:${uncertified.ports.admin}/ready`);
    expect(ready.status).toBe(503);
    await eventually(async () => (await metric(uncertified, 'proxy_identity_renewal_failures_total')) >= 1);
  });

  it('asks the inbound policy, and resets the client when it denies', async () => {
    facts.length = 0;
    expect((await roundTrip(routePorts.plain, 'allowed')).data.toString()).toBe('allowed');
    expect(facts).toEqual([{ clientIdentity: WEB, clientIp: '127.0.0.1', clientAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/), tls: true, targetPort: app.port }]);
    decide = testDeny;
    try {
      expect(await attempt(routePorts.plain)).toBe('ECONNRESET');
      expect(await metric(server, 'proxy_tcp_refused_total', { reason: 'unauthorized' })).toBe(1);
    } finally {
      decide = testAllow;
    }
  });

  it('forwards a plaintext client to the application as unauthenticated', async () => {
    facts.length = 0;
    expect((await roundTrip(server.ports.inbound, 'plain hello')).data.toString()).toBe('plain hello');
    expect(facts[0]).toMatchObject({ tls: false, targetPort: app.port });
    expect(facts[0]!.clientIdentity).toBeUndefined();
    await eventually(async () => (await metric(server, 'proxy_tcp_open_total', { direction: 'inbound', tls: 'false', peer_identity: '' })) === 1);
  });

  it('passes TLS for another name through to the application, unterminated', async () => {
    const before = appConnections();
    const socket = tlsConnect({ host: '127.0.0.1', port: server.ports.inbound, servername: 'www.example.com', rejectUnauthorized: false });
    await collect(socket as never); // the echo application sends the ClientHello back: not TLS to the client
    expect(appConnections()).toBe(before + 1);
    expect(app.accepted.at(-1)!.bytesRead).toBeGreaterThan(100); // it got the ClientHello, as bytes
  });
});

describe('admin and live changes', () => {
  it('serves /ready, /live, /identity and /metrics', async () => {
    const base = `http://127.0.0.1:${server.ports.admin}`;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    expect((await fetch(`${base}/live`)).status).toBe(200);
    const identity = (await (await fetch(`${base}/identity`)).json()) as Record<string, unknown>;
    const tls = server.store.snapshot().tls!;
    expect(identity).toEqual({
      identity: API,
      serial: tls.leaf.serialHex,
      notAfter: tls.leaf.notAfter.toISOString(),
      issuer: tls.leaf.issuer,
      bundleFingerprint: mesh.home.bundle.fingerprint,
      // One anchor in the bundle, and the certificate chains to it; the issuer is the home's.
      certificateAnchors: mesh.home.bundle.anchors.map((a) => a.fingerprint),
      issuerFingerprint: mesh.home.issuer.certificate.fingerprint,
    });
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of ['proxy_tcp_open_total', 'proxy_identity_cert_expiry_timestamp_seconds', 'proxy_identity_renewals_total', 'proxy_trust_bundle_reloads_total']) {
      expect(text).toContain(name);
    }
    expect(await metric(server, 'proxy_identity_cert_expiry_timestamp_seconds')).toBe(tls.leaf.notAfter.getTime() / 1000);
  });

  it('applies a new bundle to new handshakes while an open connection keeps flowing', async () => {
    const socket = await dialLocal(routePorts.plain);
    const received = collect(socket);
    socket.write('before;');
    await eventually(() => app.accepted.length > 0 && app.accepted.at(-1)!.bytesRead > 0);

    await writeFile(server.bundleFile, mesh.home.bundle.pem + foreign.bundle.pem);
    expect(await server.bundleWatcher.checkNow()).toBe('applied');
    expect(await metric(server, 'proxy_trust_bundle_reloads_total', { result: 'applied' })).toBe(1);
    await writeFile(server.bundleFile, foreign.bundle.pem); // lacks the anchor of its own certificate
    expect(await server.bundleWatcher.checkNow()).toBe('refused');
    expect(await metric(server, 'proxy_trust_bundle_reloads_total', { result: 'refused' })).toBe(1);

    socket.end('after');
    expect((await received).data.toString()).toBe('before;after');
    expect((await roundTrip(routePorts.plain, 'new connection')).data.toString()).toBe('new connection');
  });

  it('refuses detection that takes too long', async () => {
    const slow = await mesh.proxy({ sa: 'api', appPort: app.port, detectTimeoutMs: 100 });
    const socket = await dialLocal(slow.ports.inbound);
    const outcome = await collect(socket);
    expect(outcome.data.length).toBe(0);
    expect(await metric(slow, 'proxy_tcp_refused_total', { reason: 'detect-timeout' })).toBe(1);
  });
});
