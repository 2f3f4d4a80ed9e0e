/**
 * The report checked against a controlled run of real proxies (in-process, real certificates from
 * a real identity service, real sockets on 127.0.0.1): a known number of mutually authenticated,
 * plaintext and refused connections with known byte counts goes through the proxies, which write
 * their decision logs; `identity report`'s model read from those logs and the home must give
 * exactly those figures.
 *
 *   web proxy ══ mTLS ══> api proxy (policy: web only; decision log) ──> app
 *   other proxy ══ mTLS ══> api proxy: refused
 *   plaintext client ───> api proxy: refused (the Server's accessPolicy deny)
 *   plaintext client ───> db proxy (no policy; decision log) ──> app
 *
 * The app answers every chunk twice, so a connection's bytes are its size three times over.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { watchPolicyDirectory } from '../../policy/live/directory-source.ts';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { buildComplianceReport, gatherReportInputs, type ComplianceReport } from '../../report/index.ts';
import { idOf, startMesh, type Mesh } from '../proxy/support/mesh.ts';
import { API_POD, apiPolicyYaml, sendAndCollect, tryOnce } from '../proxy/support/policy.ts';
import { startServer, type TestServer } from '../proxy/support/sockets.ts';
import { silentLogger } from '../../common/log.ts';

const OTHER = idOf('other');
const MiB = 1024 * 1024;
const MTLS = [1_000, 20_000, 300_000, 4_096];
const PLAINTEXT = [500, 70_000, 3];

let mesh: Mesh;
let app: TestServer;
let dir: string;
let report: ComplianceReport;

async function exchange(port: number, size: number): Promise<void> {
  const { data, ending } = await sendAndCollect(port, size);
  if (ending !== 'end' || data.length !== 2 * size) throw new Error(`exchange of ${size} bytes: ${ending} after ${data.length} bytes`);
}

beforeAll(async () => {
  [mesh, dir] = await Promise.all([startMesh(), mkdtemp(join(tmpdir(), 'report-real-'))]);
  app = await startServer((socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([chunk, chunk])));
    socket.on('end', () => socket.end());
  });
  const policyDir = join(dir, 'policy');
  const decisionsDir = join(dir, 'decisions');
  await mkdir(policyDir);
  await writeFile(join(policyDir, 'api.yaml'), apiPolicyYaml({ appPort: app.port }));
  const decisionLog = (name: string) => ({ path: join(decisionsDir, `${name}.jsonl`), maxSizeBytes: 10 * MiB, maxFiles: 5 });
  const policy = await watchPolicyDirectory({ paths: [policyDir], pod: API_POD, config: defaultEvaluatorConfig({ defaultPolicy: 'deny' }), logger: silentLogger });
  const api = await mesh.proxy({ sa: 'api', appPort: app.port, pod: API_POD, policy, decisionLog: decisionLog('api') });
  const db = await mesh.proxy({ sa: 'db', appPort: app.port, decisionLog: decisionLog('db') });
  const route = { destination: { host: '127.0.0.1', port: api.ports.inbound }, identity: idOf('api'), opaque: false };
  const web = await mesh.proxy({ sa: 'web', routes: [route] });
  const other = await mesh.proxy({ sa: 'other', routes: [route] });
  await Promise.all([api, db, web, other].map((p: RunningProxy) => p.ready()));

  for (const size of MTLS) await exchange(web.ports.outbound[0]!, size);
  for (const size of PLAINTEXT) await exchange(db.ports.inbound, size);
  expect(await tryOnce(other.ports.outbound[0]!)).toBe('ECONNRESET');
  expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET');
  for (const p of [api, db]) {
    await p.enforcement.settled(10_000);
    await p.decisionLog!.flush();
  }
  const inputs = await gatherReportInputs({ home: mesh.home.home, now: new Date(), decisions: [decisionsDir], resources: [policyDir], evaluator: { defaultPolicy: 'deny' } });
  report = buildComplianceReport(inputs);
}, 120_000);

afterAll(async () => {
  await mesh?.close();
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sum = (sizes: number[]) => sizes.reduce((a, b) => a + 3 * b, 0);

describe('identity report against a controlled run of real proxies', () => {
  it('counts exactly the mutually authenticated, plaintext and refused connections, and their bytes', () => {
    const { mtls } = report;
    expect(mtls.decisions).toEqual({ total: MTLS.length + PLAINTEXT.length + 2, allow: MTLS.length + PLAINTEXT.length, audit: 0, deny: 2 });
    expect(mtls.admitted).toEqual({
      connections: MTLS.length + PLAINTEXT.length,
      mtlsConnections: MTLS.length,
      plaintextConnections: PLAINTEXT.length,
      bytes: sum(MTLS) + sum(PLAINTEXT),
      mtlsBytes: sum(MTLS),
      plaintextBytes: sum(PLAINTEXT),
    });
    expect(mtls.denied).toEqual({ connections: 2, mtls: 1, plaintext: 1 });
    expect(mtls.connectionShare).toBeCloseTo(MTLS.length / (MTLS.length + PLAINTEXT.length), 10);
    expect(mtls.byteShare).toBeCloseTo(sum(MTLS) / (sum(MTLS) + sum(PLAINTEXT)), 10);
  });

  it('lists every plaintext flow, admitted or refused', () => {
    const flows = report.mtls.plaintextFlows.map((f) => ({ pod: f.pod, connections: f.connections, admitted: f.admitted, denied: f.denied, bytes: f.bytes }));
    expect(flows).toEqual(
      expect.arrayContaining([
        { pod: 'demo/db', connections: PLAINTEXT.length, admitted: PLAINTEXT.length, denied: 0, bytes: sum(PLAINTEXT) },
        { pod: API_POD, connections: 1, admitted: 0, denied: 1, bytes: 0 },
      ]),
    );
    expect(flows).toHaveLength(2);
  });

  it('names the denials by client, with the reason', () => {
    const byClient = Object.fromEntries(report.denials.byClient.map((c) => [c.client, c.count]));
    expect(report.denials.total).toBe(2);
    expect(byClient[OTHER]).toBe(1);
    const other = report.denials.byClient.find((c) => c.clientIdentity === OTHER)!;
    expect(other.example.reason).toContain(`admits ${OTHER}`);
  });

  it('inventories the certificates the identity service issued to these proxies, from a verified ledger', () => {
    const identities = report.inventory.identities.map((i) => i.identity);
    for (const sa of ['api', 'db', 'web', 'other']) expect(identities).toContain(idOf(sa));
    expect(report.ledger.verified).toBe(true);
    // Plaintext was admitted: the transmission controls fail, with the evidence saying so.
    const status = Object.fromEntries(report.controls.map((c) => [c.id, c.status]));
    expect(status['soc2-cc6.7']).toBe('fail');
    expect(status['nist-800-207-tenet-2']).toBe('fail');
    expect(status['ledger-integrity']).toBe('pass');
  });
});
