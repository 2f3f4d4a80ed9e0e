/**
 * A TCP listener that keeps track of every socket its connections use (accepted and dialled), so
 * that closing the proxy closes them all instead of leaving them to the peers' timeouts.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { UnavailableError } from '../../common/errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

export interface Listener {
  /** The bound address (the port is the real one when 0 was asked for). */
  address: HostPort;
  /** Stops accepting and destroys every tracked socket. */
  close(): Promise<void>;
}

/** Called per accepted socket; `track` adds a further socket (an upstream) to close with the listener. */
export type ConnectionHandler = (socket: Socket, track: (other: Socket) => void) => void;

export async function listen(address: HostPort, handler: ConnectionHandler): Promise<Listener> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    // Each phase listens for the errors it handles; this keeps one that comes between phases
    // from going unhandled (which would end the process). The pump sees the socket close.
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  };
  // allowHalfOpen: a client's FIN must end only its direction. noDelay: see pitfalls (Nagle).
  const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
    track(socket);
    socket.setNoDelay(true);
    handler(socket, track);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new UnavailableError(`cannot listen on ${address.host}:${address.port} (${err.code ?? err.message})`, { cause: err })),
    );
    server.listen(address.port, address.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * Dials `host:port` with half-close and no Nagle; resolves once connected.
 * @throws the connect error (ECONNREFUSED, ...) or a timeout error with code ETIMEDOUT.
 */
export function dial(target: HostPort, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${target.host}:${target.port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/** The peer's address as `host:port`, for logs and the authorization hook. */
export function remoteAddressOf(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/** The peer's IP address, an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) given as IPv4. */
export function remoteIpOf(socket: Socket): string {
  const host = socket.remoteAddress ?? '';
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host) ? host.slice('::ffff:'.length) : host;
}
