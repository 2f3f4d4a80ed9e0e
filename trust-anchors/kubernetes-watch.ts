import type { Agent } from 'node:http';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import { describeApiFailure, reportingAgents } from '../common/kube-client.ts';
import { backoffDelayMs } from '../common/backoff.ts';

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

/**
 * The reflector loop for one named object: list to learn a resourceVersion, watch from it, follow
 * the resourceVersion of every event and bookmark, and when the stream ends resume from the last
 * one (with capped exponential backoff). A 410 Expired means the history we need is gone: list
 * again and tell the caller, since changes may have been missed in between.
 */
export class ObjectWatch {
  readonly #o: ObjectWatchOptions;
  #resourceVersion: string | undefined;
  #notifyAfterList = false;
  #attempt = 0;
  #generation = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;
  #agent: Agent | undefined;
  readonly #listAbort = new AbortController();

  constructor(options: ObjectWatchOptions) {
    this.#o = options;
  }

  start(): void {
    void this.#cycle();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#listAbort.abort();
    this.#controller?.abort();
    // A watch still waiting for its response headers has no controller yet; its agent does.
    this.#agent?.destroy();
  }

  async #cycle(): Promise<void> {
    if (this.#closed) return;
    if (this.#resourceVersion === undefined) {
      try {
        this.#resourceVersion = await this.#o.list(this.#listAbort.signal);
      } catch (err) {
        if (this.#closed) return;
        this.#notifyAfterList = true;
        this.#o.logger.warn({ object: this.#o.source, err: describeApiFailure(err).message }, 'listing failed; will retry');
        return this.#retry();
      }
      if (this.#closed) return;
      // The first list only establishes where to watch from; any later one follows a gap.
      if (this.#notifyAfterList) this.#o.onChange();
      this.#notifyAfterList = true;
    }
    await this.#watch(this.#resourceVersion);
  }

  async #watch(resourceVersion: string): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#closed;
    const started = Date.now();
    let healthy = false;
    let ended = false;
    const watch = new Watch(reportingAgents(this.#o.kubeConfig, (agent) => (this.#agent = agent)));
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/${this.#o.resource}`;
    const query = { resourceVersion, fieldSelector: `metadata.name=${this.#o.name}`, allowWatchBookmarks: true };
    const onEvent = (type: string, obj: { code?: number; metadata?: { name?: string; resourceVersion?: string } }) => {
      if (!current()) return;
      if (type === 'ERROR') {
        const gone = obj.code === 410;
        this.#o.logger.info({ object: this.#o.source, code: obj.code }, gone ? 'watch history expired; relisting' : 'watch error');
        if (gone) this.#resourceVersion = undefined;
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.#resourceVersion = rv;
      healthy = true;
      if (type === 'BOOKMARK' || obj.metadata?.name !== this.#o.name) return;
      this.#o.logger.debug({ object: this.#o.source, type, resourceVersion: rv }, 'watch event');
      this.#o.onChange();
    };
    const onDone = (err: unknown) => {
      if (!current()) return;
      ended = true;
      this.#controller = undefined;
      this.#agent = undefined;
      if (err) {
        const failure = describeApiFailure(err);
        if (failure.code === 410) this.#resourceVersion = undefined;
        this.#o.logger.warn({ object: this.#o.source, err: failure.message }, 'watch failed; will resume');
      }
      if (healthy || Date.now() - started >= HEALTHY_MS) this.#attempt = 0;
      this.#retry();
    };
    try {
      const controller = await watch.watch(path, query, onEvent, onDone);
      if (this.#closed) controller.abort();
      else if (current() && !ended) this.#controller = controller;
    } catch (err) {
      // Watch.watch rejects only before it sends anything (no cluster in the kubeconfig, auth plugin failure).
      onDone(err);
    }
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#cycle(), backoffDelayMs(this.#attempt++, this.#o.backoff));
  }
}
