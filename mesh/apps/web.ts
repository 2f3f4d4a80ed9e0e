// The sample `web` application: plain HTTP; GET / calls the api at the address it was given
// (its own proxy's outbound port) and answers with what the api said. No TLS anywhere here.
import { createServer, get } from 'node:http';

const listen = process.argv[2] ?? '127.0.0.1:0';
const api = process.argv[3] ?? '127.0.0.1:4140';
const split = (a: string) => [a.slice(0, a.lastIndexOf(':')), Number(a.slice(a.lastIndexOf(':') + 1))] as const;
const [host, port] = split(listen);
const [apiHost, apiPort] = split(api);

const server = createServer((_req, res) => {
  const call = get({ host: apiHost, port: apiPort, path: '/hello', agent: false }, (apiRes) => {
    let body = '';
    apiRes.on('data', (d: Buffer) => (body += d.toString()));
    apiRes.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: 'web', api: JSON.parse(body) as unknown }));
    });
  });
  call.on('error', (err) => {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ app: 'web', error: err.message }));
  });
});
server.listen(port, host, () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'app.listening', app: 'web', port: typeof address === 'object' && address ? address.port : port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
