/**
 * Reads the first bytes of an accepted connection until `parseClientHello` can decide, then puts
 * every byte back (unshift), so that whoever takes the socket next — a TLSSocket or the byte pump —
 * sees the stream from its first byte. node's TLSSocket feeds a wrapped socket's buffered bytes
 * to OpenSSL before reading the handle, which is what makes the put-back work for TLS.
 */
import type { Socket } from 'node:net';
import { DEFAULT_MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.ts';

export type Detection =
  | { kind: 'tls'; serverName: string | undefined; alpn: string[] }
  | { kind: 'not-tls'; reason: string };

/** Why detection ended without an answer; the caller closes the connection. */
export class DetectError extends Error {
  constructor(readonly reason: 'timeout' | 'closed' | 'error', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DetectError';
  }
}

export interface DetectOptions {
  /** A client that has not let us decide by then is closed (it may be waiting for the server to speak). */
  timeoutMs: number;
  maxBytes?: number;
}

/**
 * @example
 * const detection = await detectTls(socket, { timeoutMs: 10_000 });
 * if (detection.kind === 'tls' && detection.serverName === myIdentity) terminate(socket);
 */
export function detectTls(socket: Socket, options: DetectOptions): Promise<Detection> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  return new Promise<Detection>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;

    const finish = (outcome: { detection: Detection } | { error: DetectError }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      // Pause first: with the data listener gone a flowing stream would drop what we put back.
      socket.pause();
      if (length > 0 && 'detection' in outcome) socket.unshift(Buffer.concat(chunks, length));
      if ('detection' in outcome) resolve(outcome.detection);
      else reject(outcome.error);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const result = parseClientHello(chunks.length === 1 ? chunk : Buffer.concat(chunks, length), maxBytes);
      if (result.status === 'client-hello') finish({ detection: { kind: 'tls', serverName: result.serverName, alpn: result.alpn } });
      else if (result.status === 'not-tls') finish({ detection: { kind: 'not-tls', reason: result.reason } });
    };
    const onEnd = () => {
      // Nothing to forward: a client that half-closes before we could decide (at most a few
      // bytes of a record header) is treated as gone; its bytes cannot be put back after 'end'.
      finish({ error: new DetectError('closed', `connection ended after ${length} bytes, before detection finished`) });
    };
    const onError = (err: Error) => finish({ error: new DetectError('error', `connection failed during detection: ${err.message}`, { cause: err }) });
    const timer = setTimeout(
      () => finish({ error: new DetectError('timeout', `no protocol detected within ${options.timeoutMs} ms (${length} bytes received)`) }),
      options.timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    // Listeners accept paused (pauseOnConnect): reading starts only once someone listens.
    socket.resume();
  });
}
