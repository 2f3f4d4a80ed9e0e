/**
 * The proxy's identity client: obtains this workload's certificate from the identity service and
 * keeps it fresh. Each attempt re-reads the token, makes a fresh key, and delivers checked
 * credentials to the data plane's sink; a failure leaves the current credentials in force.
 */
import { CertifyCallError, createCertifyClient, type CertifyClient } from '../../identity/grpc/client.ts';
import { certifyOnce, IdentityRenewalError, readTokenFile } from './attempt.ts';
import type { IdentityClientOptions, IdentityClientStatus } from './options.ts';
import { DEFAULT_MAX_REFRESH_MS, DEFAULT_MIN_REFRESH_MS, DEFAULT_RETRY_MIN_MS, refreshDelayMs, retryDelayMs } from './schedule.ts';
import type { CredentialsSink, IssuedCredentials } from './types.ts';

// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); cap rather than spin.
const MAX_TIMER_MS = 2 ** 31 - 1;
const noop = (): void => {};

/**
 * @example
 * const client = new IdentityClient({ localIdentity, tokenFile, service: { address, serverIdentity },
 *   trustBundlePem: () => bundle.pem, clock: systemClock, logger }, (c) => tls.publish(c));
 * client.start();
 * // ... client.ready, client.status(), await client.renewNow() on anchor rotation
 * await client.stop();
 */
export class IdentityClient {
  readonly #o: IdentityClientOptions & { minRefreshMs: number; maxRefreshMs: number; retryMinMs: number; random: () => number };
  readonly #sink: CredentialsSink;
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #channel: { pem: string; client: CertifyClient } | undefined;
  #status: IdentityClientStatus = { renewals: 0, failures: 0, consecutiveFailures: 0 };

  constructor(options: IdentityClientOptions, sink: CredentialsSink) {
    if (!options.localIdentity) throw new TypeError('localIdentity is required');
    if (!options.tokenFile) throw new TypeError('tokenFile is required');
    const minRefreshMs = options.minRefreshMs ?? DEFAULT_MIN_REFRESH_MS;
    const maxRefreshMs = options.maxRefreshMs ?? DEFAULT_MAX_REFRESH_MS;
    const retryMinMs = options.retryMinMs ?? Math.min(DEFAULT_RETRY_MIN_MS, minRefreshMs);
    // Misconfigured bounds fail here, at construction, not at the first renewal.
    retryDelayMs(1, { minMs: retryMinMs, maxMs: minRefreshMs, random: () => 0 });
    refreshDelayMs({ notAfter: new Date(0), now: new Date(0), minMs: minRefreshMs, maxMs: maxRefreshMs, random: () => 0 });
    this.#o = { ...options, minRefreshMs, maxRefreshMs, retryMinMs, random: options.random ?? Math.random };
    this.#sink = sink;
  }

  /** True once the sink has accepted credentials; it stays true (old credentials stay in force). */
  get ready(): boolean {
    return this.#status.renewals > 0;
  }

  status(): IdentityClientStatus {
    const s = this.#status;
    return { ...s, ...(s.current ? { current: { ...s.current } } : {}) };
  }

