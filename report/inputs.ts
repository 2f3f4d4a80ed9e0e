/**
 * What the report is built from, as plain data: gathered from files by gather/ (the only part
 * that does I/O), or made by hand in tests. `buildComplianceReport` reads nothing else.
 */
import type { LedgerRecord, LedgerReport } from '../identity/ledger/index.ts';
import type { DecisionLogSummary, DecisionRecord } from '../policy/audit/decision-log.ts';
import type { EvaluatorConfig } from '../policy/evaluator/types.ts';
import type { ResourceSet } from '../policy/resources/types.ts';

export interface ReportInputs {
  now: Date;
  /** Decisions and certificates before this are left out; null: everything. */
  since: Date | null;
  home: string;
  decisions: DecisionInput;
  ledger: LedgerInput;
  trust: TrustInput;
  rotation: RotationInput;
  /** Null when no policy resources were read. */
  policy: PolicyInput | null;
}

export interface DecisionInput {
  paths: string[];
  /** Every valid record read, in file order (the window is applied by the builder). */
  records: DecisionRecord[];
  log: DecisionLogSummary;
}

export interface LedgerInput {
  path: string;
  present: boolean;
  /** The records read, in file order (all of them; the window is applied by the builder). */
  records: LedgerRecord[];
  /** `verifyLedger`'s answer; null when the ledger is absent or could not be verified. */
  verification: LedgerReport | null;
  /** Why the ledger could not be read or verified to the end, or null. */
  readError: string | null;
}

/** A certificate as the report needs it: parsed once, no DER, no key. */
export interface CertificateFacts {
  subject: string;
  fingerprint: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  isCa: boolean;
}

export interface TrustInput {
  bundleSource: string;
  anchors: CertificateFacts[];
  /** SHA-256 over the sorted anchor fingerprints, as the trust bundle computes it. */
  bundleFingerprint: string | null;
  bundleError: string | null;
  issuer: (CertificateFacts & { chainsTo: string | null }) | null;
  issuerError: string | null;
}

/** A rotation state file as found: its parsed JSON (any shape), or why it could not be read. */
export type RawStateFile = { file: string; document: unknown } | { file: string; error: string };

export interface RotationInput {
  /** `rotation.json` (in progress) and `rotation-last.json` (the last finished); null when absent. */
  current: RawStateFile | null;
  last: RawStateFile | null;
  retiredAnchors: { directory: string; certificate: CertificateFacts | null }[];
}

export interface PolicyInput {
  paths: string[];
  files: string[];
  resources: ResourceSet;
  config: EvaluatorConfig;
}
