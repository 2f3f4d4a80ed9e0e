/**
 * The decision log's writer: JSON lines appended to a file, bounded and rotated, written off the
 * connection path.
 *
 * - `write(line)` is synchronous and never waits, throws or touches the disk: the line joins a
 *   bounded in-memory queue (10,000 lines by default); a full queue drops it, counted.
 * - A drain loop, one event-loop turn later, appends what is queued. Before the current file would
 *   exceed `maxSizeBytes` it rotates by renames: `FILE.{N-1}` -> `FILE.N`, ..., `FILE` -> `FILE.1`
 *   (higher is older; `FILE.N` is overwritten, so at most `maxFiles` rotated files are kept), and
 *   a new `FILE` is started. No file ever exceeds `maxSizeBytes` (a longer line is dropped).
 * - Files are mode 0600; a missing directory is created (0700), again if it is removed later.
 *   A file moved or deleted behind the writer's back is noticed before the next batch and reopened.
 * - A disk that fails drops the lines it could not take, counted; nothing is thrown. One warn line
 *   per failure burst (`decision_log.dropping`), and one info line when it ends
 *   (`decision_log.recovered`, with the number dropped), never one per record.
 * - `close()` waits until everything queued is written (bounded by a timeout).
 */
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../../common/log.ts';

export const DEFAULT_DECISION_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_DECISION_LOG_MAX_FILES = 5;
export const DEFAULT_DECISION_LOG_QUEUE = 10_000;
export const DEFAULT_DECISION_LOG_CLOSE_TIMEOUT_MS = 5_000;

/**
 * Why lines were dropped: `queue-full` (written faster than the disk takes them), `write-error`
 * (the file could not be opened, rotated or written), `too-large` (a line longer than the file
 * size limit), `closed` (a record after close, or left when close timed out).
 */
export const DECISION_LOG_DROP_REASONS = ['queue-full', 'write-error', 'too-large', 'closed'] as const;
export type DecisionLogDropReason = (typeof DECISION_LOG_DROP_REASONS)[number];

export interface DecisionLogWriterOptions {
  path: string;
  maxSizeBytes: number;
  /** Rotated files kept besides `path` (`path.1` ... `path.N`); 0 keeps only the current file. */
  maxFiles: number;
  /** Lines held in memory (queued and being written) before new ones are dropped. */
  queueLimit?: number;
  logger: Logger;
  /** Lines appended to the file. */
  onWritten?: (lines: number) => void;
  onDropped?: (reason: DecisionLogDropReason, lines: number) => void;
}

export interface DecisionLogStats {
  written: number;
  dropped: Record<DecisionLogDropReason, number>;
}

/** Where lines go; the enforcement only needs this. */
export interface DecisionLineSink {
  write(line: string): void;
}

export class DecisionLogWriter implements DecisionLineSink {
  readonly #o: DecisionLogWriterOptions;
  readonly #queueLimit: number;
  #queue: string[] = [];
  #inFlight = 0;
  #running: Promise<void> | undefined;
  #handle: FileHandle | undefined;
  #file: { dev: number; ino: number } | undefined;
  #size = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Failure bursts under way, by reason, with what they dropped so far. */
  readonly #bursts = new Map<DecisionLogDropReason, number>();
  readonly #stats: DecisionLogStats = { written: 0, dropped: { 'queue-full': 0, 'write-error': 0, 'too-large': 0, closed: 0 } };

  constructor(options: DecisionLogWriterOptions) {
    if (!(options.maxSizeBytes > 0) || !Number.isInteger(options.maxFiles) || options.maxFiles < 0) {
      throw new RangeError('decision log: maxSizeBytes must be > 0 and maxFiles an integer >= 0');
    }
    this.#o = options;
    this.#queueLimit = options.queueLimit ?? DEFAULT_DECISION_LOG_QUEUE;
  }

  get path(): string {
    return this.#o.path;
  }

