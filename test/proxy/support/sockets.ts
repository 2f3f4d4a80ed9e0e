/**
 * Small loopback servers and clients for the proxy tests: an echo server that honours half-close,
 * and helpers that collect what a socket receives and how it ended (FIN or RST).
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TestServer {
  port: number;
  server: Server;
  /** Sockets the server accepted, in order. */
  accepted: Socket[];
  close(): Promise<void>;
}

/** A server whose `onSocket` decides what each connection does; allowHalfOpen like a real app. */
export async function startServer(onSocket: (socket: Socket) => void): Promise<TestServer> {
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of accepted) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte; ends its side when the client ends (after echoing everything). */
export function echo(socket: Socket, prefix?: string): void {
  if (prefix) socket.write(prefix);
  socket.pipe(socket);
}

export function dialLocal(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface Collected {
  data: Buffer;
  sha256: string;
  /** `end`: a FIN; `error`: the error's code (ECONNRESET for an RST). */
  ending: 'end' | string;
}

/** Everything the socket receives until FIN or error; resolves at that point. */
export function collect(socket: Socket): Promise<Collected> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let done = false;
    const finish = (ending: string) => {
      if (done) return;
      done = true;
      const data = Buffer.concat(chunks);
      resolve({ data, sha256: hash.digest('hex'), ending });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      hash.update(chunk);
    });
    // libuv reports an RST that arrives with unread data as an end of stream; a socket that was
    // reset is not connected any more, one that got a FIN still is (while our FIN is unsent).
    socket.once('end', () => finish(!socket.writableEnded && !stillConnected(socket) ? 'ECONNRESET' : 'end'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.once('close', () => finish('close'));
  });
}

function stillConnected(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { getpeername(out: object): number } })._handle;
  return !handle || handle.getpeername({}) === 0;
}

/** Resolves once `socket` has received at least `bytes` bytes (its data listener collects). */
export function waitForData(socket: Socket, predicate: (received: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (predicate(received)) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${received.length} bytes`)));
  });
}

/** Writes `total` bytes of deterministic pseudo-random data in 64 KiB chunks, honouring backpressure. */
export async function writeBytes(socket: Socket, total: number, seed = 1): Promise<string> {
  const hash = createHash('sha256');
  let state = seed;
  for (let sent = 0; sent < total; ) {
    const chunk = Buffer.alloc(Math.min(65_536, total - sent));
    for (let i = 0; i + 4 <= chunk.length; i += 4) {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      chunk.writeUInt32LE(state, i);
    }
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  return hash.digest('hex');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
