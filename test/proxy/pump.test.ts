import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dial } from '../../proxy/io/listener.ts';
import { pump, type PumpResult } from '../../proxy/io/pump.ts';
import { collect, dialLocal, echo, sha256, startServer, waitForData, writeBytes, type TestServer } from './support/sockets.ts';

/** A bare forwarding proxy: accept `a`, dial the app as `b`, pump. The pumps' results are kept. */
async function startPumpProxy(appPort: number): Promise<{ port: number; results: Promise<PumpResult>[]; accepted: Socket[]; upstreams: Socket[]; close(): Promise<void> }> {
  const results: Promise<PumpResult>[] = [];
  const accepted: Socket[] = [];
  const upstreams: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (a) => {
    accepted.push(a);
    results.push(
      dial({ host: '127.0.0.1', port: appPort }, 5_000).then((b) => {
        upstreams.push(b);
        return pump({ stream: a, tcp: a }, { stream: b, tcp: b }).done;
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    results,
    accepted,
    upstreams,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...accepted, ...upstreams]) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function setup(onAppSocket: (s: Socket) => void) {
  const app: TestServer = await startServer(onAppSocket);
  cleanups.push(() => app.close());
  const proxy = await startPumpProxy(app.port);
  cleanups.push(() => proxy.close());
  return { app, proxy };
}

describe('pump', () => {
  it('carries 4 MiB each way unchanged, and closes cleanly on FIN from both', async () => {
    const { proxy } = await setup((s) => echo(s));
    const client = await dialLocal(proxy.port);
    const received = collect(client);
    const sent = await writeBytes(client, 4 * 1024 * 1024);
    client.end();
    const got = await received;
    expect(got.ending).toBe('end');
    expect(got.sha256).toBe(sent);
    const result = await proxy.results[0]!;
    expect(result).toMatchObject({ outcome: 'closed', bytesRead: { a: 4 * 1024 * 1024, b: 4 * 1024 * 1024 } });
  });

  it('half-close from the client: the server still answers after the client FIN', async () => {
    const { proxy } = await setup((s) => {
      s.resume();
      s.once('end', () => setTimeout(() => s.end('answer after your FIN'), 20));
    });
    const client = await dialLocal(proxy.port);
    const received = collect(client);
    client.end('request');
    const got = await received;
    expect(got.data.toString()).toBe('answer after your FIN');
    expect(got.ending).toBe('end');
    expect((await proxy.results[0]!).outcome).toBe('closed');
  });

  it('half-close from the server: the client still sends after the server FIN', async () => {
    let appReceived!: Promise<{ data: Buffer; ending: string }>;
    const { proxy } = await setup((s) => {
      appReceived = collect(s);
      s.end('bye');
    });
    const client = await dialLocal(proxy.port);
    const fromServer = collect(client);
    expect((await fromServer).ending).toBe('end');
    client.end('still talking');
    const got = await appReceived;
    expect(got.data.toString()).toBe('still talking');
    expect(got.ending).toBe('end');
  });

  it('a reset by the server reaches the client as a reset, not a FIN', async () => {
    const { proxy } = await setup((s) => s.once('data', () => s.resetAndDestroy()));
    const client = await dialLocal(proxy.port);
    const received = collect(client);
    client.write('please reset');
    expect((await received).ending).toBe('ECONNRESET');
    expect(await proxy.results[0]!).toMatchObject({ outcome: 'reset', failedSide: 'b' });
  });

  it('a reset by the client reaches the server as a reset', async () => {
    let appReceived!: Promise<{ ending: string }>;
    const { proxy } = await setup((s) => (appReceived = collect(s)));
    const client = await dialLocal(proxy.port);
    client.write('hello');
    await new Promise((r) => setTimeout(r, 50));
    client.resetAndDestroy();
    expect((await appReceived).ending).toBe('ECONNRESET');
    expect(await proxy.results[0]!).toMatchObject({ outcome: 'reset', failedSide: 'a' });
  });

  it('a server that does not read stops the client: write() returns false, buffers stay bounded', async () => {
    let appSocket!: Socket;
    const { proxy } = await setup((s) => {
      appSocket = s;
      s.pause(); // a reader that stops reading
    });
    const client = await dialLocal(proxy.port);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    // Write until the writer is told to wait and no 'drain' comes for a while: everything
    // between here and the paused reader is full, and the pump has stopped reading.
    for (;;) {
      while (client.write(chunk)) written += chunk.length;
      written += chunk.length;
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => client.once('drain', () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
      ]);
      if (!drained) break;
      expect(written).toBeLessThan(256 * 1024 * 1024); // bounded: never unbounded buffering
    }
    const [a] = proxy.accepted;
    const [b] = proxy.upstreams;
    expect(a!.isPaused()).toBe(true); // the pump stopped reading from the client
    expect(b!.writableLength).toBeLessThanOrEqual(b!.writableHighWaterMark + chunk.length);
    expect(written).toBeLessThan(64 * 1024 * 1024); // kernel buffers plus a stream's worth

    // Once the reader reads again, every byte arrives.
    const received = collect(appSocket);
    appSocket.resume();
    client.end();
    const got = await received;
    expect(got.data.length).toBe(written);
    expect(got.sha256).toBe(sha256(Buffer.alloc(written, 7)));
  });

  it('resets the other side when one side was already gone before the pump started', async () => {
    const app = await startServer(() => {});
    cleanups.push(() => app.close());
    const [a, b] = await Promise.all([dialLocal(app.port), dialLocal(app.port)]);
    const seenByB = waitForData(b, () => false).catch((e: Error) => e.message);
    a.destroy();
    const result = await pump({ stream: a, tcp: a }, { stream: b, tcp: b }).done;
    expect(result).toMatchObject({ outcome: 'reset', failedSide: 'a' });
    expect(b.destroyed).toBe(true);
    await seenByB;
  });
});
