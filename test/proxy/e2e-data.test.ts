/**
 * End to end, in-process: a real identity service, two proxies with real identity clients, and
 * loopback applications. client -> proxy web (outbound) == mTLS ==> proxy api (inbound) -> app.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { eventually, idOf, metric, startMesh, type Mesh } from './support/mesh.ts';
import { collect, dialLocal, echo, startServer, writeBytes, type TestServer } from './support/sockets.ts';

const WEB = idOf('web');
const API = idOf('api');

let mesh: Mesh;
let app: TestServer;
let opaqueApp: TestServer;
let onApp: (socket: Socket) => void = (s) => echo(s);
let server: RunningProxy; // api's proxy
let client: RunningProxy; // web's proxy
let plainPort: number;
let opaquePort: number;

beforeAll(async () => {
  mesh = await startMesh();
  app = await startServer((s) => onApp(s));
  opaqueApp = await startServer((s) => echo(s, 'opaque:'));
  server = await mesh.proxy({ sa: 'api', appPort: app.port, opaquePorts: [opaqueApp.port] });
  const destination = { host: '127.0.0.1', port: server.ports.inbound };
  client = await mesh.proxy({
    sa: 'web',
    routes: [
      { destination, identity: API, opaque: false },
      { destination, identity: API, opaque: true, targetPort: opaqueApp.port },
    ],
  });
  [plainPort, opaquePort] = client.ports.outbound as [number, number];
  await Promise.all([server.ready(), client.ready()]);
});

afterAll(async () => {
  await mesh?.close();
  await app?.close();
  await opaqueApp?.close();
});

describe('proxy to proxy over mutual TLS', () => {
  it('carries 8 MiB each way with equal SHA-256, and counts it with both identities', async () => {
    onApp = (s) => echo(s);
    const size = 8 * 1024 * 1024;
    const socket = await dialLocal(plainPort);
    const received = collect(socket);
    const sent = await writeBytes(socket, size, 7);
    socket.end();
    const got = await received;
    expect(got.ending).toBe('end');
    expect(got.data.length).toBe(size);
    expect(got.sha256).toBe(sent);

    await eventually(async () => (await metric(client, 'proxy_tcp_close_total', { direction: 'outbound' })) >= 1);
    expect(await metric(client, 'proxy_tcp_open_total', { direction: 'outbound', tls: 'true', peer_identity: API })).toBe(1);
    expect(await metric(client, 'proxy_tcp_bytes_total', { direction: 'outbound', flow: 'read' })).toBe(size);
    expect(await metric(client, 'proxy_tcp_bytes_total', { direction: 'outbound', flow: 'write' })).toBe(size);
    await eventually(async () => (await metric(server, 'proxy_tcp_close_total', { direction: 'inbound', peer_identity: WEB })) >= 1);
    expect(await metric(server, 'proxy_tcp_open_total', { direction: 'inbound', tls: 'true', peer_identity: WEB })).toBe(1);
    expect(await metric(server, 'proxy_tcp_bytes_total', { direction: 'inbound', flow: 'read' })).toBe(size);
  });

  it('half-close from the client: the answer written after its FIN arrives', async () => {
    onApp = (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.once('end', () => setTimeout(() => s.end(`got ${Buffer.concat(chunks).toString()}, then your FIN`), 20));
    };
    const socket = await dialLocal(plainPort);
    const received = collect(socket);
    socket.end('question');
    expect(await received).toMatchObject({ ending: 'end' });
    expect((await received).data.toString()).toBe('got question, then your FIN');
  });

  it('half-close from the server: the client keeps sending after the server FIN', async () => {
    let appReceived!: Promise<{ data: Buffer; ending: string }>;
    onApp = (s) => {
      appReceived = collect(s);
      s.end('server done');
    };
    const socket = await dialLocal(plainPort);
    expect(await collect(socket)).toMatchObject({ ending: 'end' });
    socket.end('client still talking');
    const got = await appReceived;
    expect(got.data.toString()).toBe('client still talking');
    expect(got.ending).toBe('end');
  });

  it('a reset by the application reaches the client as a reset', async () => {
    onApp = (s) => s.once('data', () => s.resetAndDestroy());
    const socket = await dialLocal(plainPort);
    const received = collect(socket);
    socket.write('reset me');
    expect((await received).ending).toBe('ECONNRESET');
  });

  it('a reset right after a last answer still arrives as a reset, not a FIN (repeated)', async () => {
    // The RST follows the data at once, so the receiving proxy often reads both in one go; libuv
    // then reports a plain end of stream, which the pump must recognise as the reset it is.
    onApp = (s) =>
      s.once('data', () => {
        s.write('last words');
        s.resetAndDestroy();
      });
    for (let i = 0; i < 10; i++) {
      const socket = await dialLocal(plainPort);
      const received = collect(socket);
      socket.write('talk to me');
      expect((await received).ending, `attempt ${i}`).toBe('ECONNRESET');
    }
  });

  it('a reset by the client reaches the application as a reset', async () => {
    let appReceived!: Promise<{ ending: string }>;
    let accepted!: () => void;
    const arrived = new Promise<void>((resolve) => (accepted = resolve));
    onApp = (s) => {
      appReceived = collect(s);
      s.once('data', () => accepted());
    };
    const socket = await dialLocal(plainPort);
    socket.write('hello');
    await arrived;
    socket.resetAndDestroy();
    expect((await appReceived).ending).toBe('ECONNRESET');
  });

  it('an opaque route carries the transport header to the named port, then the bytes unchanged', async () => {
    const socket = await dialLocal(opaquePort);
    const received = collect(socket);
    const sent = await writeBytes(socket, 1024 * 1024, 3);
    socket.end();
    const got = await received;
    expect(got.data.subarray(0, 7).toString()).toBe('opaque:');
    expect(got.data.length).toBe(7 + 1024 * 1024);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(got.data.subarray(7)).digest('hex')).toBe(sent);
  });

  it('many short connections in parallel all round-trip', async () => {
    onApp = (s) => echo(s);
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const socket = await dialLocal(i % 2 ? plainPort : opaquePort);
        const received = collect(socket);
        socket.end(`message ${i}`);
        return (await received).data.toString();
      }),
    );
    results.forEach((text, i) => expect(text).toBe(`${i % 2 ? '' : 'opaque:'}message ${i}`));
  });
});
