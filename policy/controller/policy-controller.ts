/**
 * The Kubernetes policy controller: Pods, Namespaces, ServiceAccounts and Linkerd's five policy
 * kinds watched in every namespace, and on every change a new policy index, built from the
 * previous one (so a change costs its namespace). Changes are gathered for a moment (50 ms by
 * default) so that a burst builds once. Until every collection has been listed the controller
 * serves nothing: a partial view would decide wrongly. When the API server cannot be reached, the
 * last index stays in use; the logs, `status()` and the metrics say so.
 */
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { UnavailableError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { PolicyIndex } from '../evaluator/policy-index.ts';
import type { EvaluatorConfig } from '../evaluator/types.ts';
import { watchedKinds, type WatchedKind } from './kinds.ts';
import type { ControllerMetrics } from './metrics.ts';
import { ParsedResources } from './parsed-resources.ts';
import { Reflector, type Backoff } from './reflector.ts';

export interface PolicyControllerOptions {
  kubeConfig: KubeConfig;
  config: EvaluatorConfig;
  logger: Logger;
  metrics?: ControllerMetrics;
  /** How long changes are gathered before a build; default 50 ms (at most 100 ms is sensible). */
  debounceMs?: number;
  /** Relist and rewatch delays; default 200 ms doubling to 30 s, jittered. */
  backoff?: Backoff;
  /** Deadline of each list request; default 30 s. */
  listTimeoutMs?: number;
  /** The collections to watch; the eight of `watchedKinds` by default (tests may narrow them). */
  kinds?: WatchedKind[];
}

export interface CollectionStatus {
  resource: string;
  listed: boolean;
  reachable: boolean;
  objects: number;
  lastError?: string;
}

export interface ControllerStatus {
  ready: boolean;
  /** False while any collection cannot be listed or watched. */
  reachable: boolean;
  collections: CollectionStatus[];
  /** Objects left out because they do not validate. */
  invalid: number;
  /** Pods in the index in use (0 before the first). */
  pods: number;
  builds: number;
}

export class PolicyController {
  readonly #o: PolicyControllerOptions;
  readonly #reflectors: Reflector[];
  readonly #parsed: ParsedResources;
  readonly #subscribers = new Set<(index: PolicyIndex) => void>();
  #waiting: Array<{ resolve: (index: PolicyIndex) => void; reject: (err: Error) => void }> = [];
  #index: PolicyIndex | undefined;
  #timer: NodeJS.Timeout | undefined;
  #builds = 0;
  #invalid = 0;
  #reachable = true;
  #notes = new Set<string>();
  #closed = false;

  constructor(options: PolicyControllerOptions) {
    this.#o = options;
    this.#parsed = new ParsedResources(options.logger);
    const kinds = options.kinds ?? watchedKinds(options.kubeConfig);
    this.#reflectors = kinds.map(
      (kind) =>
        new Reflector({
          kubeConfig: options.kubeConfig,
          kind,
          backoff: options.backoff ?? { initialMs: 200, maxMs: 30_000 },
          listTimeoutMs: options.listTimeoutMs ?? 30_000,
          logger: options.logger,
          onChange: () => this.#schedule(),
          onStatus: () => this.#statusChanged(),
        }),
    );
    options.metrics?.ready.set(0);
    for (const r of this.#reflectors) options.metrics?.reachable.set({ resource: r.kind.resource }, 1);
  }

  start(): void {
    for (const r of this.#reflectors) r.start();
  }

  get ready(): boolean {
    return this.#index !== undefined;
  }

  /** The index in use; undefined until every collection has been listed. */
  current(): PolicyIndex | undefined {
    return this.#index;
  }

  /** Resolves with the first index; rejects if `signal` aborts or the controller closes first. */
  whenReady(signal?: AbortSignal): Promise<PolicyIndex> {
    if (this.#index) return Promise.resolve(this.#index);
    if (this.#closed) return Promise.reject(new UnavailableError('the policy controller is closed'));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiting.push(waiter);
      signal?.addEventListener('abort', () => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(new UnavailableError('cancelled while waiting for the policy controller'));
      }, { once: true });
    });
  }

  /** `onIndex` runs after every build with the new index; returns the unsubscribe function. */
  subscribe(onIndex: (index: PolicyIndex) => void): () => void {
    this.#subscribers.add(onIndex);
    return () => this.#subscribers.delete(onIndex);
  }

  status(): ControllerStatus {
    return {
      ready: this.ready,
      reachable: this.#reflectors.every((r) => r.healthy),
      collections: this.#reflectors.map((r) => ({
        resource: r.kind.resource,
        listed: r.listed,
        reachable: r.healthy,
        objects: r.objects.size,
        ...(r.healthy || r.lastError === undefined ? {} : { lastError: r.lastError }),
      })),
      invalid: this.#invalid,
      pods: this.#index?.podCount ?? 0,
      builds: this.#builds,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const r of this.#reflectors) r.close();
    for (const w of this.#waiting) w.reject(new UnavailableError('the policy controller is closed'));
    this.#waiting = [];
    this.#subscribers.clear();
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#build();
    }, this.#o.debounceMs ?? 50);
  }

  #build(): void {
    if (this.#closed || !this.#reflectors.every((r) => r.listed)) return;
    const { logger, metrics, config } = this.#o;
    const started = performance.now();
    let index: PolicyIndex;
    try {
      const { resources, invalid } = this.#parsed.assemble(this.#reflectors);
      index = PolicyIndex.build(resources, config, this.#index);
      this.#invalid = 0;
      for (const [resource, n] of invalid) {
        this.#invalid += n;
        metrics?.invalid.set({ resource }, n);
      }
    } catch (err) {
      // A bug of ours: keep serving the last index rather than nothing.
      logger.error({ event: 'index.build_failed', err }, 'building the policy index failed; keeping the last one');
      return;
    }
    const first = this.#index === undefined;
    this.#index = index;
    this.#builds++;
    const seconds = (performance.now() - started) / 1000;
    metrics?.builds.inc();
    metrics?.buildDuration.observe(seconds);
    metrics?.pods.set(index.podCount);
    metrics?.builtAt.set(Date.now() / 1000);
    for (const r of this.#reflectors) metrics?.objects.set({ resource: r.kind.resource }, r.objects.size);
    this.#logNotes(index);
    if (first) {
      metrics?.ready.set(1);
      logger.info({ event: 'controller.ready', pods: index.podCount, invalid: this.#invalid, ms: Math.round(seconds * 1000) }, 'every collection listed; serving policy');
      for (const w of this.#waiting) w.resolve(index);
      this.#waiting = [];
    } else {
      logger.debug({ event: 'index.built', pods: index.podCount, ms: Math.round(seconds * 1000) }, 'policy index rebuilt');
    }
    for (const fn of [...this.#subscribers]) {
      try {
        fn(index);
      } catch (err) {
        logger.error({ event: 'index.subscriber_failed', err }, 'a policy subscriber failed');
      }
    }
  }

  /** Notes (void policies, Server conflicts, bad annotations) are logged once, when they appear. */
  #logNotes(index: PolicyIndex): void {
    const now = new Set(index.notes);
    for (const note of now) if (!this.#notes.has(note)) this.#o.logger.info({ event: 'policy.note', note }, note);
    this.#notes = now;
  }

  #statusChanged(): void {
    const { logger, metrics } = this.#o;
    for (const r of this.#reflectors) metrics?.reachable.set({ resource: r.kind.resource }, r.healthy ? 1 : 0);
    const reachable = this.#reflectors.every((r) => r.healthy);
    if (reachable === this.#reachable) {
      const failing = this.#reflectors.find((r) => !r.healthy);
      if (failing) logger.debug({ event: 'api_server.still_unreachable', error: failing.lastError }, 'API server still unreachable');
      return;
    }
    this.#reachable = reachable;
    if (reachable) logger.info({ event: 'api_server.reachable' }, 'the API server answers again');
    else {
      const errors = this.#reflectors.filter((r) => !r.healthy).map((r) => r.lastError);
      logger.warn({ event: 'api_server.unreachable', errors, keeping: this.#index ? 'the last index' : 'nothing yet (not ready)' }, 'the API server cannot be reached; the last policy index stays in use');
    }
  }
}
