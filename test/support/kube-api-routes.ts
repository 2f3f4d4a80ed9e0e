import type { IncomingMessage, ServerResponse } from 'node:http';
import { Kinds, type KubeObject, type ObjectStore, type Resource, type WatchEvent } from './kube-objects.ts';
import { parseSelector } from './kube-select.ts';
import { deleted, Statuses, type Status } from './kube-status.ts';
import type { Authenticator, TokenReviewStatus, User, Verb } from './kube-auth.ts';

/** The REST and watch protocol of kube-apiserver for core/v1 Secrets and ConfigMaps, and TokenReview. */

const MAX_BODY = 3 * 1024 * 1024;
const TOKEN_REVIEW = '/apis/authentication.k8s.io/v1/tokenreviews';

export interface WatchInfo {
  resource: Resource;
  namespace?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  bookmarks: boolean;
  user: string;
}

export interface RouteContext {
  store: ObjectStore;
  auth: Authenticator;
  namespaces: Set<string>;
  rewriteReview?: ((status: TokenReviewStatus) => TokenReviewStatus) | undefined;
  /** Registers an open watch so that the server can list, drop and close it. */
  trackWatch(res: ServerResponse, info: WatchInfo, stop: () => void): void;
}

export function sendJson(res: ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

async function readJson(req: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw Statuses.tooLarge();
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
  } catch (err) {
    throw Statuses.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

interface Target {
  resource: Resource;
  namespace?: string;
  name?: string;
  legacyWatch: boolean;
}

/** `/api/v1[/watch][/namespaces/NS]/RESOURCE[/NAME]` */
function parseCorePath(segments: string[]): Target | undefined {
  if (segments[0] !== 'api' || segments[1] !== 'v1') return undefined;
  const rest = segments.slice(2);
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest.shift();
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest.splice(0, 2);
  }
  const [resource, name, ...extra] = rest;
  if (extra.length > 0 || (name !== undefined && namespace === undefined)) return undefined;
  if (resource !== 'secrets' && resource !== 'configmaps') return undefined;
  return { resource, namespace, name, legacyWatch };
}

export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, user: User, url: URL): Promise<void> {
  if (url.pathname === TOKEN_REVIEW) return tokenReview(ctx, req, res, user);
  if (url.pathname === '/version' && req.method === 'GET') {
    return sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-test', platform: 'linux/amd64' });
  }
  const target = parseCorePath(url.pathname.split('/').filter(Boolean).map(decodeURIComponent));
  if (!target) throw Statuses.noRoute();
  const { resource, namespace, name } = target;
  const ref = { resource };
  const params = url.searchParams;
  const watching = target.legacyWatch || params.get('watch') === 'true' || params.get('watch') === '1';
  const allow = (verb: Verb) => ctx.auth.authorize(user, verb, ref, namespace, name);

  if (req.method === 'GET' && watching) {
    allow('watch');
    return watch(ctx, res, { resource, namespace, name, user: user.username }, params);
  }
  if (req.method === 'GET' && name !== undefined) {
    allow('get');
    const obj = ctx.store.get(resource, namespace!, name);
    if (!obj) throw Statuses.notFound(ref, name);
    return sendJson(res, 200, obj);
  }
  if (req.method === 'GET') {
    allow('list');
    const list = ctx.store.list({ resource, namespace, selector: parseSelector(params, resource) });
    return sendJson(res, 200, {
      kind: Kinds[resource].listKind,
      apiVersion: 'v1',
      metadata: { resourceVersion: list.resourceVersion },
      items: list.items,
    });
  }
  if (req.method === 'POST' && name === undefined && namespace !== undefined) {
    allow('create');
    const body = await readJson(req);
    if (!ctx.namespaces.has(namespace)) throw Statuses.notFound({ resource: 'namespaces' }, namespace);
    return sendJson(res, 201, ctx.store.create(resource, namespace, body));
  }
  if (req.method === 'PUT' && name !== undefined) {
    allow('update');
    return sendJson(res, 200, ctx.store.replace(resource, namespace!, name, await readJson(req)));
  }
  if (req.method === 'DELETE' && name !== undefined) {
    allow('delete');
    const gone = ctx.store.delete(resource, namespace!, name);
    return sendJson(res, 200, deleted(ref, name, gone.metadata.uid));
  }
  throw Statuses.methodNotAllowed();
}

/**
 * A watch is a 200 response that never ends by itself: newline-delimited JSON events, written as
 * they happen, until `timeoutSeconds`, a drop, or the client going away.
 */
function watch(ctx: RouteContext, res: ServerResponse, who: { resource: Resource; namespace?: string; name?: string; user: string }, params: URLSearchParams): void {
  const selector = parseSelector(params, who.resource);
  // A watch on a single object (the deprecated /watch/.../NAME form) is a name field selector.
  if (who.name !== undefined) selector.fields.push({ key: 'metadata.name', op: 'eq', value: who.name });
  const bookmarks = params.get('allowWatchBookmarks') === 'true' || params.get('allowWatchBookmarks') === '1';
  const resourceVersion = params.get('resourceVersion') ?? undefined;
  const start = () => {
    if (res.headersSent) return;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
  };
  const send = (event: WatchEvent) => {
    start();
    // After an abrupt drop the event goes nowhere, as it would on a dead connection.
    if (!res.writableEnded && !res.destroyed && !res.socket?.destroyed) res.write(`${JSON.stringify(event)}\n`);
  };
  const stop = ctx.store.watch({ scope: { resource: who.resource, namespace: who.namespace, selector }, bookmarks, send }, resourceVersion);
  start();
  if (!stop) {
    res.end(); // the ERROR event (410 Expired) has been written; the real server ends the stream too
    return;
  }
  const info: WatchInfo = { resource: who.resource, bookmarks, user: who.user };
  if (who.namespace !== undefined) info.namespace = who.namespace;
  const fieldSelector = params.get('fieldSelector') ?? (who.name !== undefined ? `metadata.name=${who.name}` : null);
  if (fieldSelector !== null) info.fieldSelector = fieldSelector;
  if (resourceVersion !== undefined) info.resourceVersion = resourceVersion;
  const timeoutSeconds = Number(params.get('timeoutSeconds') ?? 0);
  const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
  timer?.unref();
  ctx.trackWatch(res, info, () => {
    clearTimeout(timer);
    stop();
  });
}

async function tokenReview(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, user: User): Promise<void> {
  const ref = { resource: 'tokenreviews', group: 'authentication.k8s.io' };
  if (req.method !== 'POST') throw Statuses.methodNotAllowed();
  ctx.auth.authorize(user, 'create', ref, undefined);
  const body = (await readJson(req)) as unknown as { kind?: string; apiVersion?: string; spec?: { token?: unknown; audiences?: unknown } };
  if (body.kind !== undefined && body.kind !== 'TokenReview') throw Statuses.badRequest(`not a TokenReview: ${body.kind}`);
  const token = body.spec?.token;
  if (typeof token !== 'string' || token.length === 0) throw Statuses.badRequest('token is required for TokenReview in authentication');
  const requested = Array.isArray(body.spec?.audiences) ? body.spec.audiences.filter((a): a is string => typeof a === 'string') : [];
  const reviewed = ctx.auth.review(token, requested);
  const status = ctx.rewriteReview ? ctx.rewriteReview(reviewed) : reviewed;
  // The answer echoes the request (token included, as the real server does) with status filled in.
  sendJson(res, 201, {
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: body.spec,
    status,
  });
}
