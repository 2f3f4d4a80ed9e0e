/**
 * The compliance report as data: what `identity report -o json` prints, and what the Markdown
 * and HTML renderers draw. Built by pure functions (build.ts) from gathered inputs; every key is
 * always present (null or empty when there is no data), so that a consumer's paths never move.
 * Times are ISO-8601 UTC; shares are fractions 0..1 (null when there is nothing to divide);
 * durations are milliseconds; bytes count both directions (`bytesIn + bytesOut`).
 */
import type { LedgerProblem } from '../identity/ledger/index.ts';

export const REPORT_VERSION = 1;

export interface ComplianceReport {
  version: typeof REPORT_VERSION;
  generatedAt: string;
  window: ReportWindow;
  sources: ReportSources;
  mtls: MtlsCoverage;
  inventory: IdentityInventory;
  ledger: LedgerIntegrity;
  trust: TrustChain;
  rotation: RotationHistory;
  policy: PolicyCoverage;
  denials: Denials;
  controls: Control[];
  summary: ControlSummary;
}

/** Decisions and certificates from `since` (inclusive; null: all) are counted; `until` is the report's now. */
export interface ReportWindow {
  since: string | null;
  until: string;
}

export interface ReportSources {
  home: string;
  decisionLogs: {
    /** What was asked for (files or directories). */
    paths: string[];
    /** The files read, oldest rotation first. */
    files: string[];
    /** Valid records read, and those inside the window. */
    records: number;
    inWindow: number;
    badLines: number;
    bad: { file: string; line: number; reason: string }[];
  };
  ledger: string;
  resources: { paths: string[]; files: string[] };
}

// ---- mTLS coverage -------------------------------------------------------------------------

export interface MtlsCoverage {
  decisions: { total: number; allow: number; audit: number; deny: number };
  /** Connections admitted (`allow` and `audit`): what carried data. */
  admitted: TrafficTotals;
  /** Connections refused, by TLS state (they carry no data). */
  denied: { connections: number; mtls: number; plaintext: number };
  /** Mutually authenticated share of admitted connections, and of their bytes. */
  connectionShare: number | null;
  byteShare: number | null;
  /** Every plaintext flow (client address -> pod port), admitted or refused, most connections first. */
  plaintextFlows: PlaintextFlow[];
  timeline: CoverageTimeline;
}

export interface TrafficTotals {
  connections: number;
  mtlsConnections: number;
  plaintextConnections: number;
  bytes: number;
  mtlsBytes: number;
  plaintextBytes: number;
}

export interface PlaintextFlow {
  clientIp: string;
  pod: string;
  port: number;
  connections: number;
  admitted: number;
  denied: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
}

export interface CoverageTimeline {
  /** Bucket width, chosen so that the window has at most MAX_BUCKETS buckets; 0 when there are none. */
  bucketMs: number;
  buckets: CoverageBucket[];
}

export interface CoverageBucket {
  /** Start of the bucket (inclusive); the bucket ends `bucketMs` later. */
  start: string;
  mtlsConnections: number;
  plaintextConnections: number;
  deniedConnections: number;
  mtlsBytes: number;
  plaintextBytes: number;
  connectionShare: number | null;
}

// ---- identity inventory and ledger -----------------------------------------------------------

export interface IdentityInventory {
  /** Certificates issued in the window, from the ledger. */
  certificates: number;
  identities: IdentityCertificates[];
  /** notAfter - notBefore of the certificates issued in the window. */
  lifetimeMs: { min: number; median: number; max: number } | null;
  keyTypes: KeyTypeCount[];
}

export interface IdentityCertificates {
  identity: string;
  certificates: number;
  firstIssued: string;
  lastIssued: string;
  latestNotAfter: string;
  /** The latest certificate is still within its validity at the report's time. */
  current: boolean;
}

export interface KeyTypeCount {
  role: 'anchor' | 'issuer' | 'leaf';
  /** `ECDSA P-256`, `RSA 2048`, ... */
  keyType: string;
  certificates: number;
  /**
   * `certificate`: read from the certificates themselves. `issuance-profile`: leaves, whose keys
   * the ledger records only as a SHA-256; their type is what the authority accepts (ECDSA P-256 only).
   */
  source: 'certificate' | 'issuance-profile';
}

export interface LedgerIntegrity {
  path: string;
  present: boolean;
  /** The hash chain and checkpoint verified without error; null when there is no ledger. */
  verified: boolean | null;
  /** Complete lines in the ledger (all of it, not only the window). */
  records: number;
  lastSeq: number;
  errors: LedgerProblem[];
  warnings: LedgerProblem[];
  /** The ledger could not be read to the end (records after this are missing from the inventory). */
  readError: string | null;
}

// ---- trust chain and rotation ------------------------------------------------------------------

