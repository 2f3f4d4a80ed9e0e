/** The issuance ledger, read with its reader and judged by its verifier; an absent ledger is no error. */
import { access } from 'node:fs/promises';
import { readLedger, verifyLedger, type LedgerRecord, type LedgerReport } from '../../identity/ledger/index.ts';
import type { LedgerInput } from '../inputs.ts';
import { describeError } from './trust.ts';

export async function gatherLedger(path: string): Promise<LedgerInput> {
  const present = await access(path).then(
    () => true,
    () => false,
  );
  if (!present) return { path, present, records: [], verification: null, readError: null };
  let verification: LedgerReport | null = null;
  let readError: string | null = null;
  try {
    verification = await verifyLedger(path);
  } catch (err) {
    readError = describeError(err);
  }
  // The records read before any unreadable line are kept: the inventory then covers what it can.
  const records: LedgerRecord[] = [];
  try {
    for await (const record of readLedger(path)) records.push(record);
  } catch (err) {
    readError ??= describeError(err);
  }
  return { path, present, records, verification, readError };
}
