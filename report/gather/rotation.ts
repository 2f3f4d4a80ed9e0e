/**
 * The rotation state files of a home, and the anchors rotations retired. Read as found: absent
 * is normal, and a file of another shape is reported, never fatal. The names are those of
 * trust-anchors/rotation (HomeLayout), repeated here so that the report reads homes of any version.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RawStateFile, RotationInput } from '../inputs.ts';
import { certificateFacts, readCertificates } from './certificates.ts';
import { describeError } from './trust.ts';

const ROTATION_STATE = 'rotation.json';
const LAST_ROTATION_STATE = 'rotation-last.json';
const RETIRED_ANCHOR_PREFIX = 'anchor-retired-';
/** A state file is small; anything larger is not one. */
const MAX_STATE_BYTES = 1024 * 1024;

export async function gatherRotation(home: string): Promise<RotationInput> {
  return {
    current: await readStateFile(join(home, ROTATION_STATE)),
    last: await readStateFile(join(home, LAST_ROTATION_STATE)),
    retiredAnchors: await readRetiredAnchors(home),
  };
}

async function readStateFile(file: string): Promise<RawStateFile | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { file, error: describeError(err) };
  }
  if (text.length > MAX_STATE_BYTES) return { file, error: `larger than ${MAX_STATE_BYTES} bytes` };
  try {
    return { file, document: JSON.parse(text) as unknown };
  } catch {
    return { file, error: 'not valid JSON' };
  }
}

async function readRetiredAnchors(home: string): Promise<RotationInput['retiredAnchors']> {
  const entries = await readdir(home, { withFileTypes: true }).catch(() => []);
  const dirs = entries.filter((e) => e.isDirectory() && e.name.startsWith(RETIRED_ANCHOR_PREFIX)).map((e) => e.name).sort();
  const out: RotationInput['retiredAnchors'] = [];
  for (const directory of dirs) {
    const [cert] = await readCertificates(join(home, directory, 'tls.crt')).catch(() => []);
    out.push({ directory, certificate: cert ? certificateFacts(cert) : null });
  }
  return out;
}
