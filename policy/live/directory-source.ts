/**
 * A pod's policy from local files: policy YAML in files and directories (a mounted ConfigMap,
 * a checkout), watched, and applied again on every change. For a proxy without a policy
 * controller, and for the local mesh.
 *
 * - Changes are seen through fs.watch on every directory involved, and a poll of sizes and
 *   mtimes in case a watch misses one (network file systems, a directory replaced); a change
 *   applies after a short debounce, so a file is read once its writer is done.
 * - An invalid edit never applies: the last good policy stays in force, the problems are logged
 *   as kubectl would print them, and the status turns stale until the files are valid again.
 * - Missing paths at start leave the default policy deciding (fail closed), with the reason in
 *   the status, until they appear.
 */
import { watch, type FSWatcher } from 'node:fs';
import { NotFoundError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { PolicyIndex } from '../evaluator/policy-index.ts';
import type { EvaluatorConfig } from '../evaluator/types.ts';
import { loadResources } from '../resources/load.ts';
import { formatProblem, PolicyValidationError } from '../resources/problems.ts';
import type { ResourceSet } from '../resources/types.ts';
import { scanPaths } from './directory-scan.ts';
import { defaultDecider, indexDecider, LivePodPolicy } from './pod-policy.ts';

export const DEFAULT_POLL_INTERVAL_MS = 500;
export const DEFAULT_DEBOUNCE_MS = 75;

export interface PolicyDirectoryOptions {
  /** Files and directories of policy YAML or JSON (walked recursively). */
  paths: string[];
  /** `NS/NAME` of the pod whose inbound policy this is. */
  pod: string;
  /** `config.defaultPolicy` decides until the files load, and for a pod they do not describe. */
  config: EvaluatorConfig;
  logger: Logger;
  pollIntervalMs?: number;
  debounceMs?: number;
}

/**
 * Loads the files once (resolving after that first attempt, whatever its outcome), then keeps
 * the returned policy in step with them until it is closed.
 *
 * @example
 * const policy = await watchPolicyDirectory({ paths: ['/etc/policy'], pod: 'demo/api-0', config: defaultEvaluatorConfig({ defaultPolicy: 'deny' }), logger });
 * policy.decide({ clientIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local', clientIp: '10.0.0.7', targetPort: 8080 });
 */
export async function watchPolicyDirectory(options: PolicyDirectoryOptions): Promise<LivePodPolicy> {
  const watcher = new DirectoryWatcher(options);
  await watcher.start();
  return watcher.live;
}

class DirectoryWatcher {
  readonly live: LivePodPolicy;
  readonly #o: PolicyDirectoryOptions;
  readonly #logger: Logger;
  readonly #where: string;
  #index: PolicyIndex | undefined;
  /** The scan signature of the files last loaded (or last found invalid): unchanged files are not read again. */
  #loadedSignature: string | undefined;
  #watchers = new Map<string, { ino: number; watcher: FSWatcher }>();
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #polling = false;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: PolicyDirectoryOptions) {
    this.#o = options;
    this.#where = options.paths.join(', ');
    this.#logger = options.logger.child({ component: 'policy-directory', paths: options.paths, pod: options.pod });
    const { defaultPolicy } = options.config;
    this.live = new LivePodPolicy({
      source: `directory ${this.#where}`,
      fallback: defaultDecider(defaultPolicy, options.config, options.pod),
      fallbackDetail: `no policy loaded yet from ${this.#where}; default policy ${defaultPolicy} decides`,
    });
    this.live.onClose(() => this.#close());
  }

  async start(): Promise<void> {
    await this.#reload();
    if (this.#closed) return;
    this.#poll = setInterval(() => void this.#pollOnce(), this.#o.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.#poll.unref();
  }

  /** A change was seen: reload once the writer is likely done. */
  #schedule(): void {
    if (this.#closed || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#reload();
    }, this.#o.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  async #pollOnce(): Promise<void> {
    if (this.#polling || this.#running || this.#closed) return;
    this.#polling = true;
    try {
      const scan = await scanPaths(this.#o.paths);
      if (scan.signature !== this.#loadedSignature) this.#schedule();
    } finally {
      this.#polling = false;
    }
  }

  /** One load at a time; a change seen during a load runs one more after it. */
  #reload(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#loadOnce().catch((err: unknown) => this.#logger.error({ event: 'policy.reload_failed', err }, 'policy reload failed unexpectedly'));
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #loadOnce(): Promise<void> {
    const scan = await scanPaths(this.#o.paths);
    if (this.#closed) return;
    this.#rewatch(scan.directories);
    if (scan.signature === this.#loadedSignature) return;
    this.#loadedSignature = scan.signature;
    const { pod, config } = this.#o;
    let loaded, index;
    try {
      loaded = await loadResources(this.#o.paths);
      if (this.#closed) return;
      index = PolicyIndex.build(loaded.resources, config, this.#index);
    } catch (err) {
      return this.#refused(err);
    }
    this.#index = index;
    const what = `${countOf(loaded.resources)} resources in ${loaded.files.length} files from ${this.#where}`;
    if (index.hasPod(pod)) {
      this.live.apply(indexDecider(index, pod), `${what}; pod ${pod} found`);
    } else {
      this.live.apply(defaultDecider(config.defaultPolicy, config, pod), `${what}; pod ${pod} is not among them, so default policy ${config.defaultPolicy} decides`);
    }
    const status = this.live.status();
    this.#logger.info(
      { event: 'policy.applied', generation: status.generation, detail: status.detail, conflicts: index.conflicts.length, notes: index.notes },
      `policy applied (generation ${status.generation})`,
    );
  }

  /** Files that do not load: nothing applies, and the status says why. Never silent. */
  #refused(err: unknown): void {
    let detail: string;
    if (err instanceof PolicyValidationError) {
      const problems = err.problems.map(formatProblem);
      detail = `invalid policy in ${this.#where} (${problems.length} problem${problems.length === 1 ? '' : 's'}; first: ${problems[0]})`;
      this.#logger.error({ event: 'policy.invalid', problems }, err.message);
    } else if (err instanceof NotFoundError) {
      detail = err.message;
      this.#logger.warn({ event: 'policy.missing', reason: err.message }, `${err.message}; waiting for it to appear`);
    } else {
      detail = `cannot read the policy in ${this.#where}: ${(err as Error).message}`;
      this.#logger.error({ event: 'policy.unreadable', err }, detail);
    }
    this.live.unreachable(detail);
  }

  /** Watches exactly the directories of the last scan; one replaced (new inode) is watched anew. */
  #rewatch(directories: ReadonlyMap<string, number>): void {
    for (const [dir, entry] of this.#watchers) {
      if (directories.get(dir) !== entry.ino) {
        entry.watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const [dir, ino] of directories) {
      if (this.#watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#schedule());
        // A watch that fails (the directory went away) is dropped; the poll still sees changes.
        watcher.on('error', () => {
          watcher.close();
          if (this.#watchers.get(dir)?.watcher === watcher) this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, { ino, watcher });
      } catch {
        // Not watchable (gone since the scan, or too many watches): the poll covers it.
      }
    }
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    for (const { watcher } of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    await this.#running;
  }
}

function countOf(resources: ResourceSet): number {
  return Object.values(resources).reduce((n: number, list: unknown[]) => n + list.length, 0);
}
