/**
 * Acceptance, data plane, with real processes: `identity serve` and two `identity proxy` child
 * processes on 127.0.0.1 ephemeral ports; the client and the application live in this process.
 *
 *   client ──> web's proxy (outbound) ══ mTLS 1.3 ══> api's proxy (inbound) ──> application
 *
 * What must hold for any application: large streams arrive intact both ways at once, a FIN ends
 * one direction only, hundreds of connections run at once, a slow reader slows the writer instead
 * of filling the proxies' memory, and a reset arrives as a reset.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, startProcessMesh, WEB, type ProcessMesh } from './support/process-mesh.ts';
import { sleep, waitUntil, type ProxyProcess } from './support/processes.ts';
import { collect, dialLocal, startServer, type TestServer } from './support/sockets.ts';
import { receiveStream, sendStream, uniqueMessage, within } from './support/streams.ts';

const MiB = 1024 * 1024;

let mesh: ProcessMesh;
let app: TestServer;
/** What the application does with each accepted connection; each test sets its own. */
let onApp: (socket: Socket) => void = (s) => s.destroy();

beforeAll(async () => {
  app = await startServer((s) => onApp(s));
  mesh = await startProcessMesh({ appPort: app.port });
}, 180_000);

afterAll(async () => {
  await mesh?.close();
  await app?.close();
}, 60_000);

/** The next connection the application accepts. */
const nextAppSocket = () => new Promise<Socket>((resolve) => (onApp = resolve));
const dial = () => dialLocal(mesh.outboundPort);

/** Both proxies' counters that prove the connection went over mutual TLS with both identities. */
async function mtlsConnections(): Promise<{ web: number; api: number }> {
  return {
    web: await mesh.web.metric('proxy_tcp_open_total', { direction: 'outbound', tls: 'true', peer_identity: API }),
    api: await mesh.api.metric('proxy_tcp_open_total', { direction: 'inbound', tls: 'true', peer_identity: WEB }),
  };
}

