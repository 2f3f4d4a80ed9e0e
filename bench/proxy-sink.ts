/**
 * The application behind every path of the proxy benchmark (direct, stunnel, our proxies): a
 * plain TCP server in its own process, so that it never shares an event loop with the load.
 *
 *   node bin/run-ts.mjs bench/proxy-sink.ts [HOST:PORT]     # logs {"event":"sink.listening","port":N}
 *
 * The first byte of a connection picks the mode:
 * - `E` echo: every byte (the `E` included) is sent back; a FIN is answered with a FIN.
 * - `S` sink: bytes are counted and dropped; every SINK_ACK_EVERY bytes, and at the FIN, the total
 *   so far (the `S` included) is sent back as an 8-byte big-endian integer. The client times the
 *   acks, so a bulk run never depends on half-close support along the path (stunnel's is partial).
 */
import { createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

export const SINK_ACK_EVERY = 32 * 1024 * 1024;
export const MODE_ECHO = 0x45; // 'E'
export const MODE_SINK = 0x53; // 'S'

function handle(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let mode: number | undefined;
  let total = 0;
  let nextAck = SINK_ACK_EVERY;
  const ack = () => {
    const out = Buffer.allocUnsafe(8);
    out.writeBigUInt64BE(BigInt(total));
    socket.write(out);
  };
  socket.on('data', (chunk: Buffer) => {
    mode ??= chunk[0];
    if (mode === MODE_SINK) {
      total += chunk.length;
      if (total >= nextAck) {
        ack();
        nextAck = (Math.floor(total / SINK_ACK_EVERY) + 1) * SINK_ACK_EVERY;
      }
      return;
    }
    // Echo, with backpressure: a client that does not read cannot make us buffer without bound.
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
  socket.on('end', () => {
    if (mode === MODE_SINK) ack();
    socket.end();
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [host, port] = (process.argv[2] ?? '127.0.0.1:0').split(':');
  const server = createServer({ allowHalfOpen: true, noDelay: true }, handle);
  server.listen(Number(port), host, () => {
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ event: 'sink.listening', port: bound })}\n`);
  });
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