  /** Starts the loop with an attempt at once. Idempotent; throws TypeError after stop(). */
  start(): void {
    if (this.#stopped) throw new TypeError('the identity client is stopped');
    if (this.#started) return;
    this.#started = true;
    this.#launch('start').catch(noop);
  }

  /**
   * An attempt now (e.g. after the trust bundle changed), in place of the scheduled one. If an
   * attempt is running, this one starts after it, so that it sees the newest bundle and token;
   * calls made meanwhile share it. Resolves when it succeeds, rejects with its error. Starts the
   * loop if start() was not called.
   */
  renewNow(): Promise<void> {
    if (this.#stopped) return Promise.reject(new IdentityRenewalError('stopped', 'the identity client is stopped'));
    this.#started = true;
    const running = this.#running;
    if (!running) return this.#launch('renew-now');
    this.#queued ??= running.then(noop, noop).then(() => {
      this.#queued = undefined;
      if (this.#stopped) throw new IdentityRenewalError('stopped', 'the identity client is stopped');
      return this.#launch('renew-now');
    });
    return this.#queued;
  }

  /**
   * Cancels the schedule and closes the channel; nothing is delivered afterwards. Idempotent.
   * Resolves once an attempt in flight (if any) has settled.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    delete this.#status.nextAttemptAt;
    this.#dropChannel();
    return (this.#running ?? Promise.resolve()).then(noop, noop);
  }

  #launch(trigger: string): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    delete this.#status.nextAttemptAt;
    const run = this.#attempt(trigger).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #attempt(trigger: string): Promise<void> {
    let credentials: IssuedCredentials;
    try {
      const token = await readTokenFile(this.#o.tokenFile);
      // Checked after each await, so that a stop() meanwhile opens no channel and delivers nothing.
      if (this.#stopped) throw stoppedDuringAttempt();
      const client = this.#clientForCurrentBundle();
      credentials = await certifyOnce({ localIdentity: this.#o.localIdentity, token, client, clock: this.#o.clock });
      if (this.#stopped) throw stoppedDuringAttempt();
      try {
        this.#sink(credentials);
      } catch (err) {
        throw new IdentityRenewalError('sink', `the data plane refused the credentials: ${messageOf(err)}`, { cause: err });
      }
    } catch (err) {
      const failure = err instanceof IdentityRenewalError ? err : new IdentityRenewalError('internal', messageOf(err), { cause: err });
      // A new channel at the next attempt: grpc-js's own reconnect backoff (up to 120 s) would
      // otherwise keep failing calls fast after the service is back; ours is the only backoff.
      if (failure.stage === 'certify' || this.#stopped) this.#dropChannel();
      if (!this.#stopped) this.#failed(failure, trigger);
      throw failure;
    }
    this.#succeeded(credentials, trigger);
  }

  #clientForCurrentBundle(): CertifyClient {
    let pem: string;
    let client: CertifyClient;
    try {
      pem = this.#o.trustBundlePem();
      if (this.#channel?.pem === pem) return this.#channel.client;
      client = createCertifyClient({ ...this.#o.service, trustBundlePem: pem, ...(this.#o.timeoutMs ? { timeoutMs: this.#o.timeoutMs } : {}) });
    } catch (err) {
      throw new IdentityRenewalError('bundle', `the trust bundle is unusable: ${messageOf(err)}`, { cause: err });
    }
    // The bundle changed (anchor rotation): the old channel trusts the old anchors only.
    this.#dropChannel();
    this.#channel = { pem, client };
    return client;
  }

  #dropChannel(): void {
    this.#channel?.client.close();
    this.#channel = undefined;
  }

  #succeeded(credentials: IssuedCredentials, trigger: string): void {
    const now = this.#o.clock.now();
    const s = this.#status;
    s.renewals += 1;
    s.consecutiveFailures = 0;
    s.lastSuccessAt = now;
    s.current = { serialHex: credentials.serialHex, notAfter: credentials.notAfter };
    const { minRefreshMs: minMs, maxRefreshMs: maxMs, random } = this.#o;
    const delay = refreshDelayMs({ notBefore: credentials.notBefore, notAfter: credentials.notAfter, now, minMs, maxMs, random });
    this.#schedule(delay, now);
    const { identity, serialHex: serial, notAfter } = credentials;
    this.#o.logger.info({ event: 'identity_client.renewed', identity, serial, notAfter, trigger, refreshInMs: delay }, 'certificate obtained');
    this.#hook('onRenewed', () => this.#o.onRenewed?.(credentials));
  }

  #failed(failure: IdentityRenewalError, trigger: string): void {
    const now = this.#o.clock.now();
    const s = this.#status;
    s.failures += 1;
    s.consecutiveFailures += 1;
    s.lastError = failure.message;
    s.lastFailureAt = now;
    const delay = retryDelayMs(s.consecutiveFailures, { minMs: this.#o.retryMinMs, maxMs: this.#o.minRefreshMs, random: this.#o.random });
    this.#schedule(delay, now);
    const grpcStatus = failure.cause instanceof CertifyCallError ? failure.cause.grpcStatus : undefined;
    const { stage, message: reason } = failure;
    this.#o.logger.warn(
      { event: 'identity_client.renewal_failed', identity: this.#o.localIdentity, stage, grpcStatus, reason, trigger,
        consecutiveFailures: s.consecutiveFailures, retryInMs: delay, keepingCurrent: s.current?.serialHex ?? null },
      'certificate renewal failed; keeping the current certificate',
    );
    this.#hook('onFailure', () => this.#o.onFailure?.(failure.message, failure.stage));
  }

  #schedule(delayMs: number, now: Date): void {
    const ms = Math.min(delayMs, MAX_TIMER_MS);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#launch('schedule').catch(noop);
    }, ms);
    // The client must never be what keeps a process alive.
    this.#timer.unref();
    this.#status.nextAttemptAt = new Date(now.getTime() + ms);
  }

  #hook(name: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#o.logger.error({ event: 'identity_client.hook_failed', hook: name, reason: messageOf(err) }, 'identity client hook threw');
    }
  }
}

function stoppedDuringAttempt(): IdentityRenewalError {
  return new IdentityRenewalError('stopped', 'the identity client was stopped during the attempt');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
