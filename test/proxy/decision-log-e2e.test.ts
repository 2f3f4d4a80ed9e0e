/**
 * The decision log end to end, in-process: real proxies with real certificates on 127.0.0.1.
 * api's proxy enforces a policy read from a watched directory (web admitted, everyone else
 * denied); db's proxy has no policy (all-unauthenticated) and no --pod. A controlled run of
 * mutually authenticated, plaintext and denied connections with known byte counts must leave
 * exactly those records, each accepted by policy/'s reader.
 *
 *   client ──> web / other proxy (outbound) ══ mTLS ══> api proxy (policy, decision log) ──> app
 *   client ─────────────────────── plaintext ─────────> api proxy / db proxy (decision log) ──> app
 *
 * The app answers every chunk twice over, so that a connection's bytes out are twice its bytes in.
 * The tests run in order: the last ones edit the policy and close db's proxy.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDecisionLine, readDecisionLogs, type DecisionRecord } from '../../policy/audit/decision-log.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { watchPolicyDirectory } from '../../policy/live/directory-source.ts';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { eventually, idOf, metric, startMesh, type Mesh } from './support/mesh.ts';
import { API_POD, apiPolicyYaml, capturingLogger, sendAndCollect, tryOnce, within, type CapturedLogs } from './support/policy.ts';
import { collect, dialLocal, startServer, waitForData, type TestServer } from './support/sockets.ts';

const WEB = idOf('web');
const OTHER = idOf('other');
const API = idOf('api');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MiB = 1024 * 1024;

let mesh: Mesh;
let app: TestServer;
let dir: string;
let policyFile: string;
let decisionsDir: string;
let logs: CapturedLogs;
let api: RunningProxy;
let db: RunningProxy;
let webToApi: number;
let otherToApi: number;
let startedAt: number;

const logFile = (name: string) => join(decisionsDir, `${name}.jsonl`);

beforeAll(async () => {
  startedAt = Date.now();
  [mesh, dir] = await Promise.all([startMesh(), mkdtemp(join(tmpdir(), 'decision-log-e2e-'))]);
  app = await startServer((socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([chunk, chunk])));
    socket.on('end', () => socket.end());
  });
  const policyDir = join(dir, 'policy');
  decisionsDir = join(dir, 'mesh', 'decisions'); // created by the proxies
  await mkdir(policyDir);
  policyFile = join(policyDir, 'api.yaml');
  await writeFile(policyFile, apiPolicyYaml({ appPort: app.port }));
  logs = capturingLogger('debug');
  const decisionLog = (name: string) => ({ path: logFile(name), maxSizeBytes: 10 * MiB, maxFiles: 5 });
  const policy = await watchPolicyDirectory({ paths: [policyDir], pod: API_POD, config: defaultEvaluatorConfig({ defaultPolicy: 'deny' }), logger: logs.logger });
  api = await mesh.proxy({ sa: 'api', appPort: app.port, pod: API_POD, policy, logger: logs.logger, decisionLog: decisionLog('api') });
  db = await mesh.proxy({ sa: 'db', appPort: app.port, decisionLog: decisionLog('db') });
  const apiRoute = { destination: { host: '127.0.0.1', port: api.ports.inbound }, identity: API, opaque: false };
  const web = await mesh.proxy({ sa: 'web', routes: [apiRoute] });
  const other = await mesh.proxy({ sa: 'other', routes: [apiRoute] });
  await Promise.all([api, db, web, other].map((p) => p.ready()));
  webToApi = web.ports.outbound[0]!;
  otherToApi = other.ports.outbound[0]!;
});

afterAll(async () => {
  await mesh?.close();
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends `size` bytes, half-closes, and reads the answer to its end: 2 x size bytes. */
async function exchange(port: number, size: number): Promise<void> {
  const { data, ending } = await sendAndCollect(port, size);
  expect(ending).toBe('end');
  expect(data.length).toBe(2 * size);
}

/** Every record of a proxy's log, once every connection it admitted has ended and the queue is written. */
async function records(proxy: RunningProxy, name: string): Promise<DecisionRecord[]> {
  await proxy.enforcement.settled(10_000);
  await proxy.decisionLog!.flush();
  const text = await readFile(logFile(name), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const parsed = parseDecisionLine(line);
      if ('error' in parsed) throw new Error(`policy/'s reader refused a line: ${parsed.error}\n${line}`);
      return parsed.record;
    });
}

const bySize = (a: DecisionRecord, b: DecisionRecord) => a.bytesIn - b.bytesIn;

