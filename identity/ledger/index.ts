/**
 * The issuance ledger: an append-only, hash-chained JSON-lines file with one record per issued
 * certificate, a checkpoint file beside it (`<ledger>.head`) that makes a cut-off tail
 * detectable, and a lock file (`<ledger>.lock`) that admits one writer.
 */
export { LedgerWriter, type LedgerStats, type LedgerWriterOptions } from './writer.ts';
export { verifyLedger, type LedgerReport } from './verify.ts';
export { readLedger, readLedgerRecords } from './read.ts';
export type { LedgerProblem, LedgerProblemKind } from './chain.ts';
export { checkpointPath, type Checkpoint } from './checkpoint.ts';
export {
  GENESIS_HASH,
  hashRecord,
  sha256Hex,
  type LedgerEntry,
  type LedgerEntryInput,
  type LedgerRecord,
} from './record.ts';
