import { open, readFile, rename } from 'node:fs/promises';

/**
 * The ledger's head as of the last durable batch, kept in `<ledger>.head`. The chain proves that
 * nothing inside the ledger changed; only this file shows that records were cut off its end.
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

/** Write-temp, fsync, rename: a crash leaves the old head or the new one, never a torn one. */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  // A fixed temp name is safe: the ledger lock admits one writer.
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(checkpoint)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * Keeps the head file current without holding up appends: runs beside the ledger's batches,
 * at most one write in flight, and a newer head replaces one still waiting. A head that lags
 * the ledger is harmless (verify only objects to a ledger that ends before its head).
 */
export class CheckpointWriter {
  readonly #path: string;
  readonly #onError: (err: unknown) => void;
  #waiting: Checkpoint | undefined;
  #running: Promise<void> | undefined;
  #written = 0;
  #failed = false;

  constructor(path: string, onError: (err: unknown) => void) {
    this.#path = path;
    this.#onError = onError;
  }

  get written(): number {
    return this.#written;
  }

  update(checkpoint: Checkpoint): void {
    if (this.#failed) return;
    this.#waiting = checkpoint;
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      // A head handed over after the loop's last look but before this callback.
      if (this.#waiting) this.update(this.#waiting);
    });
  }

  /** Resolves once the newest head given to `update` is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    while (this.#waiting) {
      const next = this.#waiting;
      this.#waiting = undefined;
      try {
        await writeCheckpoint(this.#path, next);
        this.#written++;
      } catch (err) {
        this.#waiting = undefined;
        this.#failed = true;
        this.#onError(err);
        return;
      }
    }
  }
}
