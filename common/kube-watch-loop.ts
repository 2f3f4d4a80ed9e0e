/**
 * The list-then-watch loop that client-go's reflector runs, for the Kubernetes adapters
 * (policy/controller/reflector.ts, trust-anchors/kubernetes-watch.ts): list to learn a
 * resourceVersion, watch from it, follow the resourceVersion of every event and bookmark, and when
 * the stream ends resume from the last one after a capped, jittered backoff, so a dropped
 * connection loses nothing. A 410 Expired (an ERROR event or the watch's own failure) means the
 * history is gone: the next cycle lists again.
 *
 * The loop owns the cycle, the backoff, the resourceVersion and the teardown; each watch belongs to
 * a generation, and the callbacks of a watch that is no longer current (ended, replaced, closed)
 * are dropped before they reach the caller. What is listed, what an event means, what is logged and
 * what counts as healthy are the caller's, through the options below.
 */
import type { Agent } from 'node:http';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelayMs, type Backoff } from './backoff.ts';
import { describeApiFailure, reportingAgents, type ApiFailure } from './kube-client.ts';

/** What the loop itself reads of a watch event's object (an ERROR event's is a Status). */
export interface WatchEventObject {
  code?: number;
  message?: string;
  metadata?: { resourceVersion?: string };
}

/** One watch: where it goes and what to do with what it says. Its callbacks come only while it is current. */
export interface WatchHandlers<T extends WatchEventObject> {
  /** The collection's path: `/api/v1/pods`. */
  path: string;
  /** The query, after the `resourceVersion` the loop puts first. */
  query: Record<string, string | number | boolean>;
  /**
   * Every event, ERROR ones included. The loop has already followed the event's resourceVersion
   * or, for an ERROR with code 410, forgotten it so that the next cycle lists again.
   */
  event(type: string, obj: T): void;
  /** The server answered the watch (its response headers came). */
  established?(): void;
  /**
   * The watch ended: cleanly (`failure` undefined) or not. On a 410 the loop has forgotten the
   * resourceVersion already. The retry is scheduled right after this returns.
   */
  ended(failure: ApiFailure | undefined): void;
}

export interface KubeWatchLoopOptions<T extends WatchEventObject> {
  kubeConfig: KubeConfig;
  backoff: Backoff;
  /** Lists and resolves with the list's resourceVersion. `signal` aborts when the loop is closed. */
  list(signal: AbortSignal): Promise<string>;
  /** A list failed (other than by the loop's closing); a retry follows after the backoff. */
  listFailed(err: unknown): void;
  /** A list succeeded and the loop is still open; the watch from it starts next. */
  listed?(): void;
  /** A new watch is starting. `current` is true until it ends, is replaced or the loop closes. */
  watch(current: () => boolean): WatchHandlers<T>;
}

export class KubeWatchLoop<T extends WatchEventObject> {
  readonly #o: KubeWatchLoopOptions<T>;
  #resourceVersion: string | undefined;
  #attempt = 0;
  #generation = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;
  #agent: Agent | undefined;
  readonly #abort = new AbortController();

  constructor(options: KubeWatchLoopOptions<T>) {
    this.#o = options;
  }

  start(): void {
    void this.#cycle();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.#controller?.abort();
    // A watch still waiting for its response headers has no controller yet; its agent does.
    this.#agent?.destroy();
  }

  /** The next retry waits the initial backoff again. */
  resetBackoff(): void {
    this.#attempt = 0;
  }

  /** Abandons the current watch (nothing more of it reaches the caller) and starts a new cycle at once. */
  replace(): void {
    this.#generation++;
    this.#controller?.abort();
    this.#agent?.destroy();
    void this.#cycle();
  }

  async #cycle(): Promise<void> {
    if (this.#closed) return;
    if (this.#resourceVersion === undefined) {
      try {
        this.#resourceVersion = await this.#o.list(this.#abort.signal);
      } catch (err) {
        if (this.#closed) return;
        this.#o.listFailed(err);
        return this.#retry();
      }
      if (this.#closed) return;
      this.#o.listed?.();
    }
    await this.#watch(this.#resourceVersion);
  }

  async #watch(resourceVersion: string): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#closed;
    let ended = false;
    const handlers = this.#o.watch(current);
    const watch = new Watch(reportingAgents(this.#o.kubeConfig, (agent) => (this.#agent = agent)));
    const query = { resourceVersion, ...handlers.query };
    const onEvent = (type: string, obj: T) => {
      if (!current()) return;
      if (type === 'ERROR') {
        if (obj.code === 410) this.#resourceVersion = undefined;
      } else {
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
      }
      handlers.event(type, obj);
    };
    const onDone = (err: unknown) => {
      if (!current()) return;
      ended = true;
      this.#controller = undefined;
      this.#agent = undefined;
      const failure = err ? describeApiFailure(err) : undefined;
      if (failure?.code === 410) this.#resourceVersion = undefined;
      handlers.ended(failure);
      this.#retry();
    };
    try {
      const controller = await watch.watch(handlers.path, query, onEvent, onDone);
      if (this.#closed) controller.abort();
      else if (current() && !ended) {
        this.#controller = controller;
        handlers.established?.();
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
}
