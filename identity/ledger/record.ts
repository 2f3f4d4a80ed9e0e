import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../common/errors.ts';

/** The `prev` of the first record. No record hashes to all zeros, so it cannot be forged as one. */
export const GENESIS_HASH = '0'.repeat(64);

/** One issued certificate, as the authority describes it. All times are ISO 8601 UTC. */
export interface LedgerEntry {
  time: string;
  identity: string;
  /** The certificate serial number, lowercase hex. */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER certificate, hex. */
  certSha256: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex. */
  publicKeySha256: string;
  /** SHA-256 of the issuer certificate's DER, hex. */
  issuerFingerprint: string;
  /** Who the token proved, e.g. `system:serviceaccount:NS:SA`. */
  tokenSubject: string;
}

/** What `append` accepts: times may be Dates, `time` defaults to the writer's clock. */
export type LedgerEntryInput = Omit<LedgerEntry, 'time' | 'notBefore' | 'notAfter'> & {
  time?: Date | string;
  notBefore: Date | string;
  notAfter: Date | string;
};

/** A line of the ledger: the entry, its place in the chain, and the hash that seals both. */
export interface LedgerRecord extends LedgerEntry {
  /** 1 for the first record, one more for each after it. */
  seq: number;
  /** `hash` of the record before, or GENESIS_HASH. */
  prev: string;
  /** SHA-256 over the canonical serialization of every other field. */
  hash: string;
}

// The hashed fields, in the order they are hashed and written. Changing the order or the tag
// changes every hash, so either change needs a new tag (and a reader for the old one).
const FIELDS = [
  'seq', 'time', 'identity', 'serial', 'notBefore', 'notAfter',
  'certSha256', 'publicKeySha256', 'issuerFingerprint', 'tokenSubject', 'prev',
] as const;
const HASH_TAG = 'meshidentity.ledger.v1\n';
const KNOWN_KEYS = new Set<string>([...FIELDS, 'hash']);

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const isHex64 = (v: string) => HEX64.test(v);
const isIso = (v: string) => ISO_UTC.test(v) && !Number.isNaN(Date.parse(v));
const isText = (v: string) => v.length > 0 && v.length <= 1024;

const ENTRY_RULES: ReadonlyArray<readonly [keyof LedgerEntry, (v: string) => boolean, string]> = [
  ['time', isIso, 'an ISO 8601 UTC time'],
  ['identity', isText, 'a non-empty string'],
  ['serial', (v) => /^[0-9a-f]{1,128}$/.test(v), 'lowercase hex'],
  ['notBefore', isIso, 'an ISO 8601 UTC time'],
  ['notAfter', isIso, 'an ISO 8601 UTC time'],
  ['certSha256', isHex64, '64 lowercase hex digits'],
  ['publicKeySha256', isHex64, '64 lowercase hex digits'],
  ['issuerFingerprint', isHex64, '64 lowercase hex digits'],
  ['tokenSubject', isText, 'a non-empty string'],
];

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hash a record must carry, computed from its fields (never from the line's text). */
export function hashRecord(record: Omit<LedgerRecord, 'hash'>): string {
  // An array of values in a fixed order: JSON escaping makes it unambiguous and key order moot.
  return sha256Hex(HASH_TAG + JSON.stringify(FIELDS.map((k) => record[k])));
}

export function sealRecord(entry: LedgerEntry, seq: number, prev: string): LedgerRecord {
  const body: Omit<LedgerRecord, 'hash'> = {
    seq,
    time: entry.time,
    identity: entry.identity,
    serial: entry.serial,
    notBefore: entry.notBefore,
    notAfter: entry.notAfter,
    certSha256: entry.certSha256,
    publicKeySha256: entry.publicKeySha256,
    issuerFingerprint: entry.issuerFingerprint,
    tokenSubject: entry.tokenSubject,
    prev,
  };
  return { ...body, hash: hashRecord(body) };
}

/** The record as one line of JSON, keys in the fixed order, newline-terminated. */
export function serializeRecord(record: LedgerRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const key of FIELDS) ordered[key] = record[key];
  ordered['hash'] = record.hash;
  return `${JSON.stringify(ordered)}\n`;
}

/** Checks and normalizes what a caller hands to `append`; throws InvalidArgumentError. */
export function normalizeEntry(input: LedgerEntryInput, now: Date): LedgerEntry {
  const entry: LedgerEntry = {
    time: isoOf(input.time ?? now, 'time'),
    identity: input.identity,
    serial: lower(input.serial),
    notBefore: isoOf(input.notBefore, 'notBefore'),
    notAfter: isoOf(input.notAfter, 'notAfter'),
    certSha256: lower(input.certSha256),
    publicKeySha256: lower(input.publicKeySha256),
    issuerFingerprint: lower(input.issuerFingerprint),
    tokenSubject: input.tokenSubject,
  };
  for (const [key, ok, what] of ENTRY_RULES) {
    const value: unknown = entry[key];
    if (typeof value !== 'string' || !ok(value)) {
      throw new InvalidArgumentError(`ledger entry field "${key}" must be ${what}`);
    }
  }
  return entry;
}

/** Parses one ledger line; a string result is the reason it is not a well-formed record. */
export function parseRecordLine(text: string): LedgerRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trim() === '' ? 'empty line' : 'not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const obj = value as Record<string, unknown>;
  // An unknown key would sit outside the hash, so it is refused rather than ignored.
  const extra = Object.keys(obj).find((k) => !KNOWN_KEYS.has(k));
  if (extra !== undefined) return `unexpected field "${extra.slice(0, 40)}"`;
  if (typeof obj['seq'] !== 'number' || !Number.isSafeInteger(obj['seq']) || obj['seq'] < 1) {
    return 'field "seq" is missing or not a positive integer';
  }
  for (const [key, ok, what] of [...ENTRY_RULES, ['prev', isHex64, 'a hash'] as const, ['hash', isHex64, 'a hash'] as const]) {
    const v = obj[key];
    if (typeof v !== 'string' || !ok(v)) return `field "${key}" is missing or not ${what}`;
  }
  return obj as unknown as LedgerRecord;
}

function isoOf(value: Date | string, field: string): string {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`ledger entry field "${field}" is not a valid time`);
  return date.toISOString();
}

function lower(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase() : (value as string);
}