export type ExpiryState = 'valid' | 'warning' | 'critical' | 'expired' | 'not-yet-valid';

export interface CertificateStatus {
  subject: string;
  fingerprint: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  keyType: string;
  isCa: boolean;
  state: ExpiryState;
}

export interface TrustChain {
  thresholds: { warningDays: number; criticalDays: number };
  bundle: { source: string; fingerprint: string | null; error: string | null };
  anchors: CertificateStatus[];
  /** `chainsTo`: the fingerprint of the bundle anchor whose key verifies the issuer, or null. */
  issuer: (CertificateStatus & { chainsTo: string | null }) | null;
  issuerError: string | null;
  warnings: ExpiryWarning[];
}

export interface ExpiryWarning {
  role: 'anchor' | 'issuer';
  subject: string;
  fingerprint: string;
  daysLeft: number;
  level: Exclude<ExpiryState, 'valid'>;
  message: string;
}

export interface CertificateRef {
  subject: string | null;
  fingerprint: string | null;
  notAfter: string | null;
}

export interface RotationEntry {
  file: string;
  id: string | null;
  startedAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  /** `completed`, `aborted` (the finished one), or null while in progress. */
  outcome: string | null;
  /** The last step finished, and the one running. */
  completed: string | null;
  running: string | null;
  aborting: boolean;
  oldAnchor: CertificateRef | null;
  newAnchor: CertificateRef | null;
  previousIssuer: CertificateRef | null;
  newIssuer: CertificateRef | null;
  phases: { step: string; startedAt: string | null; finishedAt: string | null; durationMs: number | null }[];
}

export interface RotationHistory {
  /** An anchor rotation in progress or finished is on record. */
  recorded: boolean;
  inProgress: RotationEntry | null;
  last: RotationEntry | null;
  /** State files that exist but could not be read (the rest of the report does not depend on them). */
  problems: string[];
  retiredAnchors: { directory: string; subject: string | null; fingerprint: string | null; notAfter: string | null }[];
  /** Issuers that signed certificates in the window, per the ledger, oldest first. */
  issuers: { fingerprint: string; certificates: number; firstIssued: string; lastIssued: string; current: boolean }[];
  /** Consecutive ledger records signed by different issuers. */
  issuerChanges: { time: string; seq: number; from: string; to: string }[];
}

// ---- policy and denials ----------------------------------------------------------------------------

export type PortStatus = 'enforced' | 'audit' | 'default' | 'unknown';

export interface PortCoverage {
  pod: string;
  port: number;
  /** The container port's name, when a Pod declares it. */
  name: string | null;
  /**
   * `enforced`: a Server decides and refuses whom it does not authorize; `audit`: a Server in
   * audit mode, or the `audit` default policy; `default`: no Server, another default policy
   * decides; `unknown`: seen in the decision logs on a pod the resources do not describe.
   */
  status: PortStatus;
  server: string | null;
  defaultPolicy: string | null;
  /** Some authorization on the port admits clients without a verified identity (plaintext included). */
  admitsUnauthenticated: boolean;
  declared: boolean;
  seenInDecisions: boolean;
}

export interface PolicyCoverage {
  resourcesLoaded: boolean;
  /** The cluster-wide default policy the evaluation assumed; null without resources. */
  defaultPolicy: string | null;
  ports: PortCoverage[];
  counts: { ports: number; enforced: number; audit: number; default: number; unknown: number };
  /** `identity audit`'s findings on the same resources; null without resources. */
  findings: { high: number; medium: number; low: number; info: number; items: { code: string; severity: string; message: string }[] } | null;
}

export interface DenialExample {
  time: string;
  decisionId: string;
  reason: string;
  pod: string;
  port: number;
  client: string;
}

export interface Denials {
  total: number;
  /** By the Server that refused (`server` null: a pod port on its default policy). */
  byServer: { target: string; server: string | null; pod: string | null; port: number | null; count: number; clients: number; example: DenialExample }[];
  /** By client: its identity, or `unauthenticated IP`. */
  byClient: { client: string; clientIdentity: string | null; clientIp: string | null; count: number; targets: number; example: DenialExample }[];
}

// ---- controls ------------------------------------------------------------------------------------

export type ControlStatus = 'pass' | 'fail' | 'not-applicable';

export interface Control {
  /** Stable: `nist-800-207-tenet-2`, `pci-dss-4.2.1`, `soc2-cc6.7`, ... */
  id: string;
  framework: 'NIST SP 800-207' | 'PCI DSS 4.0' | 'SOC 2' | 'meshidentity';
  /** `Tenet 2`, `Requirement 4.2.1`, `CC6.7`, ... */
  reference: string;
  title: string;
  status: ControlStatus;
  /** What in the data the status rests on, in one or two sentences. */
  evidence: string;
}

export interface ControlSummary {
  pass: number;
  fail: number;
  notApplicable: number;
}
