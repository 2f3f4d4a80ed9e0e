/**
 * Captures real ClientHellos: a loopback listener records the first flight of a TLS client (node's
 * tls.connect, or `openssl s_client`) and closes the connection once a whole ClientHello is in.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseClientHello } from '../../../proxy/tls/client-hello.ts';

async function capture(startClient: (port: number) => () => void): Promise<Buffer> {
  let stop: () => void = () => {};
  const chunks: Buffer[] = [];
  const server = createServer();
  const captured = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ClientHello within 10 s')), 10_000);
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const bytes = Buffer.concat(chunks);
        if (parseClientHello(bytes).status !== 'incomplete') {
          clearTimeout(timer);
          socket.destroy();
          resolve(bytes);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    stop = startClient((server.address() as AddressInfo).port);
    return await captured;
  } finally {
    stop();
    await new Promise((resolve) => server.close(resolve));
  }
}

export function captureNodeClientHello(options: { servername?: string; alpn?: string[] }): Promise<Buffer> {
  return capture((port) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
      rejectUnauthorized: false,
    });
    socket.on('error', () => {});
    return () => socket.destroy();
  });
}

export function captureOpensslClientHello(options: { servername?: string; alpn?: string[]; tls12?: boolean }): Promise<Buffer> {
  return capture((port) => {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`];
    if (options.servername) args.push('-servername', options.servername);
    else args.push('-noservername');
    if (options.alpn) args.push('-alpn', options.alpn.join(','));
    if (options.tls12) args.push('-tls1_2');
    const child = spawn('openssl', args, { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return () => child.kill('SIGKILL');
  });
}
