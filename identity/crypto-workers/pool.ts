/**
 * A pool of worker threads for the CPU-heavy, stateless part of a Certify request: parsing the
 * CSR, importing its key and verifying its signature. The main thread keeps the transport, the
 * token check, the rules, signing and the ledger.
 *
 * The authority does not know about threads: the pool is a CsrVerifier, like the in-thread one.
 *
 * Jobs go to the ready worker with the fewest jobs in hand (ties taken in turn). The pool holds at
 * most `maxPending` jobs; beyond that a request is refused with UNAVAILABLE (retry), never queued
 * without bound. A worker that dies is replaced (with a growing delay if replacements keep dying
 * at once); the jobs it had in hand fail with UnavailableError, so the client gets UNAVAILABLE and
 * retries, never INTERNAL. `close` terminates every worker.
 *
 * The local token check (jose) stays on the main thread: jose verifies through WebCrypto, which
 * already runs the signature on libuv's pool, and posting it to a worker measured slower (c16:
 * 1,390-1,440/s with it on the worker, 1,555-1,590/s without, Node 20, 2 cores).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InternalError, InvalidArgumentError, UnavailableError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { CsrVerifier, VerifiedCsr } from '../authority/csr-verifier.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const WORKER_URL = new URL('./worker.mjs', import.meta.url);
const DEFAULT_MAX_PENDING = 1024;
const DEFAULT_START_TIMEOUT_MS = 30_000;
/** A worker that dies within this long of its start counts as failing at once (backoff). */
const FAST_FAILURE_MS = 1_000;
const MAX_RESTART_DELAY_MS = 5_000;

/** The default pool size: every core but one (the main thread's), and at least one. */
export function defaultCryptoWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

export interface CryptoWorkerPoolOptions {
  /** Number of worker threads, at least 1. */
  size: number;
  /** Most jobs in hand or waiting, pool-wide; beyond it requests fail with UNAVAILABLE. Default 1024. */
  maxPending?: number;
  logger?: Logger;
  /** How long a worker may take to load. Default 30 s. */
  startTimeoutMs?: number;
  /** The worker entry point; for tests (a worker that misbehaves). Default: ./worker.mjs. */
  workerUrl?: URL;
}

export interface CryptoWorkerPoolStats {
  size: number;
  /** Workers loaded and taking jobs. */
  ready: number;
  /** Jobs in hand or waiting. */
  pending: number;
  /** Workers replaced after they died. */
  restarts: number;
}

interface Job {
  id: number;
  message: ToWorker;
  transfer: ArrayBuffer[];
  resolve(reply: FromWorker): void;
  reject(err: Error): void;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  inFlight: Map<number, Job>;
  startedAt: number;
  /** Consecutive deaths soon after start; drives the restart delay. */
  fastFailures: number;
  lastError: Error | undefined;
  timers: Set<NodeJS.Timeout>;
}

export class CryptoWorkerPool implements CsrVerifier {
  readonly #o: Required<Omit<CryptoWorkerPoolOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #slots: Slot[];
  /** Jobs that arrived while no worker was ready but one was starting. */
  #backlog: Job[] = [];
  #pending = 0;
  #nextId = 1;
  #turn = 0;
  #restarts = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Until every worker has loaded once: start() waits on it, and a failure fails start(). */
  #initial: { left: number; resolve: () => void; reject: (err: Error) => void } | undefined;

