import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { Subscription, TrustStore } from '../trust-anchors/store.ts';
import { validateBundle, validateIssuer, type Issuer, type TrustBundle } from '../trust-anchors/trust.ts';

export interface TrustSnapshot {
  bundle: TrustBundle;
  issuer: Issuer;
}

/** Loads and validates the bundle and the issuer from a store, as one snapshot. */
export async function loadTrust(store: TrustStore, clock: Clock): Promise<TrustSnapshot> {
  const now = clock.now();
  const bundle = validateBundle(await store.readBundle(), now);
  const issuer = validateIssuer(await store.readIssuer(), bundle, now);
  return { bundle, issuer };
}

export interface IssuerReloaderOptions {
  store: TrustStore;
  clock: Clock;
  logger: Logger;
  /** Called with a validated snapshot that differs from the one in service. */
  apply(snapshot: TrustSnapshot): void;
  /** Called for every attempt, so that a missed rotation is never silent (Linkerd 15109). */
  onAttempt?(result: 'applied' | 'unchanged' | 'refused', detail?: string): void;
}

/**
 * Watches the store and swaps a new issuer in once it validates. An invalid replacement is
 * refused, logged and counted, and the issuer in service stays. Reloads are serialized: a change
 * that arrives during a reload triggers exactly one more.
 */
export class IssuerReloader {
  readonly #o: IssuerReloaderOptions;
  #current: TrustSnapshot;
  #subscription: Subscription | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(initial: TrustSnapshot, options: IssuerReloaderOptions) {
    this.#current = initial;
    this.#o = options;
  }

  get current(): TrustSnapshot {
    return this.#current;
  }

  start(): void {
    this.#subscription = this.#o.store.watch(() => void this.reload());
  }

  /** Re-reads the store now; resolves when this reload (and any queued one) has finished. */
  reload(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#reloadOnce();
      } while (this.#again);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #reloadOnce(): Promise<void> {
    const { logger, onAttempt } = this.#o;
    let next: TrustSnapshot;
    try {
      next = await loadTrust(this.#o.store, this.#o.clock);
    } catch (err) {
      const detail = (err as Error).message;
      logger.error({ event: 'issuer_reload_refused', reason: detail, store: this.#o.store.description }, 'refused the new trust material; the issuer in service stays');
      onAttempt?.('refused', detail);
      return;
    }
    const old = this.#current;
    if (next.issuer.certificate.fingerprint === old.issuer.certificate.fingerprint && next.bundle.fingerprint === old.bundle.fingerprint) {
      onAttempt?.('unchanged');
      return;
    }
    this.#current = next;
    this.#o.apply(next);
    logger.info(
      {
        event: 'issuer_reloaded',
        oldIssuer: old.issuer.certificate.fingerprint,
        newIssuer: next.issuer.certificate.fingerprint,
        oldBundle: old.bundle.fingerprint,
        newBundle: next.bundle.fingerprint,
        issuerNotAfter: next.issuer.notAfter.toISOString(),
      },
      'issuer reloaded',
    );
    onAttempt?.('applied');
  }

  close(): void {
    this.#subscription?.close();
  }
}
