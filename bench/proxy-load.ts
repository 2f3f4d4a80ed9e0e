/**
 * The client side of the proxy benchmark: the same three loads against any TCP port that ends at
 * bench/proxy-sink.ts (directly, or through a pair of TLS proxies).
 * - bulk: one connection, N bytes one way as fast as the path takes them, timed by the sink's acks;
 * - ping-pong: one connection, 64 bytes out and the same 64 back, again and again;
 * - connections: connect, 64-byte exchange, close (until the close is complete), sequential or
 *   with C at a time.
 */
import { connect, type Socket } from 'node:net';
import { MODE_ECHO, MODE_SINK, SINK_ACK_EVERY } from './proxy-sink.ts';

export const EXCHANGE_BYTES = 64;

/** Monotonic microseconds, on the clock V8's --cpu-prof uses (CLOCK_MONOTONIC). */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

function open(port: number, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Ends our side and waits for the peer's FIN (or destroys after `timeoutMs`). */
function close(socket: Socket, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => {});
    socket.resume();
    socket.end();
  });
}

export interface BulkResult {
  /** Bytes the sink confirmed. */
  bytes: number;
  seconds: number;
  /** 10^6 bytes per second. */
  mbPerSec: number;
  /** False when the time bound cut the run short (the rate is then over what was confirmed). */
  complete: boolean;
  windowUs: [number, number];
}

/**
 * `totalBytes` (rounded up to a multiple of the sink's ack interval) one way on one connection;
 * the clock runs from the connect to the sink's ack of the last byte. When `maxSeconds` pass
 * first, the rate is the last ack's count over its time.
 */
export async function bulk(port: number, totalBytes: number, maxSeconds: number, chunkBytes = 256 * 1024): Promise<BulkResult> {
  const total = Math.ceil(totalBytes / SINK_ACK_EVERY) * SINK_ACK_EVERY;
  const chunk = Buffer.alloc(chunkBytes, MODE_SINK); // every byte 'S': the first one picks the mode
  const startUs = monotonicUs();
  const t0 = performance.now();
  const socket = await open(port);
  let acked = 0;
  let ackedAt = t0;
  let stop = false;
  let pending: Buffer = Buffer.alloc(0);
  const finished = new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      while (pending.length >= 8) {
        acked = Number(pending.readBigUInt64BE(0));
        ackedAt = performance.now();
        pending = pending.subarray(8);
      }
      if (acked >= total || (ackedAt - t0) / 1000 > maxSeconds) {
        stop = true;
        resolve();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => (stop ? resolve() : reject(new Error(`bulk: the connection closed after ${acked} acknowledged bytes`))));
  });
  // Awaited below, after the writes; until then a failure must not count as unhandled.
  finished.catch(() => undefined);
  let written = 0;
  while (written < total && !stop) {
    const n = Math.min(chunk.length, total - written);
    written += n;
    if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
    if (socket.destroyed) break;
  }
  await finished;
  const endUs = monotonicUs();
  const complete = acked >= total;
  // A run cut short has data in flight that nobody will read: reset it rather than wait.
  if (complete) await close(socket);
  else socket.destroy();
  const seconds = (ackedAt - t0) / 1000;
  return { bytes: acked, seconds, mbPerSec: acked / 1e6 / seconds, complete, windowUs: [startUs, endUs] };
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

export interface PingPongResult {
  count: number;
  /** Round-trip times, microseconds. */
  us: LatencySummary;
  windowUs: [number, number];
}

/** `warmup` then `count` round trips of `EXCHANGE_BYTES` on one connection. */
export async function pingPong(port: number, count: number, warmup: number): Promise<PingPongResult> {
  const socket = await open(port);
  const ping = Buffer.alloc(EXCHANGE_BYTES, 0x2e);
  ping[0] = MODE_ECHO;
  let got = 0;
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  socket.on('data', (data: Buffer) => {
    got += data.length;
    if (got >= EXCHANGE_BYTES && wake) wake();
  });
  const fail = (err: Error) => {
    failed = err;
    wake?.();
  };
  socket.once('error', fail);
  socket.once('close', () => fail(new Error('ping-pong: the connection closed')));
  const once = () =>
    new Promise<void>((resolve, reject) => {
      wake = () => {
        wake = undefined;
        if (failed) return reject(failed);
        got -= EXCHANGE_BYTES;
        resolve();
      };
      socket.write(ping);
    });
  for (let i = 0; i < warmup; i++) await once();
  const samples: number[] = new Array<number>(count);
  const startUs = monotonicUs();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await once();
    samples[i] = (performance.now() - t) * 1000;
  }
  const endUs = monotonicUs();
  socket.removeAllListeners('close');
  await close(socket);
  return { count, us: summarize(samples), windowUs: [startUs, endUs] };
}

/** One connection: connect, 64 bytes out, the same 64 back, end, wait for the close. Returns ms. */
export async function connectExchangeClose(port: number, timeoutMs = 10_000): Promise<number> {
  const t = performance.now();
  const socket = await open(port, timeoutMs);
  const message = Buffer.alloc(EXCHANGE_BYTES, 0x2e);
  message[0] = MODE_ECHO;
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => done(new Error('no answer within the timeout')), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', done);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve();
    };
    const onData = (data: Buffer) => {
      got += data.length;
      if (got >= EXCHANGE_BYTES) done();
    };
    const onClose = () => done(new Error(`closed after ${got} of ${EXCHANGE_BYTES} bytes`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', done);
    socket.write(message);
  });
  await close(socket, timeoutMs);
  return performance.now() - t;
}

export interface ConnRateResult {
  concurrency: number;
  ok: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSec: number;
  /** Whole-connection times (connect to close), milliseconds. */
  ms: LatencySummary;
  windowUs: [number, number];
}

/** Up to `count` connections, `concurrency` at a time, stopping early after `maxSeconds`. */
export async function connRate(port: number, concurrency: number, count: number, maxSeconds: number): Promise<ConnRateResult> {
  let started = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const times: number[] = [];
  const startUs = monotonicUs();
  const t0 = performance.now();
  const deadline = t0 + maxSeconds * 1000;
  const worker = async () => {
    while (started < count && performance.now() < deadline) {
      started++;
      try {
        times.push(await connectExchangeClose(port));
        ok++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { concurrency, ok, errors, ...(firstError ? { firstError } : {}), seconds, perSec: ok / seconds, ms: summarize(times), windowUs: [startUs, monotonicUs()] };
}
