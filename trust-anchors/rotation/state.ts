import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { HomeLayout, writeFileAtomic } from '../directory-store.ts';
import { isFingerprint } from './fingerprints.ts';

/** The forward steps, in order. */
export const ROTATION_STEPS = ['prepare', 'wait-bundle', 'activate', 'wait-reissue', 'retire'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** A certificate as the state remembers it: enough to recognise it and tell people, no key. */
export interface CertificateFacts {
  fingerprint: string;
  subject: string;
  notAfter: string;
}

export interface PhaseRecord {
  step: RotationStep | 'abort';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/**
 * `rotation.json`: everything a run needs to resume a rotation where a crash left it. Written
 * atomically (mode 0600) before and after every step, and during a step after each change it
 * makes outside the home, so that a re-run knows what was done. No key material: keys stay in
 * their 0600 key-pair directories (`anchor-next/`, `issuer-before-rotation/`).
 */
export interface RotationState {
  version: 1;
  id: string;
  /** The store the rotation publishes to (`directory /x`, `Kubernetes Secret ...`): a resume against another is refused. */
  store: string;
  startedAt: string;
  updatedAt: string;
  /** The last forward step that finished; null until `prepare` has. */
  completed: RotationStep | null;
  /** A step begun and not finished (a crash, a timeout): the next run resumes it. */
  running: { step: RotationStep | 'abort'; startedAt: string } | null;
  /** Set once `abort` has begun; forward steps are refused from then on. */
  aborting: { startedAt: string } | null;
  oldAnchor: CertificateFacts;
  newAnchor: CertificateFacts | null;
  /** The bundle before the rotation (certificates only), restored by `abort`. */
  oldBundle: { pem: string; fingerprint: string };
  /** old + new: published by `prepare`. */
  transitionBundleFingerprint: string | null;
  /** new only: published by `retire`. */
  finalBundleFingerprint: string | null;
  /** The issuer in service before `activate`, kept (key in `issuer-before-rotation/`) so that `abort` can restore it. */
  previousIssuer: CertificateFacts | null;
  newIssuer: CertificateFacts | null;
  /** Chosen when `retire` begins, so that a resumed retire archives to the same place. */
  retiredAnchorDir: string | null;
  phases: PhaseRecord[];
  /** Only in `rotation-last.json`. */
  outcome?: 'completed' | 'aborted';
  finishedAt?: string;
}

/** Reads and writes the state files of one home. */
export class RotationStateFile {
  readonly path: string;
  readonly lastPath: string;

  constructor(home: string) {
    this.path = join(home, HomeLayout.rotationState);
    this.lastPath = join(home, HomeLayout.lastRotationState);
  }

  /** The rotation in progress, or undefined when there is none. */
  read(): Promise<RotationState | undefined> {
    return readState(this.path);
  }

  /** The last rotation that finished (completed or aborted), for `status`. */
  readLast(): Promise<RotationState | undefined> {
    return readState(this.lastPath);
  }

  async write(state: RotationState): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  /** Ends a rotation: its final state becomes `rotation-last.json`, then `rotation.json` goes. */
  async finish(state: RotationState): Promise<void> {
    await writeFileAtomic(this.lastPath, `${JSON.stringify(state, null, 2)}\n`, 0o600);
    await rm(this.path, { force: true });
  }
}

async function readState(path: string): Promise<RotationState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseRotationState(text, path);
}

/** Checks the shape that the code relies on; a state file edited into nonsense is refused, not guessed at. */
export function parseRotationState(text: string, source: string): RotationState {
  let doc: Partial<RotationState>;
  try {
    doc = JSON.parse(text) as Partial<RotationState>;
  } catch (err) {
    throw new ConfigError(`${source} is not valid JSON; restore it, or delete it only after checking the bundle and issuer by hand`, { cause: err });
  }
  const fail = (what: string): never => {
    throw new ConfigError(`${source}: ${what}; the rotation state is damaged (restore it, or check the bundle and issuer by hand)`);
  };
  if (typeof doc !== 'object' || doc === null || doc.version !== 1) fail('version is not 1');
  for (const key of ['id', 'store', 'startedAt', 'updatedAt'] as const) if (typeof doc[key] !== 'string') fail(`"${key}" is missing`);
  if (doc.completed !== null && !ROTATION_STEPS.includes(doc.completed as RotationStep)) fail('"completed" is not a step');
  if (doc.running !== null && (typeof doc.running !== 'object' || ![...ROTATION_STEPS, 'abort'].includes(doc.running?.step as string))) fail('"running" is not a step');
  if (!isFacts(doc.oldAnchor)) fail('"oldAnchor" is missing');
  for (const key of ['newAnchor', 'previousIssuer', 'newIssuer'] as const) if (doc[key] !== null && !isFacts(doc[key])) fail(`"${key}" is malformed`);
  if (typeof doc.oldBundle?.pem !== 'string' || !isFingerprint(doc.oldBundle.fingerprint)) fail('"oldBundle" is missing');
  for (const key of ['transitionBundleFingerprint', 'finalBundleFingerprint'] as const) if (doc[key] !== null && !isFingerprint(doc[key])) fail(`"${key}" is malformed`);
  if (doc.retiredAnchorDir !== null && (typeof doc.retiredAnchorDir !== 'string' || !doc.retiredAnchorDir.startsWith(HomeLayout.retiredAnchorPrefix))) {
    fail('"retiredAnchorDir" is malformed');
  }
  if (doc.aborting !== null && typeof doc.aborting?.startedAt !== 'string') fail('"aborting" is malformed');
  if (!Array.isArray(doc.phases)) fail('"phases" is missing');
  return doc as RotationState;
}

function isFacts(value: unknown): value is CertificateFacts {
  const v = value as CertificateFacts | null | undefined;
  return typeof v === 'object' && v !== null && isFingerprint(v.fingerprint) && typeof v.subject === 'string' && typeof v.notAfter === 'string';
}
