/**
 * Large byte streams without holding them in memory: deterministic pseudo-random data (the
 * AES-128-CTR keystream of a seed: fast, never periodic, and reproducible on the receiving side),
 * written with backpressure and hashed as it goes; and receivers that hash, count or compare what
 * arrives chunk by chunk, and report how the stream ended (FIN or RST).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

const ZEROS = Buffer.alloc(256 * 1024);

/** The keystream of `seed`: the same seed always gives the same bytes, in any chunking. */
export class ByteSource {
  readonly #cipher;
  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.#cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  }

  next(length: number): Buffer {
    const out: Buffer[] = [];
    for (let left = length; left > 0; left -= ZEROS.length) out.push(this.#cipher.update(ZEROS.subarray(0, Math.min(left, ZEROS.length))));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

export interface SendOptions {
  chunkBytes?: number;
  /** Stops early (resolving with what was sent) when this returns true; checked per chunk. */
  stop?: () => boolean;
  /** Called after each chunk is handed to the socket. */
  onChunk?: (sentSoFar: number) => void;
}

/**
 * Writes `total` bytes of `seed`'s stream, waiting for 'drain' whenever the socket says so.
 * Rejects if the socket fails or closes while it waits. Does not end the socket.
 */
export async function sendStream(socket: Socket, total: number, seed: string, o: SendOptions = {}): Promise<{ bytes: number; sha256: string }> {
  const source = new ByteSource(seed);
  const hash = createHash('sha256');
  const chunkBytes = o.chunkBytes ?? 64 * 1024;
  let sent = 0;
  while (sent < total && !o.stop?.()) {
    const chunk = source.next(Math.min(chunkBytes, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    const more = socket.write(chunk);
    o.onChunk?.(sent);
    if (!more) await drained(socket);
  }
  return { bytes: sent, sha256: hash.digest('hex') };
}

export function drained(socket: Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const onDrain = () => (cleanup(), resolve());
    const onClose = () => (cleanup(), reject(new Error(`socket closed while waiting to drain (written ${socket.bytesWritten})`)));
    const onError = (err: Error) => (cleanup(), reject(err));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

export interface Received {
  bytes: number;
  sha256: string;
  /** `end` for a FIN, else the error code (ECONNRESET for an RST), or `close`. */
  ending: string;
}

/**
 * Hashes everything `socket` receives until FIN or error, keeping none of it. `onData` sees each
 * chunk (for verifiers). The socket is read as soon as this is called.
 */
export function receiveStream(socket: Socket, onData?: (chunk: Buffer) => void): Promise<Received> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let done = false;
    const finish = (ending: string) => {
      if (done) return;
      done = true;
      resolve({ bytes, sha256: hash.digest('hex'), ending });
    };
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      onData?.(chunk);
    });
    // libuv reports an RST that arrives together with unread data as an end of stream; a socket
    // that was reset is no longer connected, one that got a FIN still is (while our FIN is unsent).
    socket.once('end', () => finish(!socket.writableEnded && !stillConnected(socket) ? 'ECONNRESET' : 'end'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.once('close', () => finish('close'));
  });
}

function stillConnected(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { getpeername(out: object): number } })._handle;
  return !handle || handle.getpeername({}) === 0;
}

/** Compares a received stream with `seed`'s stream, byte by byte, as it arrives. */
export class StreamVerifier {
  readonly #expected: ByteSource;
  bytes = 0;
  /** Bytes that differ from what was sent at their position. */
  corrupted = 0;
  constructor(seed: string) {
    this.#expected = new ByteSource(seed);
  }

  feed(chunk: Buffer): void {
    const expected = this.#expected.next(chunk.length);
    if (!expected.equals(chunk)) for (let i = 0; i < chunk.length; i++) if (chunk[i] !== expected[i]) this.corrupted++;
    this.bytes += chunk.length;
  }
}

/** A unique message of `length` bytes, for many small exchanges. */
export function uniqueMessage(index: number, length: number): Buffer {
  const head = Buffer.from(`#${index}:`);
  return Buffer.concat([head, randomBytes(Math.max(0, length - head.length))]);
}

/** Rejects after `ms` with `what`; the promise is not cancelled (its sockets are the caller's). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms))),
  ]);
}
