/**
 * Continuous traffic through a proxy's outbound port to an echo application, checking every byte:
 * a few workers each opening new connections one after the other (a small unique message, echoed
 * back, then FIN both ways), plus one long-lived stream that keeps writing pseudo-random data
 * whose echo is compared byte by byte with what was sent. `stop()` ends it all and reports.
 */
import type { Socket } from 'node:net';
import { collect, dialLocal } from './sockets.ts';
import { ByteSource, drained, receiveStream, StreamVerifier, uniqueMessage, within, type Received } from './streams.ts';

export interface TrafficOptions {
  /** Where the client connects: the proxy's outbound listener. */
  port: number;
  /** Parallel loops of short connections; default 3. */
  workers?: number;
  /** Pause between two connections of one worker; default 50 ms. */
  pauseMs?: number;
  messageBytes?: number;
  /** The long stream writes `streamChunkBytes` every `streamIntervalMs` (default 64 KiB / 50 ms). */
  streamChunkBytes?: number;
  streamIntervalMs?: number;
  /** Bound on one short exchange; beyond it the connection counts as failed. Default 30 s. */
  exchangeTimeoutMs?: number;
}

export interface TrafficReport {
  /** Short connections completed, failed ones included. */
  connections: number;
  failed: number;
  /** The first failures, for the assertion message. */
  failures: string[];
  stream: { sent: number; received: number; corrupted: number; ending: string };
}

export interface Traffic {
  progress(): { connections: number; failed: number; streamReceived: number };
  stop(): Promise<TrafficReport>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startTraffic(o: TrafficOptions): Promise<Traffic> {
  const workers = o.workers ?? 3;
  const pauseMs = o.pauseMs ?? 50;
  const messageBytes = o.messageBytes ?? 2048;
  const exchangeTimeoutMs = o.exchangeTimeoutMs ?? 30_000;
  let stopping = false;
  let connections = 0;
  let failed = 0;
  const failures: string[] = [];
  const fail = (what: string) => {
    failed++;
    if (failures.length < 20) failures.push(`${new Date().toISOString()} ${what}`);
  };

  // The long-lived stream, opened first so that it spans everything that follows.
  const seed = `long-lived ${Date.now()}`;
  const stream = await dialLocal(o.port);
  const verifier = new StreamVerifier(seed);
  const streamReceived: Promise<Received> = receiveStream(stream, (chunk) => verifier.feed(chunk));
  const source = new ByteSource(seed);
  let streamSent = 0;
  const writer = (async () => {
    while (!stopping && !stream.destroyed) {
      const chunk = source.next(o.streamChunkBytes ?? 64 * 1024);
      streamSent += chunk.length;
      if (!stream.write(chunk)) await drained(stream);
      await sleep(o.streamIntervalMs ?? 50);
    }
  })().catch((err: Error) => fail(`long-lived stream write: ${err.message}`));

  let index = 0;
  const exchange = async (): Promise<void> => {
    const i = index++;
    const message = uniqueMessage(i, messageBytes);
    let socket: Socket | undefined;
    try {
      socket = await dialLocal(o.port);
      const received = collect(socket);
      socket.end(message);
      const { data, ending } = await within(received, exchangeTimeoutMs, `connection #${i}`);
      if (ending !== 'end') fail(`connection #${i}: ended with ${ending} after ${data.length} bytes`);
      else if (!data.equals(message)) fail(`connection #${i}: ${data.length} bytes came back, not the ${message.length} sent`);
    } catch (err) {
      fail(`connection #${i}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      socket?.destroy();
    } finally {
      connections++;
    }
  };
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      await exchange();
      await sleep(pauseMs);
    }
  });

  return {
    progress: () => ({ connections, failed, streamReceived: verifier.bytes }),
    async stop() {
      stopping = true;
      await Promise.all([...loops, writer]);
      stream.end();
      const end = await within(streamReceived, 60_000, 'the long-lived stream draining').catch((err: Error) => ({ ending: err.message, bytes: -1 }));
      if (end.ending !== 'end') fail(`long-lived stream ended with ${end.ending}`);
      if (verifier.bytes !== streamSent) fail(`long-lived stream: ${verifier.bytes} bytes echoed of ${streamSent} sent`);
      stream.destroy();
      return { connections, failed, failures, stream: { sent: streamSent, received: verifier.bytes, corrupted: verifier.corrupted, ending: end.ending } };
    },
  };
}
