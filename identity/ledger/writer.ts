import { stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { LedgerCorruptError, NotFoundError, UnavailableError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { LedgerProblem } from './chain.ts';
import { CheckpointWriter, checkpointPath, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.ts';
import { openForAppend, syncDirectory, writeAll } from './files.ts';
import { readLines } from './lines.ts';
import { acquireLock, type HeldLock } from './lock.ts';
import { GENESIS_HASH, normalizeEntry, sealRecord, serializeRecord, type LedgerEntryInput, type LedgerRecord } from './record.ts';
import { scanLedger } from './scan.ts';

export interface LedgerWriterOptions {
  /** Stamps `time` on entries that carry none. */
  clock?: Clock;
  logger?: Logger;
  /**
   * Open a ledger that fails verification and continue its chain after the last record. Off by
   * default: a corrupt ledger is refused. The problems are logged; `verifyLedger` keeps reporting them.
   */
  allowAppendAfterCorruption?: boolean;
  /**
   * Least time between two writes of the head file (`<ledger>.head`), default 250 ms; the final
   * head is always written on close. Records after the last head written can be cut off the end
   * undetected (see CheckpointWriter), so this bounds that window. 0: after every batch.
   */
  checkpointIntervalMs?: number;
}

/**
 * Counters for tests and metrics: `batches` is the number of write+fdatasync rounds,
 * `checkpoints` the number of head files written (far fewer than batches under load).
 */
export interface LedgerStats {
  batches: number;
  records: number;
  checkpoints: number;
}

interface Pending {
  record: LedgerRecord;
  resolve: (record: LedgerRecord) => void;
  reject: (err: unknown) => void;
}

/**
 * The issuance ledger's single writer. `append` resolves once the record is durable
 * (written and fdatasync'd); appends that arrive while a batch is being made durable wait and
 * go together in the next batch: one write, one fdatasync (group commit). Records are chained
 * in the order `append` is called.
 *
 * One writer per ledger, enforced by an advisory lock file `<ledger>.lock` (see `acquireLock`
 * for its limits). After a failed write or sync the writer refuses further appends: what reached
 * the disk is unknown until the ledger is reopened, which re-verifies it and cuts a partial tail.
 *
 * @example
 * const ledger = await LedgerWriter.open(join(home, 'ledger.jsonl'), { logger });
 * const record = await ledger.append(entry); // durable once this resolves
 * await ledger.close();
 */
export class LedgerWriter {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #lock: HeldLock;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #checkpoints: CheckpointWriter;
  #seq: number; // chain position including queued records
  #hash: string;
  #durable: Checkpoint;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  #batches = 0;
  #appended = 0;

  private constructor(path: string, handle: FileHandle, lock: HeldLock, head: Checkpoint, options: LedgerWriterOptions) {
    this.path = path;
    this.#handle = handle;
    this.#lock = lock;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#seq = head.seq;
    this.#hash = head.hash;
    this.#durable = head;
    this.#checkpoints = new CheckpointWriter(
      checkpointPath(path),
      (err) => this.#fail(new UnavailableError(`cannot write the checkpoint of ledger ${path}`, { cause: err }), []),
      options.checkpointIntervalMs !== undefined ? { intervalMs: options.checkpointIntervalMs } : {},
    );
  }

  /**
   * Opens (or creates, mode 0600) a ledger for appending. An existing ledger is verified first;
   * a trailing partial line left by a crash is cut away (and logged), and a corrupt ledger is
   * refused with a LedgerCorruptError naming the file and line, unless `allowAppendAfterCorruption`.
   */
  static async open(path: string, options: LedgerWriterOptions = {}): Promise<LedgerWriter> {
    const log = options.logger ?? silentLogger;
    await stat(dirname(path)).catch((err: unknown) => {
      throw new NotFoundError(`the directory of ledger ${path} does not exist`, { cause: err });
    });
    const lock = await acquireLock(`${path}.lock`, `ledger ${path}`);
    let handle: FileHandle | undefined;
    try {
      handle = await openForAppend(path);
      const checkpoint = await readCheckpoint(checkpointPath(path));
      const scan = await scanLedger(readLines(handle), checkpoint);
      const errors = scan.problems.filter((p) => p.severity === 'error');
      if (errors.length > 0 && !options.allowAppendAfterCorruption) throw corrupt(path, errors);
      if (errors.length > 0) {
        log.warn({ ledger: path, problems: errors }, 'appending to a ledger that fails verification, as allowed');
      }
      if (scan.tail) {
        const { size } = await handle.stat();
        await handle.truncate(scan.tail.start);
        await handle.datasync();
        log.warn(
          { ledger: path, line: scan.tail.line, bytes: size - scan.tail.start },
          'removed a partial last line left by an interrupted append (never acknowledged)',
        );
      }
      const head: Checkpoint = { seq: scan.last?.seq ?? 0, hash: scan.last?.hash ?? GENESIS_HASH, count: scan.count };
      if (checkpoint.state === 'missing' && head.seq === 0) {
        // A new ledger: an empty head now, so that a missing head later means it was deleted.
        await writeCheckpoint(checkpointPath(path), head);
        await syncDirectory(dirname(path)); // make the new files' names durable, not only their bytes
      }
      log.info({ ledger: path, count: head.count, seq: head.seq }, 'ledger open');
      return new LedgerWriter(path, handle, lock, head, options);
    } catch (err) {
      await handle?.close();
      await lock.release();
      throw err;
    }
  }

  /** Records durably in the ledger. */
  get count(): number {
    return this.#durable.count;
  }

  /** seq, hash and count of the last durable record. */
  get head(): Checkpoint {
    return { ...this.#durable };
  }

  get stats(): LedgerStats {
    return { batches: this.#batches, records: this.#appended, checkpoints: this.#checkpoints.written };
  }

  /**
   * Appends an issued certificate; resolves with the sealed record once it is durable. Rejects
   * with InvalidArgumentError for a malformed entry, UnavailableError once the ledger cannot be
   * written or is closed.
   */
  async append(input: LedgerEntryInput): Promise<LedgerRecord> {
    // Everything up to the promise runs synchronously, so records chain in call order.
    if (this.#failure) throw this.#failure;
    if (this.#closing) throw new UnavailableError(`ledger ${this.path} is closed`);
    const record = sealRecord(normalizeEntry(input, this.#clock.now()), this.#seq + 1, this.#hash);
    this.#seq = record.seq;
    this.#hash = record.hash;
    return new Promise<LedgerRecord>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#kick();
    });
  }

  /** Waits for queued appends to be durable and the final head written, then releases the ledger. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#draining) await this.#draining;
      await this.#checkpoints.flush();
      try {
        await this.#handle.close();
      } finally {
        await this.#lock.release();
      }
      if (this.#failure) throw this.#failure;
    })();
    return this.#closing;
  }

  #kick(): void {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
      // Appends that came after the loop's last look but before this callback.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // let the appends of the current tick join the first batch
    while (this.#queue.length > 0 && !this.#failure) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await writeAll(this.#handle, Buffer.from(batch.map((p) => serializeRecord(p.record)).join('')));
        await this.#handle.datasync();
      } catch (err) {
        this.#fail(new UnavailableError(`cannot write ledger ${this.path}; no record is accepted until it is reopened`, { cause: err }), batch);
        return;
      }
      const last = batch[batch.length - 1]!.record;
      this.#durable = { seq: last.seq, hash: last.hash, count: this.#durable.count + batch.length };
      this.#batches++;
      this.#appended += batch.length;
      for (const p of batch) p.resolve(p.record);
      this.#checkpoints.update(this.#durable);
    }
  }

  // Fail closed: once a write or sync fails, the chain on disk is unknown to this process.
  #fail(err: Error, batch: Pending[]): void {
    this.#failure ??= err;
    this.#log.error({ ledger: this.path, err }, 'ledger write failed; refusing further appends');
    for (const p of [...batch, ...this.#queue]) p.reject(this.#failure);
    this.#queue = [];
  }
}

function corrupt(path: string, errors: LedgerProblem[]): LedgerCorruptError {
  const first = errors[0]!;
  const where = first.line > 0 ? `line ${first.line}` : 'its checkpoint';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more; run verify for all)` : '';
  return new LedgerCorruptError(
    `ledger ${path} is corrupt at ${where}: ${first.message}${more}. Refusing to append to it; ` +
      'restore it from a backup, or open it with allowAppendAfterCorruption to continue after the damage',
    { cause: errors },
  );
}
