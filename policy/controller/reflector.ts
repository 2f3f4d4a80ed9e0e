/**
 * The reflector loop for one collection in every namespace, as client-go's reflector runs it:
 * list (in chunks) to fill the cache and learn a resourceVersion, watch from it, follow the
 * resourceVersion of every event and bookmark, and when the stream ends resume from the last one
 * (capped, jittered backoff), so a dropped connection loses nothing. A 410 Expired means the
 * history is gone: list again. A watch that is silent past its own timeout is presumed dead
 * (a peer that vanished without a reset) and replaced. The loop itself is
 * common/kube-watch-loop.ts; this adds the cache, the chunked list, health and the watchdog.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { describeApiFailure, withDeadline } from '../../common/kube-client.ts';
import { KubeWatchLoop, type WatchHandlers } from '../../common/kube-watch-loop.ts';
import type { Logger } from '../../common/log.ts';
import { objectKey, type KubeObject, type WatchedKind } from './kinds.ts';

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

/** An event's object: one of the collection's, or (for ERROR) a Status. */
type WatchObject = KubeObject & { code?: number; message?: string };

export class Reflector {
  /** The collection as last seen, by `NS/NAME` (`NAME` when cluster-scoped). */
  readonly objects = new Map<string, KubeObject>();
  readonly kind: WatchedKind;
  #listed = false;
  #healthy = true;
  #lastError: string | undefined;
  readonly #o: ReflectorOptions;
  readonly #loop: KubeWatchLoop<WatchObject>;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: ReflectorOptions) {
    this.#o = options;
    this.kind = options.kind;
    this.#loop = new KubeWatchLoop<WatchObject>({
      kubeConfig: options.kubeConfig,
      backoff: options.backoff,
      list: (signal) => this.#list(signal),
      listFailed: (err) => {
        const failure = describeApiFailure(err);
        const hint = failure.code === 404 ? ` (is ${this.kind.apiVersion} ${this.kind.kind} served? Linkerd's CRDs must be installed)` : '';
        this.#failed(`listing ${this.kind.resource} failed: ${failure.message}${hint}`);
      },
      watch: (current) => this.#watch(current),
    });
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
    this.#loop.start();
  }

  close(): void {
    clearTimeout(this.#watchdog);
    this.#loop.close();
  }

  /** Every chunk, then the cache replaced at once. Resolves with the list's resourceVersion. */
  async #list(signal: AbortSignal): Promise<string> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const chunk = await withDeadline((options) => this.kind.list({ limit: PAGE, ...(cont ? { continue: cont } : {}) }, options), { timeoutMs: this.#o.listTimeoutMs, signal });
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
    this.#loop.resetBackoff();
    this.#ok();
    this.#o.onChange();
    return resourceVersion;
  }

  /** One watch of the collection, with a watchdog that replaces it when it falls silent past its timeout. */
  #watch(current: () => boolean): WatchHandlers<WatchObject> {
    let established = false;
    const timeoutSeconds = MIN_WATCH_SECONDS + Math.floor(Math.random() * MIN_WATCH_SECONDS);
    const arm = () => {
      clearTimeout(this.#watchdog);
      this.#watchdog = setTimeout(() => {
        if (!current()) return;
        this.#o.logger.warn({ event: 'reflector.watch_silent', resource: this.kind.resource }, 'watch silent past its timeout; replacing it');
        this.#loop.replace();
      }, timeoutSeconds * 1000 + WATCHDOG_GRACE_MS);
      this.#watchdog.unref();
    };
    return {
      path: this.kind.path,
      query: { allowWatchBookmarks: true, timeoutSeconds },
      established: () => {
        established = true;
        this.#loop.resetBackoff();
        this.#ok(); // the server answered the watch: it is reachable again
        arm();
      },
      event: (type, obj) => {
        arm();
        if (type === 'ERROR') {
          const gone = obj.code === 410;
          this.#o.logger.info({ event: 'reflector.watch_error', resource: this.kind.resource, code: obj.code, message: obj.message }, gone ? 'watch history expired; relisting' : 'watch error');
          return;
        }
        this.#loop.resetBackoff();
        if (type === 'BOOKMARK') return;
        const key = objectKey(obj);
        if (!key) return;
        if (type === 'DELETED') this.objects.delete(key);
        else this.objects.set(key, { ...obj, apiVersion: obj.apiVersion ?? this.kind.apiVersion, kind: obj.kind ?? this.kind.kind });
        this.#o.onChange();
      },
      ended: (failure) => {
        clearTimeout(this.#watchdog);
        if (!failure || failure.code === 410) return;
        // A watch that was running and broke is resumed; only a failure to reach the server is one.
        if (established) this.#o.logger.info({ event: 'reflector.watch_dropped', resource: this.kind.resource, err: failure.message }, 'watch dropped; resuming');
        else this.#failed(`watching ${this.kind.resource} failed: ${failure.message}`);
      },
    };
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
