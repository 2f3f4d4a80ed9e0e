import type { IncomingMessage, ServerResponse } from 'node:http';
import { Kinds, refOf, render, type KubeObject, type ObjectStore, type Resource, type WatchEvent } from './kube-objects.ts';
import { parsePath } from './kube-paths.ts';
import { parseSelector } from './kube-select.ts';
import { deleted, Statuses, type Status } from './kube-status.ts';
import { apiVersionOf } from './kube-types.ts';
import type { Authenticator, TokenReviewStatus, User, Verb } from './kube-auth.ts';

/**
 * The REST and watch protocol of kube-apiserver for the resources in kube-types.ts (core/v1
 * Secrets, ConfigMaps, Pods, ServiceAccounts, Namespaces; Linkerd's policy.linkerd.io custom
 * resources), with chunked lists (`limit`, `continue`), and TokenReview.
 */

const MAX_BODY = 3 * 1024 * 1024;
const TOKEN_REVIEW = '/apis/authentication.k8s.io/v1/tokenreviews';

export interface WatchInfo {
  resource: Resource;
  version: string;
  namespace?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  bookmarks: boolean;
  user: string;
}

export interface RouteContext {
  store: ObjectStore;
  auth: Authenticator;
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

export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, user: User, url: URL): Promise<void> {
  if (url.pathname === TOKEN_REVIEW) return tokenReview(ctx, req, res, user);
  if (url.pathname === '/version' && req.method === 'GET') {
    return sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-test', platform: 'linux/amd64' });
  }
  const target = parsePath(url.pathname);
  if (!target) throw Statuses.noRoute();
  const { resource, version, namespace, name } = target;
  const ref = refOf(resource);
  const params = url.searchParams;
  const watching = target.legacyWatch || params.get('watch') === 'true' || params.get('watch') === '1';
  const allow = (verb: Verb) => ctx.auth.authorize(user, verb, ref, namespace, name);
  const scopedNamespace = Kinds[resource].namespaced ? namespace : '';

  if (req.method === 'GET' && watching) {
    allow('watch');
    return watch(ctx, res, { resource, version, namespace, name, user: user.username }, params);
  }
  if (req.method === 'GET' && name !== undefined) {
    allow('get');
    const obj = ctx.store.get(resource, scopedNamespace!, name, version);
    if (!obj) throw Statuses.notFound(ref, name);
    return sendJson(res, 200, obj);
  }
  if (req.method === 'GET') {
    allow('list');
    return sendJson(res, 200, list(ctx, resource, version, namespace, params));
  }
  if (req.method === 'POST' && name === undefined && scopedNamespace !== undefined) {
    allow('create');
    const body = await readJson(req);
    if (scopedNamespace !== '' && !ctx.store.get('namespaces', '', scopedNamespace)) throw Statuses.notFound({ resource: 'namespaces' }, scopedNamespace);
    return sendJson(res, 201, ctx.store.create(resource, scopedNamespace, body, version));
  }
  if (req.method === 'PUT' && name !== undefined) {
    allow('update');
    return sendJson(res, 200, ctx.store.replace(resource, scopedNamespace!, name, await readJson(req), version));
  }
  if (req.method === 'DELETE' && name !== undefined) {
    allow('delete');
    const gone = ctx.store.delete(resource, scopedNamespace!, name, version);
    return sendJson(res, 200, Kinds[resource].deleteReturnsObject ? gone : deleted(ref, name, gone.metadata.uid));
  }
  throw Statuses.methodNotAllowed();
}

interface ContinueToken {
  rv: number;
  start: string;
}

/**
 * A list, in chunks when `limit` asks for them: the `continue` token carries the revision of the
 * first chunk and the last key served. Later chunks come from the current state after that key
 * but report the first chunk's revision, so that a watch from it replays every change made
 * meanwhile; a token older than the compacted history is 410 Expired, as in a real cluster.
 */
function list(ctx: RouteContext, resource: Resource, version: string, namespace: string | undefined, params: URLSearchParams): object {
  const scope = { resource, version, selector: parseSelector(params, resource), ...(namespace !== undefined ? { namespace } : {}) };
  let token: ContinueToken | undefined;
  const cont = params.get('continue');
  if (cont) {
    try {
      token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as ContinueToken;
    } catch {
      throw Statuses.badRequest('continue key is not valid: illegal base64 data');
    }
    if (typeof token?.rv !== 'number' || typeof token.start !== 'string') throw Statuses.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
    if (token.rv < ctx.store.compactedThrough) throw Statuses.continueExpired();
  }
  const all = ctx.store.list(scope, token?.start);
  const limit = Number(params.get('limit') ?? 0);
  const page = limit > 0 && all.items.length > limit ? limit : all.items.length;
  const resourceVersion = token ? String(token.rv) : all.resourceVersion;
  const metadata: Record<string, unknown> = { resourceVersion };
  if (page < all.items.length) {
    const next: ContinueToken = { rv: Number(resourceVersion), start: all.keys[page - 1]! };
    metadata['continue'] = Buffer.from(JSON.stringify(next)).toString('base64url');
    metadata['remainingItemCount'] = all.items.length - page;
  }
  // Built-in types list their items without apiVersion and kind; custom resources carry them.
  const custom = Kinds[resource].group !== '';
  const items = all.items.slice(0, page).map((obj: KubeObject) => (custom ? render(resource, obj, version) : obj));
  return { kind: Kinds[resource].listKind, apiVersion: apiVersionOf(resource, version), metadata, items };
}

/**
 * A watch is a 200 response that never ends by itself: newline-delimited JSON events, written as
 * they happen, until `timeoutSeconds`, a drop, or the client going away.
 */
function watch(ctx: RouteContext, res: ServerResponse, who: { resource: Resource; version: string; namespace?: string; name?: string; user: string }, params: URLSearchParams): void {
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
  const scope = { resource: who.resource, version: who.version, selector, ...(who.namespace !== undefined ? { namespace: who.namespace } : {}) };
  const stop = ctx.store.watch({ scope, bookmarks, send }, resourceVersion);
  start();
  if (!stop) {
    res.end(); // the ERROR event (410 Expired) has been written; the real server ends the stream too
    return;
  }
  const info: WatchInfo = { resource: who.resource, version: who.version, bookmarks, user: who.user };
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
