import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientHello } from '../../proxy/tls/client-hello.ts';
import { DetectError, detectTls } from '../../proxy/tls/detect.ts';
import { captureNodeClientHello, captureOpensslClientHello } from './support/capture.ts';

const ID = 'web.demo.serviceaccount.identity.linkerd.cluster.local';
const ALPN = ['transport.l5d.io/v1', 'h2'];

let nodeHello: Buffer;
let opensslHello: Buffer;
let opensslTls12Hello: Buffer;
let noSniHello: Buffer;

beforeAll(async () => {
  [nodeHello, opensslHello, opensslTls12Hello, noSniHello] = await Promise.all([
    captureNodeClientHello({ servername: ID, alpn: ALPN }),
    captureOpensslClientHello({ servername: ID, alpn: ALPN }),
    captureOpensslClientHello({ servername: ID, tls12: true }),
    captureOpensslClientHello({}),
  ]);
});

describe('parseClientHello on captured ClientHellos', () => {
  it('reads SNI and ALPN from node tls.connect', () => {
    expect(parseClientHello(nodeHello)).toEqual({ status: 'client-hello', serverName: ID, alpn: ALPN });
  });

  it('reads SNI and ALPN from openssl s_client', () => {
    expect(parseClientHello(opensslHello)).toEqual({ status: 'client-hello', serverName: ID, alpn: ALPN });
  });

  it('reads a TLS 1.2-only ClientHello without ALPN', () => {
    expect(parseClientHello(opensslTls12Hello)).toEqual({ status: 'client-hello', serverName: ID, alpn: [] });
  });

  it('reports no server name when the client sends none', () => {
    expect(parseClientHello(noSniHello)).toMatchObject({ status: 'client-hello', serverName: undefined });
  });

  it('answers incomplete for every proper prefix, and never throws', () => {
    for (const hello of [nodeHello, opensslHello]) {
      for (let n = 0; n < hello.length; n++) {
        expect(parseClientHello(hello.subarray(0, n)).status, `prefix of ${n} bytes`).toBe('incomplete');
      }
    }
  });

  it('reassembles a ClientHello split across several TLS records', () => {
    // Re-frame the handshake message into records of 100 bytes each, as RFC 8446 5.1 allows.
    const message = nodeHello.subarray(5, 5 + nodeHello.readUInt16BE(3));
    const records: Buffer[] = [];
    for (let i = 0; i < message.length; i += 100) {
      const fragment = message.subarray(i, i + 100);
      records.push(Buffer.from([0x16, 0x03, 0x01, fragment.length >> 8, fragment.length & 0xff]), fragment);
    }
    expect(parseClientHello(Buffer.concat(records))).toEqual({ status: 'client-hello', serverName: ID, alpn: ALPN });
  });

  it('refuses a ClientHello larger than the limit without waiting for it', () => {
    expect(parseClientHello(nodeHello.subarray(0, 10), 64)).toMatchObject({ status: 'not-tls', reason: expect.stringMatching(/exceeds/) });
  });
});

describe('parseClientHello on garbage', () => {
  it('decides on the first byte for plaintext', () => {
    expect(parseClientHello(Buffer.from('G'))).toMatchObject({ status: 'not-tls' });
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toMatchObject({ status: 'not-tls' });
    expect(parseClientHello(Buffer.from([0x16, 0x02]))).toMatchObject({ status: 'not-tls' });
    expect(parseClientHello(Buffer.alloc(0))).toEqual({ status: 'incomplete' });
  });

  it('refuses records and messages that are not a ClientHello', () => {
    const serverHello = Buffer.from(nodeHello);
    serverHello[5] = 0x02;
    expect(parseClientHello(serverHello)).toMatchObject({ status: 'not-tls' });
    const zeroRecord = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x01]);
    expect(parseClientHello(zeroRecord)).toMatchObject({ status: 'not-tls' });
  });

  it('refuses inner lengths that run past the message', () => {
    // The SNI extension's length bytes, found by searching for the name and stepping back.
    const at = nodeHello.indexOf(Buffer.from(ID));
    for (const offset of [2, 5, 7]) {
      const bad = Buffer.from(nodeHello);
      bad.writeUInt16BE(0xfff0, at - offset - 1);
      const result = parseClientHello(bad);
      expect(result.status, `length at -${offset}`).toBe('not-tls');
    }
  });

  it('survives random mutations (seeded), always with a defined answer', () => {
    let state = 42;
    const random = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 3_000; round++) {
      const bytes = Buffer.from(round % 2 ? nodeHello : opensslHello);
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = bytes.subarray(0, Math.floor(random() * (bytes.length + 1)));
      const result = parseClientHello(cut);
      expect(['incomplete', 'not-tls', 'client-hello']).toContain(result.status);
      if (result.status === 'client-hello' && result.serverName !== undefined) expect(result.serverName).toMatch(/^[a-z0-9.-]+$/);
    }
  });

  it('refuses a host_name with characters outside a DNS name', () => {
    const bad = Buffer.from(nodeHello);
    bad[bad.indexOf(Buffer.from(ID))] = 0x00;
    expect(parseClientHello(bad)).toMatchObject({ status: 'not-tls', reason: expect.stringMatching(/host_name/) });
  });
});

describe('detectTls on a socket', () => {
  let server: ReturnType<typeof createServer>;
  let port: number;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of accepted) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const nextAccepted = async (): Promise<Socket> => {
    const n = accepted.length;
    while (accepted.length === n) await new Promise((r) => setTimeout(r, 5));
    return accepted[n]!;
  };

  it('detects a ClientHello sent a few bytes at a time, and puts every byte back', async () => {
    const client = connect({ port, host: '127.0.0.1', noDelay: true });
    const socket = await nextAccepted();
    const detected = detectTls(socket, { timeoutMs: 10_000 });
    for (let i = 0; i < nodeHello.length; i += 37) {
      client.write(nodeHello.subarray(i, i + 37));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await detected).toEqual({ kind: 'tls', serverName: ID, alpn: ALPN });
    const replayed: Buffer[] = [];
    socket.on('data', (d: Buffer) => replayed.push(d)).resume(); // detection leaves it paused for its next owner
    while (Buffer.concat(replayed).length < nodeHello.length) await new Promise((r) => setTimeout(r, 5));
    expect(Buffer.concat(replayed).equals(nodeHello)).toBe(true);
    client.destroy();
  });

  it('decides plaintext at once and keeps the bytes', async () => {
    const client = connect({ port, host: '127.0.0.1' });
    const socket = await nextAccepted();
    client.write('PING\r\n');
    expect(await detectTls(socket, { timeoutMs: 10_000 })).toMatchObject({ kind: 'not-tls' });
    const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve).resume());
    expect(first.toString()).toBe('PING\r\n');
    client.destroy();
  });

  it('gives up on a client that sends nothing', async () => {
    const client = connect({ port, host: '127.0.0.1' });
    const socket = await nextAccepted();
    const err = await detectTls(socket, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DetectError);
    expect((err as DetectError).reason).toBe('timeout');
    client.destroy();
  });
});
