import { open, type FileHandle } from 'node:fs/promises';
import { LedgerCorruptError, NotFoundError } from '../../common/errors.ts';
import { readLines } from './lines.ts';
import { parseRecordLine, type LedgerRecord } from './record.ts';

/**
 * The records of a ledger, in file order, read in chunks. It checks that each line is a
 * well-formed record (throwing LedgerCorruptError with the line otherwise) but not the chain:
 * use `verifyLedger` to trust what it yields. A trailing partial line is skipped.
 *
 * @example
 * for await (const record of readLedger(path)) if (record.identity === wanted) console.log(record.serial);
 */
export async function* readLedger(path: string): AsyncGenerator<LedgerRecord> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`ledger ${path} does not exist`, { cause: err });
    throw err;
  }
  try {
    // An unparsable line is an error only once another line follows it; as the last line it is a partial tail.
    let bad: { line: number; reason: string } | undefined;
    for await (const line of readLines(handle)) {
      if (!line.terminated) break;
      if (bad) throw new LedgerCorruptError(`ledger ${path}, line ${bad.line}: not a ledger record: ${bad.reason}`);
      const parsed = parseRecordLine(line.text);
      if (typeof parsed === 'string') bad = { line: line.number, reason: parsed };
      else yield parsed;
    }
  } finally {
    await handle.close();
  }
}

/** All records of a ledger in an array; for small ledgers and tests. */
export async function readLedgerRecords(path: string): Promise<LedgerRecord[]> {
  const records: LedgerRecord[] = [];
  for await (const record of readLedger(path)) records.push(record);
  return records;
}
