import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import { describeApiFailure } from '../common/kube-client.ts';
import { KubeWatchLoop, type WatchHandlers } from '../common/kube-watch-loop.ts';

export interface Backoff {
  /** Delay before the first retry; doubles per consecutive failure. */
  initialMs: number;
  /** The cap. */
  maxMs: number;
}

export interface ObjectWatchOptions {
  kubeConfig: KubeConfig;
  /** `secrets` or `configmaps`. */
  resource: string;
  namespace: string;
  name: string;
  /** `Secret linkerd/linkerd-identity-issuer`, for logs. */
  source: string;
  /** Lists the object (by name) and resolves with the list's resourceVersion. */
  list(signal: AbortSignal): Promise<string>;
  /** Something may have changed: an event, or a relist after a gap. */
  onChange(): void;
  backoff: Backoff;
  logger: Logger;
}

/** A watch that has been healthy this long resets the backoff even if it saw no event. */
const HEALTHY_MS = 60_000;

/** An event's object: the watched object, or (for ERROR) a Status. */
interface WatchObject {
  code?: number;
  metadata?: { name?: string; resourceVersion?: string };
}

/**
 * The reflector loop for one named object: list to learn a resourceVersion, watch from it, follow
 * the resourceVersion of every event and bookmark, and when the stream ends resume from the last
 * one (with capped exponential backoff). A 410 Expired means the history we need is gone: list
 * again and tell the caller, since changes may have been missed in between. The loop itself is
 * common/kube-watch-loop.ts.
 */
export class ObjectWatch {
  readonly #o: ObjectWatchOptions;
  readonly #loop: KubeWatchLoop<WatchObject>;
  #notifyAfterList = false;

  constructor(options: ObjectWatchOptions) {
    this.#o = options;
    this.#loop = new KubeWatchLoop<WatchObject>({
      kubeConfig: options.kubeConfig,
      backoff: options.backoff,
      list: (signal) => this.#o.list(signal),
      listFailed: (err) => {
        this.#notifyAfterList = true;
        this.#o.logger.warn({ object: this.#o.source, err: describeApiFailure(err).message }, 'listing failed; will retry');
      },
      listed: () => {
        // The first list only establishes where to watch from; any later one follows a gap.
        if (this.#notifyAfterList) this.#o.onChange();
        this.#notifyAfterList = true;
      },
      watch: () => this.#watch(),
    });
  }

  start(): void {
    this.#loop.start();
  }

  close(): void {
    this.#loop.close();
  }

  #watch(): WatchHandlers<WatchObject> {
    const started = Date.now();
    let healthy = false;
    return {
      path: `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/${this.#o.resource}`,
      query: { fieldSelector: `metadata.name=${this.#o.name}`, allowWatchBookmarks: true },
      event: (type, obj) => {
        if (type === 'ERROR') {
          const gone = obj.code === 410;
          this.#o.logger.info({ object: this.#o.source, code: obj.code }, gone ? 'watch history expired; relisting' : 'watch error');
          return;
        }
        healthy = true;
        if (type === 'BOOKMARK' || obj.metadata?.name !== this.#o.name) return;
        this.#o.logger.debug({ object: this.#o.source, type, resourceVersion: obj.metadata?.resourceVersion }, 'watch event');
        this.#o.onChange();
      },
      ended: (failure) => {
        if (failure) this.#o.logger.warn({ object: this.#o.source, err: failure.message }, 'watch failed; will resume');
        if (healthy || Date.now() - started >= HEALTHY_MS) this.#loop.resetBackoff();
      },
    };
  }
}
