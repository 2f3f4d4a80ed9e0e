import { open, type FileHandle } from 'node:fs/promises';
import { NotFoundError } from '../../common/errors.ts';
import type { LedgerProblem } from './chain.ts';
import { checkpointPath, readCheckpoint } from './checkpoint.ts';
import { readLines } from './lines.ts';
import { scanLedger } from './scan.ts';

export interface LedgerReport {
  path: string;
  /** True when there is no error; warnings (a trailing partial line) do not count against it. */
  ok: boolean;
  /** Complete lines (records, and any unparsable line among them), not counting a trailing partial line. */
  count: number;
  /** seq and hash of the last record in chain order; 0 and undefined for an empty ledger. */
  lastSeq: number;
  lastHash: string | undefined;
  /** Every problem found, in line order. */
  problems: LedgerProblem[];
  errors: LedgerProblem[];
  warnings: LedgerProblem[];
}

/**
 * Checks a ledger and its checkpoint (`<path>.head`) and reports every problem with its line:
 * edited records (hash mismatch), deleted ones (sequence gap), moved ones (out of order),
 * unparsable lines, and a tail cut off before the checkpoint. A trailing partial line, which a
 * crash mid-append leaves and the writer removes on open, is a warning.
 *
 * Safe to run while a writer appends: it reads a prefix of the file, and a record being
 * written at that moment shows as a partial line.
 *
 * Tail truncation is detected only up to the checkpoint. The writer rewrites `<path>.head` at
 * most every ~250 ms while it appends, and on close; so records appended after the last head
 * written (up to ~250 ms of issuance, plus one head write, while a writer runs or after it
 * crashed) can be cut off the end undetected. After a clean close the head names the last
 * record, and any cut is reported as `truncated`.
 *
 * @example
 * const report = await verifyLedger('/var/lib/identity/ledger.jsonl');
 * for (const p of report.errors) console.error(`line ${p.line}: ${p.kind}: ${p.message}`);
 */
export async function verifyLedger(path: string): Promise<LedgerReport> {
  // Read the head first: a writer moves it only after the ledger, so the ledger can only be longer.
  const checkpoint = await readCheckpoint(checkpointPath(path));
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // With a checkpoint left behind, a missing ledger is one whose every record was cut off.
    if (checkpoint.state === 'missing') throw new NotFoundError(`ledger ${path} does not exist`, { cause: err });
  }
  try {
    const scan = await scanLedger(handle ? readLines(handle) : [], checkpoint);
    const errors = scan.problems.filter((p) => p.severity === 'error');
    return {
      path,
      ok: errors.length === 0,
      count: scan.count,
      lastSeq: scan.last?.seq ?? 0,
      lastHash: scan.last?.hash,
      problems: scan.problems,
      errors,
      warnings: scan.problems.filter((p) => p.severity === 'warning'),
    };
  } finally {
    await handle?.close();
  }
}
