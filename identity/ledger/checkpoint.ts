import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';

/**
 * The ledger's head as of a recent durable batch, kept in `<ledger>.head`. The chain proves that
 * nothing inside the ledger changed; only this file shows that records were cut off its end. It
 * is rewritten at most every ~250 ms while records come, and on close (see CheckpointWriter): the
 * records after it, up to that much issuance, are not covered by it.
 */
export interface Checkpoint {
  /** seq of the last durable record; 0 for an empty ledger. */
  seq: number;
  /** hash of that record; the genesis value for an empty ledger. */
  hash: string;
  /** How many records (lines) the ledger held. */
  count: number;
}

export type CheckpointState =
  | { state: 'ok'; checkpoint: Checkpoint }
  | { state: 'missing' }
  | { state: 'invalid'; reason: string };

export function checkpointPath(ledgerPath: string): string {
  return `${ledgerPath}.head`;
}

export async function readCheckpoint(path: string): Promise<CheckpointState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { state: 'invalid', reason: 'not valid JSON' };
  }
  const v = value as Partial<Checkpoint> | null;
  if (
    typeof v !== 'object' || v === null ||
    !Number.isSafeInteger(v.seq) || v.seq! < 0 ||
    !Number.isSafeInteger(v.count) || v.count! < 0 ||
    typeof v.hash !== 'string' || !/^[0-9a-f]{64}$/.test(v.hash)
  ) {
    return { state: 'invalid', reason: 'expected {seq, hash, count}' };
  }
  return { state: 'ok', checkpoint: { seq: v.seq!, hash: v.hash, count: v.count! } };
}

/**
 * Write-temp, fsync, rename: a crash leaves the old head or the new one, never a torn one.
 *
 * The temp file is created exclusively (O_EXCL) with mode 0600, so it has that mode from its
 * first byte and needs no chmod; one left behind by a crash (whatever its mode) is removed first.
 */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  // A fixed temp name is safe: the ledger lock admits one writer.
  const tmp = `${path}.tmp`;
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await unlink(tmp);
    handle = await open(tmp, 'wx', 0o600);
  }
  try {
    await handle.writeFile(`${JSON.stringify(checkpoint)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/** How often, at most, the head file is rewritten while records keep coming. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;

/**
 * Keeps the head file current without holding up appends: it runs beside the ledger's batches,
 * with at most one write in flight, and writes at most once per `intervalMs`. A newer head
 * replaces one still waiting; the newest one waiting is written when the interval is up, whether
 * or not more records come (so a writer that goes idle has its head on disk within one
 * interval), and at once by `flush` (close), so the final head is never skipped.
 *
 * What a lagging head means: the head is the only evidence of the ledger's length, so records
 * appended after the last head written can be cut off the end of the ledger without `verify`
 * noticing (the ledger still reaches the head). The bound is the interval: about 250 ms of
 * issuance, plus one head write, while the writer is running; nothing after a clean close. A head
 * that lags is otherwise harmless: verify only objects to a ledger that ends before its head.
 */
export class CheckpointWriter {
  readonly #path: string;
  readonly #onError: (err: unknown) => void;
  readonly #intervalMs: number;
  #waiting: Checkpoint | undefined;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastStart = -Infinity;
  #written = 0;
  #failed = false;

  constructor(path: string, onError: (err: unknown) => void, options: { intervalMs?: number } = {}) {
    this.#path = path;
    this.#onError = onError;
    this.#intervalMs = options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  get written(): number {
    return this.#written;
  }

  /** Hands over the newest durable head; it is written now, or when the current interval is up. */
  update(checkpoint: Checkpoint): void {
    if (this.#failed) return;
    this.#waiting = checkpoint;
    this.#schedule();
  }

  /** Writes the newest head given to `update` now, and resolves once it is written (or has failed). */
  async flush(): Promise<void> {
    for (;;) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#running) await this.#running;
      else if (this.#waiting && !this.#failed) this.#start();
      else return;
    }
  }

  #schedule(): void {
    if (this.#running || this.#timer || !this.#waiting || this.#failed) return;
    const due = this.#lastStart + this.#intervalMs - performance.now();
    if (due <= 0) {
      this.#start();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, due);
  }

  #start(): void {
    const next = this.#waiting!;
    this.#waiting = undefined;
    this.#lastStart = performance.now();
    this.#running = this.#write(next).finally(() => {
      this.#running = undefined;
      // A head handed over while this one was being written waits for the next interval.
      this.#schedule();
    });
  }

  async #write(checkpoint: Checkpoint): Promise<void> {
    try {
      await writeCheckpoint(this.#path, checkpoint);
      this.#written++;
    } catch (err) {
      this.#waiting = undefined;
      this.#failed = true;
      clearTimeout(this.#timer);
      this.#onError(err);
    }
  }
}