  /** Counts so far (also reported through onWritten/onDropped). */
  stats(): DecisionLogStats {
    return { written: this.#stats.written, dropped: { ...this.#stats.dropped } };
  }

  /** Lines accepted and not yet written. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  /**
   * Creates the directory and opens the file now, so that a path that cannot be written is
   * reported at start-up (a warn line); never throws: the proxy runs on, and counts the drops.
   */
  async start(): Promise<void> {
    await this.#serial(async () => {
      try {
        await this.#ensureOpen();
        this.#recovered('write-error');
      } catch (err) {
        await this.#failed(err, 0);
      }
    });
  }

  /** Queues one line (with its newline). Synchronous; never blocks, never throws. */
  write(line: string): void {
    if (this.#closed) return this.#drop('closed', 1);
    if (this.#queue.length + this.#inFlight >= this.#queueLimit) return this.#drop('queue-full', 1);
    if (line.length > this.#o.maxSizeBytes || Buffer.byteLength(line) > this.#o.maxSizeBytes) return this.#drop('too-large', 1);
    if (this.#bursts.size > 0) this.#recovered('queue-full');
    this.#queue.push(line);
    this.#kick();
  }

  /** Resolves once every line queued so far (and since) is written or dropped. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Writes what is queued (waiting at most `timeoutMs`), then closes the file. Later lines are dropped. */
  close(timeoutMs = DEFAULT_DECISION_LOG_CLOSE_TIMEOUT_MS): Promise<void> {
    return (this.#closing ??= this.#close(timeoutMs));
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) {
      // The disk does not answer: what is still queued is given up, counted (the batch being
      // written may yet land).
      const left = this.#queue.length;
      this.#queue = [];
      if (left > 0) this.#drop('closed', left);
      this.#o.logger.warn({ event: 'decision_log.close_timeout', path: this.#o.path, dropped: left }, `decision log: writes did not finish within ${timeoutMs} ms of closing`);
      return;
    }
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await handle.sync().catch(() => {}).finally(() => handle.close().catch(() => {}));
  }

  /** Runs the drain loop one event-loop turn from now (lines written in the same turn share a batch). */
  #kick(): void {
    if (this.#running) return;
    this.#running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#drain())
      .catch((err: unknown) => this.#o.logger.error({ event: 'decision_log.internal_error', err }, 'decision log: the writer failed unexpectedly'))
      .finally(() => {
        this.#running = undefined;
        if (this.#queue.length > 0) this.#kick();
      });
  }

  /** Runs `task` after the drain loop, as part of it (start-up's open). */
  async #serial(task: () => Promise<void>): Promise<void> {
    await this.flush();
    const run = task().finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
    this.#running = run;
    await run;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      this.#inFlight = batch.length;
      try {
        await this.#append(batch);
      } finally {
        this.#inFlight = 0;
      }
    }
  }

  /** Appends `lines`, rotating whenever the next ones would not fit; on failure the rest is dropped. */
  async #append(lines: string[]): Promise<void> {
    let i = 0;
    try {
      await this.#checkFile();
      while (i < lines.length) {
        await this.#ensureOpen();
        const room = this.#o.maxSizeBytes - this.#size;
        let bytes = 0;
        let j = i;
        for (; j < lines.length; j++) {
          const n = Buffer.byteLength(lines[j]!);
          if (bytes + n > room) break;
          bytes += n;
        }
        if (j === i) {
          // The next line does not fit (write() refused lines longer than a whole file).
          await this.#rotate();
          continue;
        }
        await writeAll(this.#handle!, Buffer.from(lines.slice(i, j).join(''), 'utf8'));
        this.#size += bytes;
        this.#stats.written += j - i;
        this.#o.onWritten?.(j - i);
        i = j;
        this.#recovered('write-error');
      }
    } catch (err) {
      await this.#failed(err, lines.length - i);
    }
  }

  /** Reopens when the file was removed, replaced or rotated by someone else; follows a truncation. */
  async #checkFile(): Promise<void> {
    if (!this.#handle || !this.#file) return;
    const now = await stat(this.#o.path).catch(() => undefined);
    if (!now || now.dev !== this.#file.dev || now.ino !== this.#file.ino) return this.#closeHandle();
    this.#size = now.size;
  }

  async #ensureOpen(): Promise<void> {
    if (this.#handle) return;
    await mkdir(dirname(this.#o.path), { recursive: true, mode: 0o700 });
    const handle = await open(this.#o.path, 'a', 0o600);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw Object.assign(new Error(`${this.#o.path} is not a regular file`), { code: 'ENOTFILE' });
      if ((info.mode & 0o777) !== 0o600) await handle.chmod(0o600);
      this.#handle = handle;
      this.#file = { dev: info.dev, ino: info.ino };
      this.#size = info.size;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async #rotate(): Promise<void> {
    await this.#closeHandle();
    const { path, maxFiles } = this.#o;
    if (maxFiles === 0) {
      await unlink(path).catch(ignoreMissing);
      return;
    }
    for (let n = maxFiles - 1; n >= 1; n--) await rename(`${path}.${n}`, `${path}.${n + 1}`).catch(ignoreMissing);
    await rename(path, `${path}.1`).catch(ignoreMissing);
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#file = undefined;
    this.#size = 0;
    if (handle) await handle.close().catch(() => {});
  }

  async #failed(err: unknown, lines: number): Promise<void> {
    await this.#closeHandle(); // the next batch starts from a fresh open
    this.#drop('write-error', lines, err);
  }

  #drop(reason: DecisionLogDropReason, lines: number, err?: unknown): void {
    if (lines > 0) {
      this.#stats.dropped[reason] += lines;
      this.#o.onDropped?.(reason, lines);
    }
    const burst = this.#bursts.get(reason);
    if (burst !== undefined) return void this.#bursts.set(reason, burst + lines);
    this.#bursts.set(reason, lines);
    const error = err === undefined ? undefined : ((err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err));
    this.#o.logger.warn(
      { event: 'decision_log.dropping', reason, path: this.#o.path, ...(error ? { error } : {}) },
      `decision log: records are being dropped (${reason}${error ? `: ${error}` : ''}); counted in proxy_decision_log_dropped_total`,
    );
  }

  /** Ends a failure burst of `reason`, if one is under way. */
  #recovered(reason: DecisionLogDropReason): void {
    const dropped = this.#bursts.get(reason);
    if (dropped === undefined) return;
    this.#bursts.delete(reason);
    this.#o.logger.info({ event: 'decision_log.recovered', reason, path: this.#o.path, dropped }, `decision log: writing again after ${dropped} record(s) dropped (${reason})`);
  }
}

async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  for (let offset = 0; offset < buffer.length; ) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, null);
    offset += bytesWritten;
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
