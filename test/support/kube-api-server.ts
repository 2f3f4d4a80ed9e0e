import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Authenticator, type ForbidRule, type TokenIdentity, type TokenReviewStatus } from './kube-auth.ts';
import { route, sendStatus, type RouteContext, type WatchInfo } from './kube-api-routes.ts';
import { ObjectStore, type KubeObject, type Resource } from './kube-objects.ts';
import { parsePath } from './kube-paths.ts';
import { Kinds, type PolicyResource } from './kube-types.ts';
import { StatusError, Statuses } from './kube-status.ts';
import { createServerTls } from './kube-tls.ts';
import { FaultPlan, Waiters, type RequestMatcher } from './kube-faults.ts';

export type { ForbidRule, TokenIdentity, TokenReviewStatus, Verb } from './kube-auth.ts';
export type { KubeObject, Resource } from './kube-objects.ts';
export type { CoreResource, PolicyResource } from './kube-types.ts';
export type { WatchInfo } from './kube-api-routes.ts';
export type { RequestMatcher } from './kube-faults.ts';

/**
 * A Kubernetes API server for tests, spoken to by the real @kubernetes/client-node over HTTPS with
 * a bearer token (see kubeconfig.ts). It keeps the parts of kube-apiserver's protocol that our
 * code depends on — Status errors, resourceVersion preconditions, chunked lists, watch streams
 * with history and 410 Expired, TokenReview — for Secrets, ConfigMaps, Pods, ServiceAccounts,
 * Namespaces and Linkerd's policy.linkerd.io resources (kube-types.ts), and lets a test break it
 * on purpose. Production code never sees it.
 *
 * ```ts
 * const api = await KubeApiServer.start();
 * api.putSecret('linkerd', { metadata: { name: 'x' }, stringData: { a: 'b' } });
 * const kc = kubeConfigFor(api);          // test/support/kubeconfig.ts
 * ...
 * await api.close();
 * ```
 */

export interface KubeApiServerOptions {
  /** Events kept for watches that resume; older ones are compacted. Default 1000. */
  historyLimit?: number;
  /** Namespaces that exist at start (creating in another is 404). Default default, kube-system, linkerd. */
  namespaces?: string[];
  /** The API server's own audiences (`--api-audiences`). */
  apiAudiences?: string[];
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  user?: string;
  /** The HTTP status answered; undefined while the request is open (a watch, a hang). */
  status?: number;
}

/** An object as a test writes it: a name, and whatever else (data, stringData, type, labels, spec...). */
export interface ObjectInput {
  /** For custom resources, the version it is written in (`policy.linkerd.io/v1beta1`); the newest served by default. */
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
  [field: string]: unknown;
}

export const DEFAULT_API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

export class KubeApiServer {
  readonly url: string;
  readonly caPem: string;
  /** A cluster-admin token, the default credential of `kubeConfigFor`. */
  readonly adminToken = `admin-${randomBytes(12).toString('hex')}`;
  readonly requests: RequestRecord[] = [];

  readonly #server: Server;
  readonly #store: ObjectStore;
  readonly #auth: Authenticator;
  readonly #watches = new Map<ServerResponse, { info: WatchInfo; stop: () => void }>();
  readonly #sockets = new Set<Socket>();
  readonly #faults = new FaultPlan();
  readonly #waiters = new Waiters();
  readonly #context: RouteContext;

