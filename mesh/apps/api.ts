// The sample `api` application: plain HTTP on loopback, no TLS, no idea a mesh exists.
import { createServer } from 'node:http';

const listen = process.argv[2] ?? '127.0.0.1:0';
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
let served = 0;
const server = createServer((req, res) => {
  served++;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ app: 'api', served, path: req.url, from: req.socket.remoteAddress }));
});
server.listen(port, host, () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'app.listening', app: 'api', port: typeof address === 'object' && address ? address.port : port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
