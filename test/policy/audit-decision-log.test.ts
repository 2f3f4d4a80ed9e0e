import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, exitCodeOf } from '../../common/errors.ts';
import { formatDecisionLine, listDecisionLogFiles, parseDecisionLine, readDecisionLogs, type DecisionRecord, type LogPosition } from '../../policy/audit/decision-log.ts';

const LOGS = fileURLToPath(new URL('./fixtures/audit/impact/decisions/', import.meta.url));

const RECORD: DecisionRecord = {
  v: 1,
  time: '2026-08-01T10:00:00.123Z',
  pod: 'demo/api-0',
  port: 8080,
  clientIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local',
  clientIp: '10.1.0.10',
  tls: true,
  decision: 'allow',
  server: 'demo/api-http',
  authorization: 'AuthorizationPolicy/demo/api-http-clients',
  reason: 'AuthorizationPolicy demo/api-http-clients admits web',
  bytesIn: 1200,
  bytesOut: 340,
  durationMs: 12.5,
  decisionId: '6f1c1a52-8f4e-4c47-9d1e-0c6a0f7e2b11',
};

const line = (overrides: Record<string, unknown>) => JSON.stringify({ ...RECORD, ...overrides });

async function readAll(paths: string[]) {
  const records: { record: DecisionRecord; at: LogPosition }[] = [];
  const summary = await readDecisionLogs(paths, (record, at) => records.push({ record, at }));
  return { summary, records };
}

describe('decision log: format', () => {
  it('a record survives format and parse; fields in the documented order; one line', () => {
    const text = formatDecisionLine(RECORD);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd()).not.toContain('\n');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['v', 'time', 'pod', 'port', 'clientIdentity', 'clientIp', 'tls', 'decision', 'server', 'authorization', 'reason', 'bytesIn', 'bytesOut', 'durationMs', 'decisionId']);
    expect(parseDecisionLine(text.trimEnd())).toEqual({ record: RECORD });
  });

  it('plaintext clients, default policies and denials are valid records', () => {
    const plaintext = line({ clientIdentity: null, tls: false, server: null, authorization: 'default/all-unauthenticated', time: '2026-08-01T12:00:00+02:00' });
    expect(parseDecisionLine(plaintext)).toHaveProperty('record');
    expect(parseDecisionLine(line({ decision: 'deny', authorization: null, clientIp: 'fd00::1' }))).toHaveProperty('record');
  });

  it('unknown fields are tolerated (later writers may add some)', () => {
    expect(parseDecisionLine(line({ node: 'worker-1' }))).toHaveProperty('record');
  });

  it.each([
    ['not JSON', '{"v":1,', 'not JSON'],
    ['an array', '[1]', 'not a JSON object'],
    ['another version', line({ v: 2 }), 'v: unsupported version 2 (this reader knows 1)'],
    ['no version', JSON.stringify({ ...RECORD, v: undefined }), 'v: unsupported version undefined'],
    ['a time without zone', line({ time: '2026-08-01T10:00:00' }), 'time: must be an ISO-8601 time with a zone'],
    ['a pod without namespace', line({ pod: 'api-0' }), 'pod: must be NAMESPACE/NAME (got "api-0")'],
    ['port 0', line({ port: 0 }), 'port: must be a port number 1-65535 (got 0)'],
    ['a port string', line({ port: '8080' }), 'port: must be a port number 1-65535 (got "8080")'],
    ['an empty identity', line({ clientIdentity: '' }), 'clientIdentity: must be an identity or null'],
    ['a bad address', line({ clientIp: '10.1.2' }), 'clientIp: must be an IP address (got "10.1.2")'],
    ['tls missing', JSON.stringify({ ...RECORD, tls: undefined }), 'tls: must be true or false (got nothing)'],
    ['an identity without TLS', line({ tls: false }), 'clientIdentity: a verified identity needs tls: true'],
    ['another decision', line({ decision: 'permit' }), 'decision: must be allow, deny or audit (got "permit")'],
    ['a server without namespace', line({ server: 'api' }), 'server: must be NAMESPACE/NAME or null'],
    ['an authorization of another form', line({ authorization: 'demo/web' }), 'authorization: must be Kind/NAMESPACE/NAME, default/POLICY or null'],
    ['no reason', line({ reason: 3 }), 'reason: must be a string'],
    ['negative bytes', line({ bytesIn: -1 }), 'bytesIn: must be a count of bytes'],
    ['fractional bytes', line({ bytesOut: 1.5 }), 'bytesOut: must be a count of bytes'],
    ['a duration string', line({ durationMs: '3ms' }), 'durationMs: must be a duration in milliseconds'],
    ['an empty decision id', line({ decisionId: '' }), 'decisionId: must be a non-empty id'],
    ['a runaway line', line({ reason: 'x'.repeat(70_000) }), 'longer than 65536 characters'],
  ])('refuses %s, saying which field', (_name, text, error) => {
    const parsed = parseDecisionLine(text);
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toContain(error);
  });
});

