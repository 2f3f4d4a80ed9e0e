/**
 * Rotation history: the anchor rotation on record (`rotation.json` while one runs,
 * `rotation-last.json` after), read defensively — any field of an unexpected type reads as
 * unknown, never as an error — plus the issuer changes the ledger shows (it records the
 * issuer of every certificate).
 */
import type { LedgerRecord } from '../../identity/ledger/index.ts';
import type { RawStateFile, RotationInput, TrustInput } from '../inputs.ts';
import type { CertificateRef, RotationEntry, RotationHistory } from '../model.ts';
import { earliest, latest } from '../window.ts';

/** @param records the ledger records in the window, in file (chain) order */
export function rotationHistory(input: RotationInput, records: readonly LedgerRecord[], trust: TrustInput): RotationHistory {
  const problems: string[] = [];
  const read = (raw: RawStateFile | null): RotationEntry | null => {
    if (!raw) return null;
    if ('error' in raw) {
      problems.push(`${raw.file}: ${raw.error}`);
      return null;
    }
    const entry = rotationEntry(raw.file, raw.document);
    if (!entry) problems.push(`${raw.file}: not a rotation state this report understands (not a JSON object)`);
    return entry;
  };
  const inProgress = read(input.current);
  const last = read(input.last);
  return {
    recorded: inProgress !== null || last !== null,
    inProgress,
    last,
    problems,
    retiredAnchors: input.retiredAnchors.map((r) => ({
      directory: r.directory,
      subject: r.certificate?.subject ?? null,
      fingerprint: r.certificate?.fingerprint ?? null,
      notAfter: r.certificate?.notAfter ?? null,
    })),
    ...issuerUse(records, trust.issuer?.fingerprint ?? null),
  };
}

function issuerUse(records: readonly LedgerRecord[], current: string | null): Pick<RotationHistory, 'issuers' | 'issuerChanges'> {
  const issuers = new Map<string, RotationHistory['issuers'][number]>();
  const issuerChanges: RotationHistory['issuerChanges'] = [];
  let previous: LedgerRecord | undefined;
  for (const r of records) {
    const use = issuers.get(r.issuerFingerprint);
    if (use) {
      use.certificates++;
      use.firstIssued = earliest(use.firstIssued, r.time);
      use.lastIssued = latest(use.lastIssued, r.time);
    } else {
      issuers.set(r.issuerFingerprint, { fingerprint: r.issuerFingerprint, certificates: 1, firstIssued: r.time, lastIssued: r.time, current: r.issuerFingerprint === current });
    }
    if (previous && previous.issuerFingerprint !== r.issuerFingerprint) {
      issuerChanges.push({ time: r.time, seq: r.seq, from: previous.issuerFingerprint, to: r.issuerFingerprint });
    }
    previous = r;
  }
  return { issuers: [...issuers.values()].sort((a, b) => Date.parse(a.firstIssued) - Date.parse(b.firstIssued)), issuerChanges };
}

/** Whatever of a rotation state can be read; null when the document is not an object at all. */
export function rotationEntry(file: string, doc: unknown): RotationEntry | null {
  if (!isObject(doc)) return null;
  const running = doc['running'];
  return {
    file,
    id: text(doc['id']),
    startedAt: text(doc['startedAt']),
    updatedAt: text(doc['updatedAt']),
    finishedAt: text(doc['finishedAt']),
    outcome: text(doc['outcome']),
    completed: text(doc['completed']),
    running: isObject(running) ? text(running['step']) : text(running),
    aborting: isObject(doc['aborting']) || doc['aborting'] === true,
    oldAnchor: certificateRef(doc['oldAnchor']),
    newAnchor: certificateRef(doc['newAnchor']),
    previousIssuer: certificateRef(doc['previousIssuer']),
    newIssuer: certificateRef(doc['newIssuer']),
    phases: Array.isArray(doc['phases'])
      ? doc['phases'].filter(isObject).map((p) => ({
          step: text(p['step']) ?? 'unknown',
          startedAt: text(p['startedAt']),
          finishedAt: text(p['finishedAt']),
          durationMs: typeof p['durationMs'] === 'number' && Number.isFinite(p['durationMs']) ? p['durationMs'] : null,
        }))
      : [],
  };
}

function certificateRef(value: unknown): CertificateRef | null {
  if (!isObject(value)) return null;
  const ref = { subject: text(value['subject']), fingerprint: text(value['fingerprint']), notAfter: text(value['notAfter']) };
  return ref.subject === null && ref.fingerprint === null && ref.notAfter === null ? null : ref;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short string, or null: a state file is no place for pages of text, nor for what is not text. */
function text(value: unknown): string | null {
  return typeof value === 'string' && value.length <= 1024 ? value : null;
}