describe('acceptance: data through two proxy processes', () => {
  describe('a slow reader slows the writer; the proxies do not buffer', () => {
    const LIMIT = 512 * MiB;
    const RSS_BOUND = 64 * MiB;

    /**
     * The writer sends as fast as it may while the reader does not read. Once the writer has been
     * held by backpressure for 2 s (proving the whole path pushes back), both proxies' RSS is
     * compared with its value before; then the reader resumes and every byte must arrive.
     */
    async function slowReader(direction: 'client to app' | 'app to client') {
      const accepted = new Promise<Socket>((resolve) => (onApp = resolve));
      const client = await dial();
      const server = await accepted;
      const [writer, reader] = direction === 'client to app' ? [client, server] : [server, client];
      const received = receiveStream(reader);
      reader.pause();

      const proxies: ProxyProcess[] = [mesh.web, mesh.api];
      const baseline = await Promise.all(proxies.map((p) => p.rss()));
      const peak = [...baseline];
      const sampleRss = async () => (await Promise.all(proxies.map((p) => p.rss()))).forEach((v, i) => (peak[i] = Math.max(peak[i]!, v)));

      let sent = 0;
      let lastProgress = Date.now();
      let resumed = false;
      let extraAfterResume = 0;
      const sending = sendStream(writer, LIMIT, `slow reader, ${direction}`, {
        onChunk: (n) => ((sent = n), (lastProgress = Date.now())),
        // After the resume, 16 MiB more prove the flow restarts; then the writer stops.
        stop: () => resumed && sent >= extraAfterResume,
      }).then((r) => (writer.end(), r));
      let sendDone = false;
      void sending.then(() => (sendDone = true), () => (sendDone = true));

      // Wait (at most 120 s) until the writer is blocked: no progress for 2 s while it waits for 'drain'.
      const deadline = Date.now() + 120_000;
      while (!(writer.writableNeedDrain && Date.now() - lastProgress > 2_000)) {
        if (sendDone) throw new Error(`the writer was never blocked: all ${sent} bytes were accepted while nobody read`);
        if (Date.now() > deadline) throw new Error(`no backpressure within 120 s (${sent} bytes written)`);
        await sampleRss();
        await sleep(200);
      }
      const blockedAt = sent;
      for (let i = 0; i < 5; i++) {
        await sampleRss();
        await sleep(200);
      }
      // Still held back while we looked (a kernel may open its window by a few KiB; not by MiBs).
      expect(sent - blockedAt).toBeLessThan(4 * MiB);
      const growth = peak.map((p, i) => p - baseline[i]!);
      // Visible in the test output, for the record.
      console.log(
        `slow reader (${direction}): writer blocked after ${(blockedAt / MiB).toFixed(1)} MiB in flight; RSS growth web ${(growth[0]! / MiB).toFixed(1)} MiB, api ${(growth[1]! / MiB).toFixed(1)} MiB (baselines ${(baseline[0]! / MiB).toFixed(0)} / ${(baseline[1]! / MiB).toFixed(0)} MiB)`,
      );
      expect(blockedAt).toBeLessThan(LIMIT);
      for (const [i, p] of proxies.entries()) expect(growth[i], `${p.name}'s proxy RSS growth`).toBeLessThan(RSS_BOUND);

      // Resume: everything written so far, and 16 MiB more, arrives intact.
      extraAfterResume = blockedAt + 16 * MiB;
      resumed = true;
      reader.resume();
      const [s, r] = await within(Promise.all([sending, received]), 120_000, 'draining after the resume');
      expect(r).toEqual({ bytes: s.bytes, sha256: s.sha256, ending: 'end' });
      expect(s.bytes).toBeGreaterThanOrEqual(blockedAt + 16 * MiB);
      reader.end();
    }

    it('application paused: client -> app', async () => {
      await slowReader('client to app');
    }, 240_000);

    it('client paused: app -> client', async () => {
      await slowReader('app to client');
    }, 240_000);
  });

  it('carries 256 MiB each way at once, with equal SHA-256 in both directions', async () => {
    const SIZE = 256 * MiB;
    const before = await mtlsConnections();
    const webReadBefore = await mesh.web.metric('proxy_tcp_bytes_total', { direction: 'outbound', flow: 'read' });
    const apiReadBefore = await mesh.api.metric('proxy_tcp_bytes_total', { direction: 'inbound', flow: 'read' });

    const accepted = nextAppSocket();
    const client = await dial();
    const clientReceived = receiveStream(client);
    const clientSent = sendStream(client, SIZE, 'client to app').then((r) => (client.end(), r));
    const server = await accepted;
    const appReceived = receiveStream(server);
    const appSent = sendStream(server, SIZE, 'app to client').then((r) => (server.end(), r));

    const [cs, cr, as, ar] = await within(Promise.all([clientSent, clientReceived, appSent, appReceived]), 240_000, '256 MiB each way');
    expect(ar).toEqual({ bytes: SIZE, sha256: cs.sha256, ending: 'end' });
    expect(cr).toEqual({ bytes: SIZE, sha256: as.sha256, ending: 'end' });

    expect(await mtlsConnections()).toEqual({ web: before.web + 1, api: before.api + 1 });
    await waitUntil('byte counters', async () => (await mesh.web.metric('proxy_tcp_bytes_total', { direction: 'outbound', flow: 'read' })) - webReadBefore === SIZE);
    expect((await mesh.api.metric('proxy_tcp_bytes_total', { direction: 'inbound', flow: 'read' })) - apiReadBefore).toBe(SIZE);
    const rss = await Promise.all([mesh.web.rss(), mesh.api.rss()]);
    console.log(`after 256 MiB each way: RSS web ${(rss[0]! / MiB).toFixed(0)} MiB, api ${(rss[1]! / MiB).toFixed(0)} MiB`);
  }, 300_000);

  it('half-close by the client: the application answers after the client FIN, and all of it arrives', async () => {
    const QUESTION = MiB;
    const ANSWER = 4 * MiB;
    const appDone = new Promise<{ heard: Awaited<ReturnType<typeof receiveStream>>; said: { sha256: string } }>((resolve, reject) => {
      onApp = (s) => {
        receiveStream(s)
          .then(async (heard) => {
            // Only once the client's FIN is in does the application start its answer.
            const said = await sendStream(s, ANSWER, 'answer after FIN');
            s.end();
            resolve({ heard, said });
          })
          .catch(reject);
      };
    });
    const client = await dial();
    const answer = receiveStream(client);
    const asked = await sendStream(client, QUESTION, 'question');
    client.end();
    const [got, { heard, said }] = await within(Promise.all([answer, appDone]), 60_000, 'half-close exchange');
    expect(heard).toEqual({ bytes: QUESTION, sha256: asked.sha256, ending: 'end' });
    expect(got).toEqual({ bytes: ANSWER, sha256: said.sha256, ending: 'end' });
  }, 90_000);

  it('half-close by the application: the client keeps sending after the application FIN, and all of it arrives', async () => {
    const ANSWER = 4 * MiB;
    const LATE = 2 * MiB;
    let appSaid!: Promise<{ sha256: string }>;
    let appHeard!: Promise<Awaited<ReturnType<typeof receiveStream>>>;
    const accepted = new Promise<void>((resolve) => {
      onApp = (s) => {
        appHeard = receiveStream(s);
        appSaid = sendStream(s, ANSWER, 'app speaks first').then((r) => (s.end(), r));
        resolve();
      };
    });
    const client = await dial();
    const fromApp = await within(receiveStream(client), 60_000, 'application answer');
    await accepted;
    expect(fromApp).toEqual({ bytes: ANSWER, sha256: (await appSaid).sha256, ending: 'end' });
    // The application's direction is closed; the client's is still open.
    expect(client.writable).toBe(true);
    const late = await sendStream(client, LATE, 'client after the app FIN');
    client.end();
    expect(await within(appHeard, 60_000, 'late client data')).toEqual({ bytes: LATE, sha256: late.sha256, ending: 'end' });
  }, 90_000);

  it('500 concurrent connections each complete a small exchange with the right bytes', async () => {
    const N = 500;
    const before = await mtlsConnections();
    // The application holds every connection until all 500 are open at once (or 90 s passed,
    // so that a lost connection fails the test with a list instead of a hang), then echoes.
    const held: Socket[] = [];
    let release!: () => void;
    const allOpen = new Promise<void>((resolve) => (release = resolve));
    const barrier = setTimeout(release, 90_000);
    onApp = (s) => {
      held.push(s);
      if (held.length === N) release();
      void allOpen.then(() => s.pipe(s));
    };
    const outcomes = await within(
      Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const message = uniqueMessage(i, 1024);
          try {
            const socket = await dial();
            const received = collect(socket);
            socket.end(message);
            const { data, ending } = await received;
            return ending === 'end' && data.equals(message) ? 'ok' : `#${i}: ${ending} after ${data.length} bytes`;
          } catch (err) {
            return `#${i}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          }
        }),
      ),
      150_000,
      '500 connections',
    ).finally(() => clearTimeout(barrier));
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
    expect(held.length).toBe(N);
    expect(await mtlsConnections()).toEqual({ web: before.web + N, api: before.api + N });
  }, 180_000);

  describe('resets propagate as resets', () => {
    it('the application resets -> the client sees ECONNRESET, not a clean end (5 times, with and without last data)', async () => {
      for (let i = 0; i < 5; i++) {
        onApp = (s) =>
          s.once('data', () => {
            if (i % 2) s.write('last words');
            s.resetAndDestroy();
          });
        const client = await dial();
        const received = collect(client);
        client.write('talk to me');
        expect((await within(received, 30_000, 'client sees the reset')).ending, `attempt ${i}`).toBe('ECONNRESET');
      }
    }, 90_000);

    it('the application resets in the middle of a large transfer -> the client sees ECONNRESET', async () => {
      onApp = (s) => {
        let got = 0;
        s.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= 4 * MiB && !s.destroyed) s.resetAndDestroy();
        });
      };
      const client = await dial();
      const received = receiveStream(client);
      const sending = sendStream(client, 64 * MiB, 'interrupted').catch((err: NodeJS.ErrnoException) => err.code ?? err.message);
      expect((await within(received, 60_000, 'client sees the reset')).ending).toBe('ECONNRESET');
      expect(await within(sending, 60_000, 'writer fails')).toMatch(/ECONNRESET|EPIPE|closed/);
    }, 90_000);

    it('the client resets in the middle of a large transfer -> the application sees ECONNRESET', async () => {
      let appReceived!: Promise<Awaited<ReturnType<typeof receiveStream>>>;
      let got = 0;
      const enough = new Promise<void>((resolve) => {
        onApp = (s) => {
          appReceived = receiveStream(s, (d) => {
            got += d.length;
            if (got >= 4 * MiB) resolve();
          });
        };
      });
      const client = await dial();
      const sending = sendStream(client, 64 * MiB, 'interrupted by the client').catch((err: Error) => err);
      await within(enough, 60_000, 'application receives 4 MiB');
      client.resetAndDestroy();
      await sending;
      const outcome = await within(appReceived, 60_000, 'application sees the reset');
      expect(outcome.ending).toBe('ECONNRESET');
      expect(outcome.bytes).toBeLessThan(64 * MiB);
    }, 90_000);

    it('the client resets -> the application sees ECONNRESET, not a clean end (5 times)', async () => {
      for (let i = 0; i < 5; i++) {
        let appReceived!: Promise<{ ending: string }>;
        const arrived = new Promise<void>((resolve) => {
          onApp = (s) => {
            appReceived = collect(s);
            s.once('data', () => resolve());
          };
        });
        const client = await dial();
        client.write('hello, then a reset');
        await within(arrived, 30_000, 'application receives data');
        client.resetAndDestroy();
        expect((await within(appReceived, 30_000, 'application sees the reset')).ending, `attempt ${i}`).toBe('ECONNRESET');
      }
    }, 90_000);
  });
});