describe('decision log: reading', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'decision-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a directory: every log and its rotations, oldest first; other files left alone', async () => {
    await writeFile(join(dir, 'decisions.jsonl'), formatDecisionLine({ ...RECORD, decisionId: 'c' }));
    await writeFile(join(dir, 'decisions.jsonl.1'), formatDecisionLine({ ...RECORD, decisionId: 'b' }));
    await writeFile(join(dir, 'decisions.jsonl.10'), formatDecisionLine({ ...RECORD, decisionId: 'a' }));
    await writeFile(join(dir, 'decisions.jsonl.2'), formatDecisionLine({ ...RECORD, decisionId: 'a2' }));
    await writeFile(join(dir, 'proxy.log'), 'not a decision log\n');
    expect(await listDecisionLogFiles([dir])).toEqual(['decisions.jsonl.10', 'decisions.jsonl.2', 'decisions.jsonl.1', 'decisions.jsonl'].map((f) => join(dir, f)));
    const { records, summary } = await readAll([dir]);
    expect(records.map((r) => r.record.decisionId)).toEqual(['a', 'a2', 'b', 'c']);
    expect(summary).toMatchObject({ records: 4, badLines: 0, bad: [] });
  });

  it('the rotated fixture logs: 12 decisions in 3 files, each bad line with file:line', async () => {
    const { records, summary } = await readAll([LOGS]);
    expect(summary.files.map((f) => f.slice(LOGS.length))).toEqual(['decisions.jsonl.2', 'decisions.jsonl.1', 'decisions.jsonl']);
    expect(summary.records).toBe(12);
    expect(records).toHaveLength(12);
    expect(summary.badLines).toBe(2);
    expect(summary.bad).toEqual([
      { file: `${LOGS}decisions.jsonl.2`, line: 3, reason: 'not JSON' },
      { file: `${LOGS}decisions.jsonl.1`, line: 2, reason: 'port: must be a port number 1-65535 (got 0)' },
    ]);
    // Positions count every line, bad and blank ones included.
    expect(records[3]!.at).toEqual({ file: `${LOGS}decisions.jsonl.2`, line: 5 });
  });

  it('a file argument reads that file only; CRLF lines and a cut last line are handled', async () => {
    const file = join(dir, 'decisions.jsonl');
    await writeFile(file, `${line({ decisionId: 'x' })}\r\n\r\n${line({ decisionId: 'y' })}\r\n${line({ decisionId: 'z' }).slice(0, 40)}`);
    await writeFile(join(dir, 'decisions.jsonl.1'), formatDecisionLine(RECORD));
    const { records, summary } = await readAll([file]);
    expect(records.map((r) => [r.record.decisionId, r.at.line])).toEqual([['x', 1], ['y', 3]]);
    expect(summary).toEqual({ files: [file], records: 2, badLines: 1, bad: [{ file, line: 4, reason: 'not JSON' }] });
  });

  it('bad lines are all counted, the first 100 kept', async () => {
    const file = join(dir, 'decisions.jsonl');
    await writeFile(file, `${'garbage\n'.repeat(150)}${formatDecisionLine(RECORD)}`);
    const { summary } = await readAll([file]);
    expect(summary.records).toBe(1);
    expect(summary.badLines).toBe(150);
    expect(summary.bad).toHaveLength(100);
    expect(summary.bad[99]).toEqual({ file, line: 100, reason: 'not JSON' });
  });

  it('a path that does not exist is missing input', async () => {
    const err = await readDecisionLogs([join(dir, 'nope')], () => {}).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(ExitCode.NO_INPUT);
    expect((err as Error).message).toContain('decision log: no file or directory at');
  });
});
