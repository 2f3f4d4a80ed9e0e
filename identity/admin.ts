/**
 * The admin endpoint of the identity service and of the proxy (plain HTTP, meant for a loopback
 * or pod-local port): Prometheus metrics, the liveness and readiness probes Kubernetes polls, and
 * any further JSON endpoints the caller adds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/log.ts';

export interface Readiness {
  ready: boolean;
  /** Shown as JSON on /ready, e.g. `{ issuer: 'loaded', anchors: 2 }`; no secrets. */
  detail?: object;
}

export interface AdminServerOptions {
  host: string;
  /** 0 picks an ephemeral port; the bound one is in the result. */
  port: number;
  registry: Registry;
  ready: () => Readiness;
  logger: Logger;
  /** Further GET endpoints answering JSON, by path; e.g. the proxy's `/identity`. */
  routes?: Record<string, () => { status: number; body: object }>;
  /**
   * POST endpoints answering JSON, by path; e.g. the proxy's `/renew`. They take no body (one
   * is refused), so that nothing a caller sends is ever parsed.
   */
  postRoutes?: Record<string, () => { status: number; body: object } | Promise<{ status: number; body: object }>>;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: object): void =>
  send(res, status, 'application/json', JSON.stringify(body) + '\n');

async function route(req: IncomingMessage, res: ServerResponse, options: AdminServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  const post = Object.hasOwn(options.postRoutes ?? {}, path) ? options.postRoutes![path]! : undefined;
  if (req.method === 'POST' && post) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > 0 || req.headers['transfer-encoding'] !== undefined) return sendJson(res, 413, { error: 'this endpoint takes no request body' });
    const { status, body } = await post();
    return sendJson(res, status, body);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', post ? 'POST' : 'GET, HEAD');
    return sendJson(res, 405, { error: 'method not allowed' });
  }
  switch (path) {
    case '/metrics':
      return send(res, 200, options.registry.contentType, await options.registry.metrics());
    case '/live':
      // Alive means the event loop answers; nothing else, so a slow dependency never gets us killed.
      return send(res, 200, 'text/plain', 'live\n');
    case '/ready': {
      const { ready, detail } = options.ready();
      return sendJson(res, ready ? 200 : 503, { ready, ...(detail ? { detail } : {}) });
    }
    default: {
      const extra = Object.hasOwn(options.routes ?? {}, path) ? options.routes![path]! : undefined;
      if (extra) {
        const { status, body } = extra();
        return sendJson(res, status, body);
      }
      return sendJson(res, 404, { error: 'not found' });
    }
  }
}

/**
 * @example
 * const admin = await startAdminServer({ host: '127.0.0.1', port: 9990, registry: metrics.registry,
 *   ready: () => ({ ready: issuerLoaded, detail: { issuer: issuerLoaded ? 'loaded' : 'missing' } }), logger });
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { logger } = options;
  const server = createServer((req, res) => {
    route(req, res, options).catch((err: unknown) => {
      // A failing readiness function or collector must answer, not hang the probe.
      logger.error({ event: 'admin.request_failed', path: req.url, err }, 'admin request failed');
      if (!res.headersSent) sendJson(res, req.url?.startsWith('/ready') ? 503 : 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ event: 'admin.listening', host: options.host, port }, 'admin server listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Probes and scrapers keep connections alive; they must not hold the shutdown open.
        server.closeAllConnections();
      }),
  };
}
