/**
 * Acceptance, inbound mutual TLS as a foreign client sees it: `openssl s_client` against api's
 * proxy process (inbound port, SNI = api's identity). Only a TLS 1.3 client presenting a
 * certificate that chains to the mesh's trust anchors reaches the application; everything else is
 * refused before a single application byte is forwarded. Asserts on what the application receives
 * and on what s_client prints, never on timing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr } from '../../identity/csr-builder.ts';
import { createCertifyClient } from '../../identity/grpc/client.ts';
import { generateP256KeyPair, privateKeyToPem } from '../../trust-anchors/keys.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { issueCredentials } from './support/pki.ts';
import { API, startProcessMesh, WEB, type ProcessMesh } from './support/process-mesh.ts';
import { waitUntil } from './support/processes.ts';
import { startServer, type TestServer } from './support/sockets.ts';

const PROBE = 'ping from openssl';
const ANSWER = 'answer from the application';

let mesh: ProcessMesh;
let foreign: TestHome; // another trust domain's CA, same names
let app: TestServer;
let dir: string;
/** Every byte the application received, over all connections. */
let appBytes = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acceptance-openssl-'));
  app = await startServer((s: Socket) => {
    s.on('data', (d: Buffer) => {
      appBytes += d.length;
      if (d.toString().includes(PROBE)) s.end(`${ANSWER}\n`);
    });
  });
  mesh = await startProcessMesh({ appPort: app.port });
  foreign = await makeTestHome();
  await writeFile(join(dir, 'bundle.crt'), mesh.home.bundle.pem);

  // A real workload certificate for web, from the identity service process, over its Certify API.
  const keys = generateP256KeyPair();
  const client = createCertifyClient({ address: mesh.identity.listen, serverIdentity: mesh.identity.identity, trustBundlePem: mesh.home.bundle.pem });
  try {
    const issued = await client.certify({ identity: WEB, token: Buffer.from(await mesh.home.token({ namespace: 'demo', name: 'web' })), csr: buildCsr(keys, WEB) });
    await writeFile(join(dir, 'web.key'), privateKeyToPem(keys.privateKey), { mode: 0o600 });
    await writeFile(join(dir, 'web.crt'), encodePem(issued.leafDer, 'CERTIFICATE'));
    await writeFile(join(dir, 'web-chain.crt'), issued.intermediatesDer.map((d) => encodePem(d, 'CERTIFICATE')).join(''));
  } finally {
    client.close();
  }
  // The same identity, signed by a CA the mesh does not trust.
  const stranger = issueCredentials(foreign.issuer, WEB);
  await writeFile(join(dir, 'stranger.key'), privateKeyToPem(stranger.privateKey), { mode: 0o600 });
  await writeFile(join(dir, 'stranger.crt'), encodePem(stranger.leafDer, 'CERTIFICATE'));
  await writeFile(join(dir, 'stranger-chain.crt'), stranger.intermediatesDer.map((d) => encodePem(d, 'CERTIFICATE')).join(''));
}, 180_000);

afterAll(async () => {
  await mesh?.close();
  await app?.close();
  await foreign?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

interface SClient {
  code: number | null;
  output: string;
}

/**
 * `openssl s_client` to api's inbound port with SNI = api's identity, verifying the server against
 * the mesh bundle and api's name; sends PROBE, then keeps reading (-ign_eof) until the server closes. Killed after
 * 20 s at most.
 */
function sClient(extra: string[]): Promise<SClient> {
  const args = [
    's_client', '-connect', `127.0.0.1:${mesh.api.ports.inbound}`, '-servername', API,
    '-CAfile', join(dir, 'bundle.crt'), '-verify_hostname', API, '-verify_return_error', '-ign_eof', ...extra,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.stdin.on('error', () => {}); // s_client may be gone before it reads stdin
    child.stdin.end(`${PROBE}\n`);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const withCert = (name: string) => ['-cert', join(dir, `${name}.crt`), '-key', join(dir, `${name}.key`), '-cert_chain', join(dir, `${name}-chain.crt`)];
const failures = (reason: string) => mesh.api.metric('proxy_tls_handshake_failures_total', { direction: 'inbound', reason });

/** Runs s_client and checks that the application saw nothing: no connection, no byte. */
async function refused(extra: string[], reason: string): Promise<SClient> {
  const [connections, bytes, failed] = [app.accepted.length, appBytes, await failures(reason)];
  const result = await sClient(extra);
  if (process.env.ACCEPTANCE_DEBUG) console.log(result.output);
  await waitUntil(`handshake failure "${reason}" counted`, async () => (await failures(reason)) === failed + 1);
  expect(app.accepted.length, 'connections the application accepted').toBe(connections);
  expect(appBytes, 'bytes the application received').toBe(bytes);
  expect(result.output).not.toContain(ANSWER);
  return result;
}

describe('acceptance: openssl s_client against the inbound port', () => {
  it('without a client certificate: refused (certificate required), nothing reaches the application', async () => {
    const result = await refused([], 'no-client-certificate');
    // TLS 1.3: the client finishes its side, then the server's verdict arrives as an alert or a reset.
    expect(result.output).toMatch(/alert certificate required|errno=\d+|Connection reset/i);
  });

  it('with a client certificate from another CA: refused, nothing reaches the application', async () => {
    const result = await refused(withCert('stranger'), 'untrusted-peer');
    expect(result.output).toMatch(/alert unknown ca|alert bad certificate|alert certificate unknown|errno=\d+|Connection reset/i);
  });

  it('TLS 1.2 only (with a valid certificate): refused, nothing reaches the application', async () => {
    const result = await refused(['-tls1_2', ...withCert('web')], 'protocol');
    expect(result.output).toMatch(/alert protocol version|wrong version|unsupported protocol|no protocols available|errno=\d+|Connection reset/i);
    expect(result.output).toMatch(/New, \(NONE\), Cipher is \(NONE\)/); // no session was ever established
  });

  it('with a valid mesh certificate: TLS 1.3, the server verified as api, and the application answers', async () => {
    const before = await mesh.api.metric('proxy_tcp_open_total', { direction: 'inbound', tls: 'true', peer_identity: WEB });
    const connections = app.accepted.length;
    const result = await sClient(withCert('web'));
    if (process.env.ACCEPTANCE_DEBUG) console.log(result.output);
    expect(result.output).toContain(ANSWER);
    expect(result.output).toMatch(/TLSv1\.3/);
    expect(result.output).toMatch(/Verify return code: 0 \(ok\)/);
    expect(app.accepted.length).toBe(connections + 1);
    // api's proxy authenticated the client as web.
    expect(await mesh.api.metric('proxy_tcp_open_total', { direction: 'inbound', tls: 'true', peer_identity: WEB })).toBe(before + 1);
  });

  it('never resumes a session: a second connection offering the first session gets a full handshake', async () => {
    // The server sends TLS 1.3 NewSessionTicket messages (stateful ones, since tickets are off),
    // but keeps no session cache: resumption would skip verifying the client against the bundle
    // in force, which is what makes reloading the bundle safe (proxy/README.md, point 3).
    const session = join(dir, 'session.pem');
    const first = await sClient([...withCert('web'), '-sess_out', session]);
    expect(first.output).toContain(ANSWER);
    expect(first.output).toContain('Post-Handshake New Session Ticket arrived');
    const second = await sClient([...withCert('web'), '-sess_in', session]);
    expect(second.output).toContain(ANSWER);
    expect(second.output).toMatch(/^New, TLSv1\.3/m);
    expect(second.output).not.toMatch(/^Reused, /m);
  });
});