  private constructor(server: Server, caPem: string, options: KubeApiServerOptions) {
    this.#server = server;
    this.caPem = caPem;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#store = new ObjectStore(options.historyLimit ?? 1000);
    this.#auth = new Authenticator(options.apiAudiences ?? [DEFAULT_API_AUDIENCE]);
    for (const ns of options.namespaces ?? ['default', 'kube-system', 'linkerd']) this.createNamespace(ns);
    this.#context = {
      store: this.#store,
      auth: this.#auth,
      trackWatch: (res, info, stop) => {
        this.#watches.set(res, { info, stop });
        res.on('close', () => {
          stop();
          this.#watches.delete(res);
          this.#changed();
        });
        this.#changed();
      },
    };
    this.#auth.register(this.adminToken, { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        this.#changed();
      });
    });
  }

  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const tls = await createServerTls();
    const server = createServer({ key: tls.keyPem, cert: tls.certPem });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new KubeApiServer(server, tls.caPem, options);
  }

  // --- identities -------------------------------------------------------------------------

  registerToken(token: string, identity: TokenIdentity): void {
    this.#auth.register(token, identity);
  }

  revokeToken(token: string): void {
    this.#auth.revoke(token);
  }

  /** Answers 403 Forbidden to this token's user for requests that match the rule. */
  forbid(token: string, rule: ForbidRule = {}): void {
    this.#auth.forbid(token, rule);
  }

  clearForbids(): void {
    this.#auth.clearForbids();
  }

  // --- objects ------------------------------------------------------------------------------

  /** Creates the Namespace object if it does not exist yet. */
  createNamespace(name: string): void {
    if (!this.#store.get('namespaces', '', name)) this.putNamespace({ metadata: { name } });
  }

  /**
   * Creates or overwrites an object as another writer would (bumping resourceVersion, notifying
   * watches). A namespaced object's namespace is created if missing; for a Namespace, pass ''.
   */
  putObject(resource: Resource, namespace: string, body: ObjectInput): KubeObject {
    if (Kinds[resource].namespaced) this.createNamespace(namespace);
    return this.#control(() => this.#store.put(resource, Kinds[resource].namespaced ? namespace : '', body as unknown as KubeObject));
  }

  putSecret(namespace: string, body: ObjectInput): KubeObject {
    return this.putObject('secrets', namespace, body);
  }

  putConfigMap(namespace: string, body: ObjectInput): KubeObject {
    return this.putObject('configmaps', namespace, body);
  }

  putPod(namespace: string, body: ObjectInput): KubeObject {
    return this.putObject('pods', namespace, body);
  }

  putServiceAccount(namespace: string, body: ObjectInput): KubeObject {
    return this.putObject('serviceaccounts', namespace, body);
  }

  putNamespace(body: ObjectInput): KubeObject {
    return this.putObject('namespaces', '', body);
  }

  /** A policy.linkerd.io object; `body.apiVersion` may name any served version of its kind. */
  putPolicy(resource: PolicyResource, namespace: string, body: ObjectInput): KubeObject {
    return this.putObject(resource, namespace, body);
  }

  /** For a Namespace, `namespace` is ''. */
  getObject(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    return this.#store.get(resource, Kinds[resource].namespaced ? namespace : '', name);
  }

  /** Deletes at once (no grace period); a Namespace takes everything in it along, as the namespace controller does. */
  deleteObject(resource: Resource, namespace: string, name: string): void {
    this.#control(() => this.#store.delete(resource, Kinds[resource].namespaced ? namespace : '', name));
  }

  /** The current global resourceVersion (etcd's revision). */
  get resourceVersion(): string {
    return this.#store.resourceVersion;
  }

  /** Forgets all event history: a watch from any older resourceVersion gets 410 Expired. */
  compact(): void {
    this.#store.compact();
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that allowed bookmarks. */
  sendBookmarks(): void {
    this.#store.bookmark();
  }

  // --- watches and faults -------------------------------------------------------------------

  get watches(): WatchInfo[] {
    return [...this.#watches.values()].map((w) => ({ ...w.info }));
  }

  /**
   * Ends every open watch: gracefully (the stream ends, as at timeoutSeconds) or abruptly (the
   * TCP connection is reset, as when a load balancer or the server dies). Returns how many.
   */
  dropWatches(options: { abrupt?: boolean } = {}): number {
    const open = [...this.#watches.keys()];
    for (const res of open) {
      if (options.abrupt) res.socket?.destroy();
      else res.end();
    }
    return open.length;
  }

  /** Answers the next `count` matching requests (default: all until cleared) with an error Status. */
  fail(options: { code: number; count?: number; match?: RequestMatcher }): void {
    this.#faults.add({ kind: 'status', code: options.code }, options.count, options.match);
  }

  /** Accepts the next `count` matching requests and never answers them (until close). */
  hang(options: { count?: number; match?: RequestMatcher } = {}): void {
    this.#faults.add({ kind: 'hang' }, options.count, options.match);
  }

  /**
   * Runs `action` when a matching request arrives, before the server handles it: the way to make
   * another writer win a race for real (the request then meets a genuine 409). Once by default.
   */
  beforeRequest(match: RequestMatcher, action: () => void, count = 1): void {
    this.#faults.add({ kind: 'hook', action }, count, match);
  }

  /** Makes TokenReview answers say something else, as a misbehaving or differently configured server might. */
  rewriteTokenReviews(rewrite: ((status: TokenReviewStatus) => TokenReviewStatus) | undefined): void {
    this.#context.rewriteReview = rewrite;
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Open TCP connections to the server: a client that leaks a socket shows up here. */
  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * Resolves once `check` holds; it is re-checked whenever a request, watch or connection comes or
   * goes, so tests wait on events rather than sleeping. Rejects after 15 s, naming `what`.
   */
  waitUntil(check: () => boolean, what: string): Promise<void> {
    return this.#waitFor(check, what);
  }

  /** Resolves once the predicate holds for the open watches. */
  waitForWatches(predicate: (watches: WatchInfo[]) => boolean, what = 'watches'): Promise<void> {
    return this.#waitFor(() => predicate(this.watches), what);
  }

  /** Resolves with the first request, past or future, that matches. */
  waitForRequest(predicate: (r: RequestRecord) => boolean, what = 'request'): Promise<RequestRecord> {
    let found: RequestRecord | undefined;
    return this.#waitFor(() => (found = this.requests.find(predicate)) !== undefined, what).then(() => found!);
  }

  async close(): Promise<void> {
    for (const { stop } of this.#watches.values()) stop();
    this.#watches.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  // --- internals ------------------------------------------------------------------------------

  #control<T>(action: () => T): T {
    try {
      return action();
    } catch (err) {
      throw err instanceof StatusError ? new Error(`test API server refused: ${err.status.message}`) : err;
    }
  }

  #waitFor(check: () => boolean, what: string): Promise<void> {
    return this.#waiters.waitFor(check, what, () => `open watches: ${JSON.stringify(this.watches)}`);
  }

  #changed(): void {
    this.#waiters.changed();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const record: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams) };
    this.requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
      this.#changed();
    });
    try {
      const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1' || parsePath(url.pathname)?.legacyWatch === true;
      const fault = this.#faults.take({ method: record.method, path: record.path, watch });
      if (fault?.kind === 'hang') return this.#changed();
      if (fault?.kind === 'hook') fault.action();
      if (fault?.kind === 'status') throw Statuses.forCode(fault.code, 'injected by the test API server');
      const user = this.#auth.authenticate(req.headers.authorization);
      record.user = user.username;
      this.#changed();
      await route(this.#context, req, res, user, url);
    } catch (err) {
      const status = err instanceof StatusError ? err.status : Statuses.internal(String(err)).status;
      if (!res.headersSent) sendStatus(res, status);
      else res.destroy();
      this.#changed();
    }
  }
}
