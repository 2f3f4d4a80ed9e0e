/**
 * Watches the trust bundle file and hands each changed, valid bundle to the CredentialStore.
 * Polls the file's content rather than using fs.watch: a mounted ConfigMap changes by swapping a
 * `..data` symlink, which inode watches miss, and reading a few KiB every second costs nothing.
 * See store.ts for why reloading is safe, and which conditions make it so.
 */
import { readFile } from 'node:fs/promises';
import type { Clock } from '../../common/clock.ts';
import { NotFoundError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { validateBundle, type TrustBundle } from '../../trust-anchors/trust.ts';
import type { CredentialStore } from './store.ts';

export const BUNDLE_RELOAD_RESULTS = ['applied', 'invalid', 'refused'] as const;
export type BundleReloadResult = (typeof BUNDLE_RELOAD_RESULTS)[number] | 'unchanged';

/** Reads and validates the bundle file; refuses a missing file or an invalid bundle. */
export async function readBundleFile(path: string, now: Date): Promise<{ text: string; bundle: TrustBundle }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new NotFoundError(`trust bundle file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  return { text, bundle: validateBundle({ pem: text, source: path }, now) };
}

export interface BundleFileWatcherOptions {
  path: string;
  /** The text of the bundle in force at start, so that the first poll sees no change. */
  initialText: string;
  store: CredentialStore;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** Every result except `unchanged`, for the reload counter. */
  onResult?: (result: Exclude<BundleReloadResult, 'unchanged'>) => void;
}

export class BundleFileWatcher {
  readonly #options: BundleFileWatcherOptions;
  #inForceText: string;
  /** The last refused or invalid text, and the certificate it was judged with: judged once, not every poll. */
  #rejected: { text: string; leaf: string | undefined } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<BundleReloadResult> | undefined;

  constructor(options: BundleFileWatcherOptions) {
    this.#options = options;
    this.#inForceText = options.initialText;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.checkNow().catch((err: unknown) =>
        this.#options.logger.error({ event: 'meshtls.bundle_check_failed', err }, 'checking the trust bundle file failed unexpectedly'),
      );
    }, this.#options.intervalMs);
    this.#timer.unref(); // the listeners keep the process alive, not this poll
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the file now; concurrent calls share one check. */
  checkNow(): Promise<BundleReloadResult> {
    this.#running ??= this.#check().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #check(): Promise<BundleReloadResult> {
    const { path, store, logger, clock } = this.#options;
    const leaf = store.snapshot().tls?.leaf.fingerprint;
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => err);
    if (typeof text === 'string' && (text === this.#inForceText || (this.#rejected?.text === text && this.#rejected.leaf === leaf))) {
      return 'unchanged';
    }
    const old = store.bundle().fingerprint;
    let bundle: TrustBundle;
    try {
      if (typeof text !== 'string') throw new NotFoundError(`trust bundle file ${path} cannot be read (${text.code ?? 'error'})`);
      bundle = validateBundle({ pem: text, source: path }, clock.now());
    } catch (err) {
      const key = typeof text === 'string' ? text : `error:${text.code}`;
      if (this.#rejected?.text === key && this.#rejected.leaf === leaf) return 'unchanged';
      this.#rejected = { text: key, leaf };
      logger.error({ event: 'meshtls.bundle_invalid', path, old, reason: (err as Error).message }, 'trust bundle file is invalid; the bundle in force stays');
      this.#options.onResult?.('invalid');
      return 'invalid';
    }
    if (bundle.fingerprint === old) {
      this.#inForceText = text; // reformatted or commented, same anchors
      return 'unchanged';
    }
    try {
      store.applyBundle(bundle);
    } catch (err) {
      this.#rejected = { text, leaf };
      logger.error(
        { event: 'meshtls.bundle_refused', path, old, new: bundle.fingerprint, reason: (err as Error).message },
        "trust bundle refused: this proxy's own certificate does not chain to it; the bundle in force stays",
      );
      this.#options.onResult?.('refused');
      return 'refused';
    }
    this.#inForceText = text;
    this.#rejected = undefined;
    logger.info({ event: 'meshtls.bundle_applied', path, old, new: bundle.fingerprint, anchors: bundle.anchors.length }, 'trust bundle changed; applied to new handshakes');
    this.#options.onResult?.('applied');
    return 'applied';
  }
}
