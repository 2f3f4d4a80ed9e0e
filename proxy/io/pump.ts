/**
 * The byte pump between two connections: each direction flows on its own, so that one side's
 * FIN ends only its direction (half-close), a slow reader slows its writer (backpressure, never
 * unbounded buffering), and a reset or error on one side resets the other, so that its peer sees
 * RST — not a FIN it would take for a clean end of the stream.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface PumpSide {
  /** The plaintext stream the pump reads and writes: a net.Socket, or a TLSSocket over `tcp`. */
  stream: Duplex;
  /** The TCP socket under `stream` (the same object for plain TCP); resetting it sends RST. */
  tcp: Socket;
}

export type SideName = 'a' | 'b';

export interface PumpOptions {
  /** Called for every chunk read from a side, for byte counters that move while a connection lives. */
  onRead?: (from: SideName, bytes: number) => void;
}

export interface PumpResult {
  /** `closed`: both directions ended with FIN; `reset`: one side failed and the other was reset. */
  outcome: 'closed' | 'reset';
  /** Bytes read from each side (and so written to the other). */
  bytesRead: Record<SideName, number>;
  /** The side that failed first, when the outcome is `reset`. */
  failedSide?: SideName;
  error?: Error;
}

export interface Pump {
  /** Settles once, when both sides closed cleanly or one failed (the other is then reset). */
  done: Promise<PumpResult>;
}

interface SideState {
  side: PumpSide;
  ended: boolean; // its readable side got EOF
  endSent: boolean; // we called end() on it
  finished: boolean; // our writes to it were flushed and FIN sent
  closed: boolean;
}

/**
 * Both sides must be connected, with `allowHalfOpen: true` (else node would end a side's
 * writable half by itself when its readable half ends, and half-close would be lost).
 *
 * @example
 * const { done } = pump({ stream: client, tcp: client }, { stream: tls, tcp: raw }, { onRead: count });
 * const { outcome, bytesRead } = await done;
 */
export function pump(a: PumpSide, b: PumpSide, options: PumpOptions = {}): Pump {
  const states: Record<SideName, SideState> = {
    a: { side: a, ended: false, endSent: false, finished: false, closed: false },
    b: { side: b, ended: false, endSent: false, finished: false, closed: false },
  };
  const bytesRead: Record<SideName, number> = { a: 0, b: 0 };
  let settled = false;
  let resolveDone!: (result: PumpResult) => void;
  const done = new Promise<PumpResult>((resolve) => (resolveDone = resolve));

  const settle = (result: Omit<PumpResult, 'bytesRead'>) => {
    if (settled) return;
    settled = true;
    resolveDone({ ...result, bytesRead: { ...bytesRead } });
  };

  const fail = (name: SideName, error: Error | undefined) => {
    if (settled) return;
    const other = states[name === 'a' ? 'b' : 'a'];
    settle({ outcome: 'reset', failedSide: name, ...(error ? { error } : {}) });
    resetSide(other.side);
    // A TLSSocket's destroy() closes the TCP socket under it the way node expects; the TCP
    // socket's own destroy() is then a no-op (or closes a plain socket).
    states[name].side.stream.destroy();
    if (!states[name].side.tcp.destroyed) setImmediate(() => states[name].side.tcp.destroy());
  };

  const forward = (from: SideName, to: SideName) => {
    const src = states[from].side.stream;
    const dst = states[to].side.stream;
    src.on('data', (chunk: Buffer) => {
      if (settled) return;
      bytesRead[from] += chunk.length;
      options.onRead?.(from, chunk.length);
      // Stop reading until the destination drains: memory stays bounded by the stream buffers.
      if (!dst.write(chunk)) {
        src.pause();
        dst.once('drain', () => src.resume());
      }
    });
    src.once('end', () => {
      states[from].ended = true;
      if (settled) return;
      if (!states[from].endSent && peerHasReset(states[from].side.tcp)) {
        return fail(from, Object.assign(new Error('connection reset by peer (reported as end of stream)'), { code: 'ECONNRESET' }));
      }
      // Pass the FIN on; the other direction keeps flowing.
      states[to].endSent = true;
      dst.end();
    });
  };

  for (const name of ['a', 'b'] as const) {
    const state = states[name];
    const { stream, tcp } = state.side;
    // Nagle would hold a forwarded small write for up to ~40 ms waiting for the peer's ACK.
    tcp.setNoDelay(true);
    // Under TLS, errors surface on the TLSSocket; the raw socket only needs a listener so that
    // an error it also emits cannot crash the process.
    if (tcp !== stream) tcp.on('error', () => {});
    stream.once('finish', () => (state.finished = true));
    stream.on('error', (err: Error) => fail(name, err));
    stream.once('close', () => {
      state.closed = true;
      // A socket that closes before both of its directions ended cleanly was torn down.
      if (!(state.ended && state.finished)) fail(name, undefined);
      else if (states.a.closed && states.b.closed) settle({ outcome: 'closed' });
    });
  }
  forward('a', 'b');
  forward('b', 'a');
  // A side that failed while it waited for the pump (during a handshake or a dial) will not
  // emit 'close' again: fail now, so the other side is reset rather than left hanging.
  for (const name of ['a', 'b'] as const) if (states[name].side.stream.destroyed) fail(name, undefined);
  // Sockets handed over paused (after detection) start flowing here.
  a.stream.resume();
  b.stream.resume();

  return { done };
}

/**
 * RST the peer: resetAndDestroy() on the TCP socket (a TLSSocket's own handle cannot be reset).
 * Under TLS the reset waits for the next turn of the event loop: closing the TCP handle while
 * OpenSSL is inside one of its callbacks for it (a handshake just finished, a record just read)
 * crashes node 20 (SIGSEGV), and callers are often on that stack.
 */
export function resetSide(side: PumpSide): void {
  const reset = () => {
    if (!side.tcp.destroyed) side.tcp.resetAndDestroy();
    if (!side.stream.destroyed) side.stream.destroy();
  };
  if (side.tcp === side.stream) return reset();
  side.stream.pause();
  setImmediate(reset);
}

/**
 * libuv reports an RST that arrives together with unread data as a plain end of stream (POLLHUP
 * after a partial read), so 'end' can hide a reset — after the last bytes of an aborted stream,
 * or after the session tickets a TLS server sends before it refuses a connection. A reset socket
 * is no longer connected (getpeername fails with ENOTCONN), while one whose peer only sent FIN
 * (CLOSE_WAIT) still is. Only meaningful while our own FIN is unsent: after both FINs the kernel
 * socket is closed too. Without the handle (never in node 20), it answers no, i.e. a FIN.
 */
function peerHasReset(tcp: Socket): boolean {
  const handle = (tcp as unknown as { _handle?: { getpeername?: (out: object) => number } })._handle;
  if (typeof handle?.getpeername !== 'function') return false;
  return handle.getpeername({}) !== 0;
}
