import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../../report/build.ts';
import { gatherRotation } from '../../report/gather/rotation.ts';
import { rotationEntry } from '../../report/sections/rotation.ts';
import { emptyInputs } from './inputs.ts';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'report-rotation-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function history() {
  return buildComplianceReport({ ...emptyInputs(), rotation: await gatherRotation(home) }).rotation;
}

describe('rotation history, read defensively', () => {
  it('absent: no rotation recorded, nothing to complain about', async () => {
    expect(await history()).toMatchObject({ recorded: false, inProgress: null, last: null, problems: [], retiredAnchors: [] });
  });

  it('in progress: the step running and the anchors', async () => {
    await writeFile(
      join(home, 'rotation.json'),
      JSON.stringify({ version: 1, id: 'r2', startedAt: '2026-08-01T10:00:00.000Z', completed: 'prepare', running: { step: 'wait-bundle', startedAt: '2026-08-01T10:01:00.000Z' }, aborting: null, oldAnchor: { fingerprint: 'a'.repeat(64), subject: 'CN=old', notAfter: '2027-01-01T00:00:00.000Z' }, newAnchor: null, phases: [] }),
    );
    expect(await history()).toMatchObject({ recorded: true, inProgress: { id: 'r2', completed: 'prepare', running: 'wait-bundle', aborting: false, oldAnchor: { subject: 'CN=old' }, newAnchor: null }, last: null });
  });

  it('unknown shapes: every field of another type reads as unknown', () => {
    expect(rotationEntry('f', { id: 42, running: 'activate', aborting: true, oldAnchor: 'CN=x', phases: [{ step: 7, durationMs: 'long' }, 'junk'], extra: { deep: true } })).toEqual({
      file: 'f',
      id: null,
      startedAt: null,
      updatedAt: null,
      finishedAt: null,
      outcome: null,
      completed: null,
      running: 'activate',
      aborting: true,
      oldAnchor: null,
      newAnchor: null,
      previousIssuer: null,
      newIssuer: null,
      phases: [{ step: 'unknown', startedAt: null, finishedAt: null, durationMs: null }],
    });
    expect(rotationEntry('f', [1, 2])).toBeNull();
  });

  it('unreadable files are listed as problems; the report goes on', async () => {
    await writeFile(join(home, 'rotation.json'), '{"version": 1, "id": ');
    await writeFile(join(home, 'rotation-last.json'), '"just a string"');
    const h = await history();
    expect(h.recorded).toBe(false);
    expect(h.problems).toEqual([`${join(home, 'rotation.json')}: not valid JSON`, `${join(home, 'rotation-last.json')}: not a rotation state this report understands (not a JSON object)`]);
  });

  it('retired anchors: listed, an unreadable one as such', async () => {
    await mkdir(join(home, 'anchor-retired-2026-08-01T00_00_00Z'));
    await writeFile(join(home, 'anchor-retired-2026-08-01T00_00_00Z', 'tls.crt'), 'not a certificate');
    expect((await history()).retiredAnchors).toEqual([{ directory: 'anchor-retired-2026-08-01T00_00_00Z', subject: null, fingerprint: null, notAfter: null }]);
  });
});
