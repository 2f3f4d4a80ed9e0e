/** The issuance ledger's integrity, as `identity ledger verify` judges it. */
import type { LedgerInput } from '../inputs.ts';
import type { LedgerIntegrity } from '../model.ts';

export function ledgerIntegrity(input: LedgerInput): LedgerIntegrity {
  const v = input.verification;
  return {
    path: input.path,
    present: input.present,
    verified: !input.present ? null : v !== null && v.ok && input.readError === null,
    records: v?.count ?? input.records.length,
    lastSeq: v?.lastSeq ?? input.records.at(-1)?.seq ?? 0,
    errors: v?.errors ?? [],
    warnings: v?.warnings ?? [],
    readError: input.readError,
  };
}