  private constructor(options: CryptoWorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`crypto worker pool size must be a whole number >= 1, not ${options.size}`);
    this.#o = {
      size: options.size,
      maxPending: options.maxPending ?? DEFAULT_MAX_PENDING,
      startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      workerUrl: options.workerUrl ?? WORKER_URL,
    };
    this.#log = options.logger ?? silentLogger;
    this.#slots = Array.from({ length: options.size }, (_, index) => ({
      index,
      worker: undefined,
      ready: false,
      inFlight: new Map(),
      startedAt: 0,
      fastFailures: 0,
      lastError: undefined,
      timers: new Set(),
    }));
  }

  /** Starts `size` workers and resolves once all have loaded; rejects (leaving nothing running) if one fails to. */
  static async start(options: CryptoWorkerPoolOptions): Promise<CryptoWorkerPool> {
    const pool = new CryptoWorkerPool(options);
    const started = new Promise<void>((resolve, reject) => {
      pool.#initial = { left: options.size, resolve, reject };
    });
    for (const slot of pool.#slots) pool.#spawn(slot);
    try {
      await started;
    } catch (err) {
      await pool.close();
      throw err;
    }
    pool.#initial = undefined;
    pool.#log.info({ event: 'crypto_workers.started', workers: options.size }, 'crypto workers started');
    return pool;
  }

  get stats(): CryptoWorkerPoolStats {
    return { size: this.#o.size, ready: this.#slots.filter((s) => s.ready).length, pending: this.#pending, restarts: this.#restarts };
  }

  /** CsrVerifier: parse and verify on a worker; the CSR's bytes are copied once, then moved, not copied back. */
  async verify(der: Uint8Array): Promise<VerifiedCsr> {
    const copy = new ArrayBuffer(der.byteLength);
    new Uint8Array(copy).set(der);
    const reply = await this.#run({ kind: 'csr', id: this.#nextId++, der: copy }, [copy]);
    if (reply.kind !== 'csr') throw new InternalError('a crypto worker answered a CSR job with something else');
    const buf = Buffer.from(reply.der);
    const { spki, bits, ...facts } = reply.csr;
    return { ...facts, spkiDer: buf.subarray(spki[0], spki[0] + spki[1]), publicKeyBits: buf.subarray(bits[0], bits[0] + bits[1]) };
  }

  /** Terminates every worker; jobs still in hand fail with UnavailableError. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const gone = new UnavailableError('the identity service is shutting down');
      for (const job of this.#backlog.splice(0)) this.#settle(job, gone);
      const workers: Worker[] = [];
      for (const slot of this.#slots) {
        for (const timer of slot.timers) clearTimeout(timer);
        slot.timers.clear();
        for (const job of slot.inFlight.values()) this.#settle(job, gone);
        slot.inFlight.clear();
        slot.ready = false;
        if (slot.worker) workers.push(slot.worker);
      }
      await Promise.all(workers.map((w) => w.terminate()));
      for (const slot of this.#slots) slot.worker = undefined;
    })();
    return this.#closing;
  }

  #run(message: ToWorker, transfer: ArrayBuffer[]): Promise<FromWorker> {
    if (this.#closed) return Promise.reject(new UnavailableError('the identity service is shutting down'));
    if (this.#pending >= this.#o.maxPending) {
      return Promise.reject(new UnavailableError(`the identity service has ${this.#pending} checks waiting for its crypto workers; retry shortly`));
    }
    return new Promise<FromWorker>((resolve, reject) => {
      const job: Job = { id: message.id, message, transfer, resolve, reject };
      this.#pending++;
      const slot = this.#pick();
      if (slot) this.#post(slot, job);
      else if (this.#slots.some((s) => s.worker)) this.#backlog.push(job); // one is loading
      else this.#settle(job, new UnavailableError('no crypto worker is running (they are being restarted); retry shortly'));
    });
  }

  /** The ready worker with the fewest jobs in hand; ties go in turn. */
  #pick(): Slot | undefined {
    let best: Slot | undefined;
    const n = this.#slots.length;
    for (let k = 0; k < n; k++) {
      const slot = this.#slots[(this.#turn + k) % n]!;
      if (slot.ready && (!best || slot.inFlight.size < best.inFlight.size)) best = slot;
    }
    this.#turn = (this.#turn + 1) % n;
    return best;
  }

  #post(slot: Slot, job: Job): void {
    slot.inFlight.set(job.id, job);
    if (slot.inFlight.size === 1) slot.worker!.ref(); // busy: keeps the process alive until answered
    slot.worker!.postMessage(job.message, job.transfer);
  }

  #received(slot: Slot, worker: Worker, reply: FromWorker): void {
    if (reply.kind === 'ready') {
      slot.ready = true;
      if (this.#initial && --this.#initial.left === 0) this.#initial.resolve();
      for (const job of this.#backlog.splice(0)) this.#post(this.#pick() ?? slot, job);
      if (slot.inFlight.size === 0) worker.unref();
      return;
    }
    const job = slot.inFlight.get(reply.id);
    if (!job) return;
    slot.inFlight.delete(reply.id);
    if (slot.inFlight.size === 0) worker.unref(); // idle: a forgotten pool does not hold the process open
    this.#settle(job, reply);
  }

  #settle(job: Job, outcome: FromWorker | Error): void {
    this.#pending--;
    if (outcome instanceof Error) job.reject(outcome);
    else if (outcome.kind === 'refused') job.reject(new InvalidArgumentError(outcome.message));
    else if (outcome.kind === 'failed') {
      job.reject(new InternalError('a crypto worker could not check the request', { cause: new Error(outcome.message) }));
    } else job.resolve(outcome);
  }

  #spawn(slot: Slot): void {
    const worker = new Worker(this.#o.workerUrl, { name: `crypto-${slot.index}` });
    slot.worker = worker;
    slot.ready = false;
    slot.lastError = undefined;
    slot.startedAt = performance.now();

    const startTimer = setTimeout(() => {
      slot.timers.delete(startTimer);
      slot.lastError ??= new Error(`it did not load within ${this.#o.startTimeoutMs} ms`);
      void worker.terminate();
    }, this.#o.startTimeoutMs);
    slot.timers.add(startTimer);

    worker.on('message', (reply: FromWorker) => {
      if (slot.worker !== worker) return;
      if (reply.kind === 'ready') {
        clearTimeout(startTimer);
        slot.timers.delete(startTimer);
      }
      this.#received(slot, worker, reply);
    });
    worker.on('error', (err) => {
      slot.lastError = err;
    });
    worker.on('messageerror', (err) => {
      this.#log.error({ event: 'crypto_worker.message_error', worker: slot.index, err }, 'a crypto worker message could not be read');
    });
    worker.on('exit', (code) => {
      clearTimeout(startTimer);
      slot.timers.delete(startTimer);
      this.#exited(slot, worker, code);
    });
  }

  #exited(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    const wasReady = slot.ready;
    slot.worker = undefined;
    slot.ready = false;
    const lost = [...slot.inFlight.values()];
    slot.inFlight.clear();
    if (this.#closed) return; // close() settled the jobs
    const why = slot.lastError?.message ?? `exit code ${code}`;

    if (this.#initial) {
      // Not started yet: nothing to keep up; start() fails with the reason and closes the pool.
      this.#initial.reject(new Error(`a crypto worker could not start (${why})`, { cause: slot.lastError }));
      for (const job of lost) this.#settle(job, new UnavailableError('the crypto workers could not start'));
      return;
    }

    this.#restarts++;
    const lived = performance.now() - slot.startedAt;
    slot.fastFailures = !wasReady || lived < FAST_FAILURE_MS ? slot.fastFailures + 1 : 0;
    const delay = slot.fastFailures <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (slot.fastFailures - 2));
    this.#log.error(
      { event: 'crypto_worker.died', worker: slot.index, reason: why, err: slot.lastError, lostJobs: lost.length, restartInMs: delay },
      'a crypto worker died; the requests it held fail with UNAVAILABLE, and it is replaced',
    );
    for (const job of lost) this.#settle(job, new UnavailableError('the worker checking this request stopped; retry'));

    if (delay === 0) this.#spawn(slot);
    else {
      const timer = setTimeout(() => {
        slot.timers.delete(timer);
        if (!this.#closed) this.#spawn(slot);
      }, delay);
      timer.unref();
      slot.timers.add(timer);
    }
    // Jobs waiting for a worker to load: if none is ready or loading now, none will be soon.
    if (!this.#slots.some((s) => s.worker)) {
      for (const job of this.#backlog.splice(0)) this.#settle(job, new UnavailableError('no crypto worker is running (they are being restarted); retry shortly'));
    }
  }
}
