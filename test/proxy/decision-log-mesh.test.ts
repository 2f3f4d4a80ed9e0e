/**
 * The local mesh collects the proxies' decision logs: `identity mesh --once` runs every proxy
 * with `--decision-log <home>/mesh/decisions/<workload>.jsonl`, and after the run api's log holds
 * web's admitted connection and the intruder's denial, each a valid v1 record, readable as a
 * directory by `identity audit --decisions`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDecisionLogs, type DecisionRecord } from '../../policy/audit/decision-log.ts';
import { endMarkedRun, markedRunDir, processesMarked, runMeshOnce } from './support/mesh-once.ts';
import { WEB } from './support/process-mesh.ts';

const INTRUDER = WEB.replace(/^web\./, 'intruder.');
let dir: string;
let marker: string;

beforeAll(async () => {
  ({ dir, marker } = await markedRunDir('decision-log-mesh-', 'DECISION_LOG_MESH_RUN'));
});

afterAll(() => endMarkedRun(dir, marker));

describe('the local mesh and the decision logs', () => {
  it("writes every proxy's decisions to <home>/mesh/decisions/<workload>.jsonl", async () => {
    const home = join(dir, 'home');
    const result = await runMeshOnce(home, marker);
    expect(result.code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);

    const decisions = join(home, 'mesh', 'decisions');
    expect((await stat(decisions)).mode & 0o777).toBe(0o700);
    expect((await readdir(decisions)).sort()).toEqual(['api.jsonl', 'intruder.jsonl', 'web.jsonl']);
    for (const name of await readdir(decisions)) expect((await stat(join(decisions, name))).mode & 0o777).toBe(0o600);

    const records: Array<{ record: DecisionRecord; file: string }> = [];
    const summary = await readDecisionLogs([decisions], (record, at) => records.push({ record, file: at.file }));
    expect(summary.badLines).toBe(0);
    // Only api's proxy receives connections in the run (web's app is called by the mesh directly).
    expect(records.every((r) => r.file.endsWith('api.jsonl'))).toBe(true);
    const allowed = records.map((r) => r.record).filter((r) => r.decision === 'allow');
    const denied = records.map((r) => r.record).filter((r) => r.decision === 'deny');
    expect(allowed.length).toBeGreaterThanOrEqual(1);
    for (const r of allowed) {
      expect(r).toMatchObject({ pod: 'demo/api', clientIdentity: WEB, tls: true, server: 'demo/api', authorization: 'AuthorizationPolicy/demo/api-from-web' });
      expect(r.bytesIn).toBeGreaterThan(0);
      expect(r.bytesOut).toBeGreaterThan(0);
    }
    expect(denied.length).toBeGreaterThanOrEqual(1);
    for (const r of denied) expect(r).toMatchObject({ pod: 'demo/api', clientIdentity: INTRUDER, tls: true, authorization: null, bytesIn: 0, bytesOut: 0 });
    // The decision id the account prints is the record's.
    const printed = /decision id ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
    expect(denied.map((r) => r.decisionId)).toContain(printed);
    expect(await processesMarked(marker)).toEqual([]);
  }, 180_000);
});