describe('the decision log, end to end', () => {
  const MTLS = [1_000, 20_000, 300_000];
  const PLAINTEXT = [500, 70_000];

  it('records exactly the connections made: N mTLS admitted, M plaintext admitted, K denied, with their bytes', async () => {
    for (const size of MTLS) await exchange(webToApi, size);
    for (const size of PLAINTEXT) await exchange(db.ports.inbound, size);
    expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET'); // plaintext: the Server's accessPolicy deny
    expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET');
    expect(await tryOnce(otherToApi)).toBe('ECONNRESET'); // an identity the policy does not admit
    const now = Date.now();

    const apiRecords = await records(api, 'api');
    expect(apiRecords).toHaveLength(MTLS.length + 3);
    const allowed = apiRecords.filter((r) => r.decision === 'allow').sort(bySize);
    const denied = apiRecords.filter((r) => r.decision === 'deny');
    expect(allowed.map((r) => [r.bytesIn, r.bytesOut])).toEqual(MTLS.map((n) => [n, 2 * n]));
    for (const r of allowed) {
      expect(r).toEqual({
        v: 1,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        pod: API_POD,
        port: app.port,
        clientIdentity: WEB,
        clientIp: '127.0.0.1',
        tls: true,
        decision: 'allow',
        server: 'demo/api',
        authorization: 'AuthorizationPolicy/demo/api-from-web',
        reason: expect.stringContaining('api-from-web'),
        bytesIn: r.bytesIn,
        bytesOut: 2 * r.bytesIn,
        durationMs: expect.any(Number),
        decisionId: expect.stringMatching(UUID),
      });
      expect(r.durationMs).toBeGreaterThan(0);
      expect(Date.parse(r.time)).toBeGreaterThanOrEqual(startedAt);
      expect(Date.parse(r.time)).toBeLessThanOrEqual(now);
    }
    expect(denied).toHaveLength(3);
    const deniedShape = { pod: API_POD, port: app.port, clientIp: '127.0.0.1', server: 'demo/api', authorization: null, bytesIn: 0, bytesOut: 0, durationMs: 0 };
    expect(denied.filter((r) => !r.tls)).toEqual([expect.objectContaining({ ...deniedShape, clientIdentity: null }), expect.objectContaining({ ...deniedShape, clientIdentity: null })]);
    expect(denied.filter((r) => r.tls)).toEqual([expect.objectContaining({ ...deniedShape, clientIdentity: OTHER, reason: expect.stringContaining('demo/api') })]);

    // The ids are those of the proxy's own log lines.
    const ids = (event: string) => logs.events(event).map((e) => e.decisionId).sort();
    expect(allowed.map((r) => r.decisionId).sort()).toEqual(ids('inbound.allowed'));
    expect(denied.map((r) => r.decisionId).sort()).toEqual(ids('inbound.denied'));

    const dbRecords = await records(db, 'db');
    expect(dbRecords.sort(bySize)).toEqual(
      PLAINTEXT.map((n) =>
        expect.objectContaining({
          pod: 'demo/db', // no --pod: NS/SA of the local identity
          clientIdentity: null,
          tls: false,
          decision: 'allow',
          server: null,
          authorization: 'default/all-unauthenticated',
          bytesIn: n,
          bytesOut: 2 * n,
        }),
      ),
    );

    expect(await metric(api, 'proxy_decision_log_records_total')).toBe(6);
    expect(await metric(db, 'proxy_decision_log_records_total')).toBe(2);
    expect(await metric(api, 'proxy_decision_log_dropped_total')).toBe(0);
    expect((await stat(logFile('api'))).mode & 0o777).toBe(0o600);
    expect((await stat(decisionsDir)).mode & 0o777).toBe(0o700);

    // What `identity audit --decisions DIR` reads.
    const read = await readDecisionLogs([decisionsDir], () => {});
    expect(read).toMatchObject({ records: 8, badLines: 0 });
  });

  it("a revocation: the admission's record, with its bytes, and a deny record with the revocation's reason", async () => {
    const before = (await records(api, 'api')).length;
    const socket = await dialLocal(webToApi);
    const ended = collect(socket);
    socket.write('hello;');
    await within(waitForData(socket, (b) => b.toString() === 'hello;hello;'), 'the answer');
    const admission = logs.events('inbound.allowed').at(-1)!;

    const generation = api.policy.status().generation;
    await writeFile(policyFile, apiPolicyYaml({ appPort: app.port, admit: [OTHER] }));
    await eventually(() => api.policy.status().generation > generation, 5_000);
    expect((await within(ended, 'the revoked connection to end')).ending).toBe('ECONNRESET');
    const [revoked] = logs.events('inbound.revoked');

    const added = (await records(api, 'api')).slice(before);
    expect(added).toHaveLength(2);
    const denial = added.find((r) => r.decision === 'deny');
    const admitted = added.find((r) => r.decision === 'allow');
    expect(denial).toMatchObject({
      decisionId: revoked!.decisionId,
      reason: revoked!.reason,
      clientIdentity: WEB,
      tls: true,
      server: 'demo/api',
      authorization: null,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
    });
    expect(admitted).toMatchObject({ decisionId: admission.decisionId, clientIdentity: WEB, authorization: 'AuthorizationPolicy/demo/api-from-web', bytesIn: 6, bytesOut: 12 });
    expect(Date.parse(admitted!.time)).toBeLessThanOrEqual(Date.parse(denial!.time));
  });

  it("closing the proxy writes the records of the connections it closes, then flushes", async () => {
    const socket = await dialLocal(db.ports.inbound);
    const ended = collect(socket);
    socket.write('bye;');
    await within(waitForData(socket, (b) => b.toString() === 'bye;bye;'), 'the answer');
    await db.close();
    await within(ended, 'the connection to end');
    const text = await readFile(logFile('db'), 'utf8');
    const last = parseDecisionLine(text.trimEnd().split('\n').at(-1)!);
    expect(last).toMatchObject({ record: { pod: 'demo/db', decision: 'allow', bytesIn: 4, bytesOut: 8 } });
    expect(text.trimEnd().split('\n')).toHaveLength(3);
  });
});
