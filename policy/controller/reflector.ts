/**
 * The reflector loop for one collection in every namespace, as client-go's reflector runs it:
 * list (in chunks) to fill the cache and learn a resourceVersion, watch from it, follow the
 * resourceVersion of every event and bookmark, and when the stream ends resume from the last one
 * (capped, jittered backoff), so a dropped connection loses nothing. A 410 Expired means the
 * history is gone: list again. A watch that is silent past its own timeout is presumed dead
 * (a peer that vanished without a reset) and replaced.
 */
import type { Agent } from 'node:http';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { describeApiFailure, reportingAgents, withDeadline } from '../../common/kube-client.ts';
import type { Logger } from '../../common/log.ts';
import { objectKey, type KubeObject, type WatchedKind } from './kinds.ts';
import { backoffDelayMs } from '../../common/backoff.ts';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface ReflectorOptions {
  kubeConfig: KubeConfig;
  kind: WatchedKind;
  backoff: Backoff;
  /** Deadline of each list request. */
  listTimeoutMs: number;
  logger: Logger;
  /** The cache changed: an event, or a (re)list. */
  onChange(): void;
  /** `listed`, `healthy` or `lastError` changed. */
  onStatus(): void;
}

const PAGE = 500;
/** client-go's: watches ask the server to end them after 5-10 minutes, so that they are renewed. */
const MIN_WATCH_SECONDS = 300;
/** How long past its timeout a silent watch is given before it is presumed dead. */
const WATCHDOG_GRACE_MS = 30_000;

export class Reflector {
  /** The collection as last seen, by `NS/NAME` (`NAME` when cluster-scoped). */
  readonly objects = new Map<string, KubeObject>();
  readonly kind: WatchedKind;
  #listed = false;
  #healthy = true;
  #lastError: string | undefined;
  readonly #o: ReflectorOptions;
  #resourceVersion: string | undefined;
  #attempt = 0;
  #generation = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;
  #agent: Agent | undefined;
  readonly #abort = new AbortController();

  constructor(options: ReflectorOptions) {
    this.#o = options;
    this.kind = options.kind;
  }

  /** True once the collection has been listed: the cache is complete (if possibly stale). */
  get listed(): boolean {
    return this.#listed;
  }

  /** False while the API server cannot be reached (or refuses) for this collection. */
  get healthy(): boolean {
    return this.#healthy;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  start(): void {
    void this.#cycle();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchdog);
    this.#abort.abort();
    this.#controller?.abort();
    // A watch still waiting for its response headers has no controller yet; its agent does.
    this.#agent?.destroy();
  }

  async #cycle(): Promise<void> {
    if (this.#closed) return;
    if (this.#resourceVersion === undefined) {
      try {
        this.#resourceVersion = await this.#list();
      } catch (err) {
        if (this.#closed) return;
        const failure = describeApiFailure(err);
        const hint = failure.code === 404 ? ` (is ${this.kind.apiVersion} ${this.kind.kind} served? Linkerd's CRDs must be installed)` : '';
        this.#failed(`listing ${this.kind.resource} failed: ${failure.message}${hint}`);
        return this.#retry();
      }
      if (this.#closed) return;
    }
    await this.#watch(this.#resourceVersion);
  }

  /** Every chunk, then the cache replaced at once. Resolves with the list's resourceVersion. */
  async #list(): Promise<string> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const chunk = await withDeadline((options) => this.kind.list({ limit: PAGE, ...(cont ? { continue: cont } : {}) }, options), { timeoutMs: this.#o.listTimeoutMs, signal: this.#abort.signal });
      if (!resourceVersion) resourceVersion = chunk.resourceVersion;
      items.push(...chunk.items);
      cont = chunk.continue;
    } while (cont);
    this.objects.clear();
    for (const item of items) {
      // List items of built-in kinds come without apiVersion and kind; the parser needs both.
      const obj: KubeObject = { ...item, apiVersion: this.kind.apiVersion, kind: this.kind.kind };
      const key = objectKey(obj);
      if (key) this.objects.set(key, obj);
    }
    this.#o.logger.debug({ event: 'reflector.listed', resource: this.kind.resource, objects: this.objects.size, resourceVersion }, 'listed');
    this.#listed = true;
    this.#attempt = 0;
    this.#ok();
    this.#o.onChange();
    return resourceVersion;
  }

  async #watch(resourceVersion: string): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#closed;
    let ended = false;
    let established = false;
    const timeoutSeconds = MIN_WATCH_SECONDS + Math.floor(Math.random() * MIN_WATCH_SECONDS);
    const arm = () => {
      clearTimeout(this.#watchdog);
      this.#watchdog = setTimeout(() => {
        if (!current()) return;
        this.#o.logger.warn({ event: 'reflector.watch_silent', resource: this.kind.resource }, 'watch silent past its timeout; replacing it');
        this.#generation++;
        this.#controller?.abort();
        this.#agent?.destroy();
        void this.#cycle();
      }, timeoutSeconds * 1000 + WATCHDOG_GRACE_MS);
      this.#watchdog.unref();
    };
    const watch = new Watch(reportingAgents(this.#o.kubeConfig, (agent) => (this.#agent = agent)));
    const query = { resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    const onEvent = (type: string, obj: KubeObject & { code?: number; message?: string }) => {
      if (!current()) return;
      arm();
      if (type === 'ERROR') {
        const gone = obj.code === 410;
        this.#o.logger.info({ event: 'reflector.watch_error', resource: this.kind.resource, code: obj.code, message: obj.message }, gone ? 'watch history expired; relisting' : 'watch error');
        if (gone) this.#resourceVersion = undefined;
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.#resourceVersion = rv;
      this.#attempt = 0;
      if (type === 'BOOKMARK') return;
      const key = objectKey(obj);
      if (!key) return;
      if (type === 'DELETED') this.objects.delete(key);
      else this.objects.set(key, { ...obj, apiVersion: obj.apiVersion ?? this.kind.apiVersion, kind: obj.kind ?? this.kind.kind });
      this.#o.onChange();
    };
    const onDone = (err: unknown) => {
      if (!current()) return;
      ended = true;
      clearTimeout(this.#watchdog);
      this.#controller = undefined;
      this.#agent = undefined;
      if (err) {
        const failure = describeApiFailure(err);
        if (failure.code === 410) this.#resourceVersion = undefined;
        // A watch that was running and broke is resumed; only a failure to reach the server is one.
        else if (established) this.#o.logger.info({ event: 'reflector.watch_dropped', resource: this.kind.resource, err: failure.message }, 'watch dropped; resuming');
        else this.#failed(`watching ${this.kind.resource} failed: ${failure.message}`);
      }
      this.#retry();
    };
    try {
      const controller = await watch.watch(this.kind.path, query, onEvent, onDone);
      if (this.#closed) controller.abort();
      else if (current() && !ended) {
        this.#controller = controller;
        established = true;
        this.#attempt = 0;
        this.#ok(); // the server answered the watch: it is reachable again
        arm();
      }
    } catch (err) {
      // Watch.watch rejects only before it sends anything (no cluster in the kubeconfig, auth plugin failure).
      onDone(err);
    }
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#cycle(), backoffDelayMs(this.#attempt++, this.#o.backoff));
  }

  #failed(message: string): void {
    const changed = this.#healthy || this.#lastError !== message;
    this.#healthy = false;
    this.#lastError = message;
    if (changed) this.#o.onStatus();
  }

  #ok(): void {
    if (this.#healthy) return;
    this.#healthy = true;
    this.#o.onStatus();
  }
}
