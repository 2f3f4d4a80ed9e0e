/**
 * Policy enforced end to end, in-process: real proxies with real certificates on 127.0.0.1, api's
 * policy read from a watched directory (Namespace, Pod, Server, MeshTLSAuthentication,
 * AuthorizationPolicy). Every proxy is on loopback, so clients are told apart by identity only.
 *
 *   test client ──> web / other proxy (outbound) ══ mTLS ══> api proxy (inbound, policy) ──> echo app
 *   plaintext client ───────────────────────────────────────> api / db proxies (inbound, policy)
 *
 * The tests run in order: later ones edit the policy file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { watchPolicyDirectory } from '../../policy/live/directory-source.ts';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { eventually, idOf, metric, startMesh, type Mesh } from './support/mesh.ts';
import { API_POD, apiPolicyYaml, capturingLogger, openConnection, tryOnce, within, type CapturedLogs } from './support/policy.ts';
import { echo, startServer, waitForData, type TestServer } from './support/sockets.ts';

const WEB = idOf('web');
const OTHER = idOf('other');
const API = idOf('api');
const DB = idOf('db');

let mesh: Mesh;
let app: TestServer;
let dir: string;
let policyFile: string;
let logs: CapturedLogs;
let api: RunningProxy;
let dbOpen: RunningProxy; // no Server for its pod; default all-unauthenticated
let dbClosed: RunningProxy; // no Server for its pod; default all-authenticated
let web: RunningProxy;
let other: RunningProxy;
const out = { webToApi: 0, otherToApi: 0, webToDbClosed: 0 };

beforeAll(async () => {
  [mesh, app, dir] = await Promise.all([startMesh(), startServer((s) => echo(s)), mkdtemp(join(tmpdir(), 'policy-e2e-'))]);
  policyFile = join(dir, 'api.yaml');
  await writeFile(policyFile, apiPolicyYaml({ appPort: app.port }));
  logs = capturingLogger('debug');
  const watchAs = (pod: string, defaultPolicy: 'deny' | 'all-unauthenticated' | 'all-authenticated') =>
    watchPolicyDirectory({ paths: [dir], pod, config: defaultEvaluatorConfig({ defaultPolicy }), logger: logs.logger });
  api = await mesh.proxy({ sa: 'api', appPort: app.port, pod: API_POD, policy: await watchAs(API_POD, 'deny'), logger: logs.logger });
  dbOpen = await mesh.proxy({ sa: 'db', appPort: app.port, pod: 'demo/db-0', policy: await watchAs('demo/db-0', 'all-unauthenticated') });
  dbClosed = await mesh.proxy({ sa: 'db', appPort: app.port, pod: 'demo/db-1', policy: await watchAs('demo/db-1', 'all-authenticated') });
  const apiRoute = { destination: { host: '127.0.0.1', port: api.ports.inbound }, identity: API, opaque: false };
  web = await mesh.proxy({ sa: 'web', routes: [apiRoute, { destination: { host: '127.0.0.1', port: dbClosed.ports.inbound }, identity: DB, opaque: false }] });
  other = await mesh.proxy({ sa: 'other', routes: [apiRoute] });
  await Promise.all([api, dbOpen, dbClosed, web, other].map((p) => p.ready()));
  [out.webToApi, out.webToDbClosed] = web.ports.outbound as [number, number];
  out.otherToApi = other.ports.outbound[0]!;
});

afterAll(async () => {
  await mesh?.close(); // closes the proxies, and so their policies
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Rewrites api's policy file; resolves once api's policy has applied it. */
async function editPolicy(yaml: string): Promise<void> {
  const generation = api.policy.status().generation;
  await writeFile(policyFile, yaml);
  await eventually(() => api.policy.status().generation > generation && api.policy.status().state === 'current', 5_000);
}

const authz = (labels: Record<string, string>) => ({ srv_group: 'policy.linkerd.io', srv_kind: 'server', srv_name: 'api', ...labels });

describe('policy enforcement', () => {
  it("admits web's identity, counted with Linkerd's labels", async () => {
    expect(await tryOnce(out.webToApi)).toBe('allowed');
    expect(await metric(api, 'inbound_tcp_authz_allow_total', authz({ authz_kind: 'authorizationpolicy', authz_name: 'api-from-web', tls: 'true', client_id: WEB }))).toBe(1);
  });

  it('refuses another identity: a reset, the deny counter and one log line naming everything', async () => {
    const before = app.accepted.length;
    expect(await tryOnce(out.otherToApi)).toBe('ECONNRESET');
    expect(app.accepted.length).toBe(before);
    expect(await metric(api, 'inbound_tcp_authz_deny_total', authz({ authz_kind: '', authz_name: '', tls: 'true', client_id: OTHER }))).toBe(1);
    expect(await metric(api, 'proxy_tcp_refused_total', { direction: 'inbound', reason: 'unauthorized' })).toBe(1);
    const denied = logs.events('inbound.denied').filter((r) => r.clientIdentity === OTHER);
    expect(denied).toEqual([
      expect.objectContaining({
        level: 30,
        decisionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        pod: API_POD,
        port: app.port,
        server: { kind: 'server', name: 'demo/api' },
        authorization: null,
        clientAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        tls: true,
        reason: expect.stringContaining('demo/api'),
      }),
    ]);
  });

  it("gives a plaintext client what the Server's accessPolicy says: deny", async () => {
    expect(await tryOnce(api.ports.inbound)).toBe('ECONNRESET');
    expect(await metric(api, 'inbound_tcp_authz_deny_total', authz({ tls: 'false', client_id: '' }))).toBe(1);
  });

  it('lets the default policy decide a pod no Server covers: all-unauthenticated admits plaintext, all-authenticated only identities', async () => {
    expect(await tryOnce(dbOpen.ports.inbound)).toBe('allowed');
    const open = { srv_group: '', srv_kind: 'default', srv_name: 'all-unauthenticated', authz_kind: 'default', authz_name: 'all-unauthenticated', tls: 'false', client_id: '' };
    expect(await metric(dbOpen, 'inbound_tcp_authz_allow_total', open)).toBe(1);

    expect(await tryOnce(dbClosed.ports.inbound)).toBe('ECONNRESET');
    expect(await metric(dbClosed, 'inbound_tcp_authz_deny_total', { srv_kind: 'default', srv_name: 'all-authenticated', tls: 'false' })).toBe(1);
    expect(await tryOnce(out.webToDbClosed)).toBe('allowed');
    expect(await metric(dbClosed, 'inbound_tcp_authz_allow_total', { srv_kind: 'default', srv_name: 'all-authenticated', client_id: WEB })).toBe(1);
  });

  it('reports the policy on /policy and /ready; an invalid edit keeps the policy, ready but stale', async () => {
    const admin = `http://127.0.0.1:${api.ports.admin}`;
    const doc = (await (await fetch(`${admin}/policy`)).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({ source: `directory ${dir}`, state: 'current', generation: 1, summary: 'current: policy generation 1 in force' });
    expect(await metric(api, 'proxy_inbound_policy_state', { state: 'current' })).toBe(1);

    await writeFile(policyFile, apiPolicyYaml({ appPort: app.port, admit: [OTHER], accessPolicy: 'maybe' }));
    await eventually(() => api.policy.status().state === 'stale', 5_000);
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { detail: { policy: Record<string, unknown> } };
    expect(body.detail.policy).toMatchObject({ state: 'stale', generation: 1, summary: 'stale: keeping the last policy received', detail: expect.stringMatching(/invalid policy/) });
    expect(await metric(api, 'proxy_inbound_policy_state', { state: 'stale' })).toBe(1);
    expect(logs.events('policy.invalid').length).toBeGreaterThanOrEqual(1);
    expect(await tryOnce(out.webToApi)).toBe('allowed'); // the last good policy
    expect(await tryOnce(out.otherToApi)).toBe('ECONNRESET');

    await editPolicy(apiPolicyYaml({ appPort: app.port }));
    expect(api.policy.status().generation).toBe(2);
  });

  it('on an edit that takes web\'s permission away: refuses new connections promptly, resets the open one, keeps the permitted one', async () => {
    await editPolicy(apiPolicyYaml({ appPort: app.port, admit: [WEB, OTHER] }));
    const fromWeb = await openConnection(out.webToApi);
    const fromOther = await openConnection(out.otherToApi);
    expect(api.enforcement.openConnections).toBe(2);

    await writeFile(policyFile, apiPolicyYaml({ appPort: app.port, admit: [OTHER] }));
    const written = performance.now();
    while ((await tryOnce(out.webToApi)) === 'allowed') {
      if (performance.now() - written > 5_000) throw new Error('web still admitted 5 s after the edit');
    }
    const elapsed = Math.round(performance.now() - written);
    console.log(`new connections from web refused ${elapsed} ms after the policy file was written`);
    // (The first refusal may be a probe that was open when the policy changed, and so revoked.)
    const denials = logs.events('inbound.denied').length;
    expect(await tryOnce(out.webToApi)).toBe('ECONNRESET');
    expect(logs.events('inbound.denied').length).toBe(denials + 1);

    // The open connection that lost its permission is reset; its client sees it.
    expect((await within(fromWeb.ended, 'the revoked connection to end')).ending).toBe('ECONNRESET');
    const revoked = logs.events('inbound.revoked');
    expect(revoked.length).toBeGreaterThanOrEqual(1);
    expect(revoked.every((r) => r.clientIdentity === WEB && r.pod === API_POD && /^[0-9a-f-]{36}$/.test(String(r.decisionId)))).toBe(true);
    expect(await metric(api, 'inbound_tcp_authz_terminate_total', authz({ authz_kind: '', authz_name: '', client_id: WEB, tls: 'true' }))).toBe(revoked.length);
    expect(await metric(api, 'inbound_tcp_authz_terminate_total', { client_id: OTHER })).toBe(0);

    // The one still permitted keeps passing bytes, both ways.
    fromOther.socket.write('still open;');
    await within(waitForData(fromOther.socket, (b) => b.toString() === 'still open;'), 'the permitted connection to echo');
    fromOther.socket.end();
    expect((await within(fromOther.ended, 'the permitted connection to close')).ending).toBe('end');
  });

  it('admits in audit mode what would be denied, and counts it as audit', async () => {
    await editPolicy(apiPolicyYaml({ appPort: app.port, admit: [OTHER], accessPolicy: 'audit' }));
    expect(await tryOnce(out.webToApi)).toBe('allowed');
    const labels = authz({ authz_kind: 'default', authz_name: 'audit', tls: 'true', client_id: WEB });
    expect(await metric(api, 'inbound_tcp_authz_audit_total', labels)).toBe(1);
    expect(await metric(api, 'inbound_tcp_authz_allow_total', labels)).toBe(1);
    expect(logs.events('inbound.audit')).toEqual([expect.objectContaining({ clientIdentity: WEB, server: { kind: 'server', name: 'demo/api' }, tls: true })]);
    // A client the AuthorizationPolicy admits is reported as admitted by it, not by audit.
    expect(await tryOnce(out.otherToApi)).toBe('allowed');
    expect(await metric(api, 'inbound_tcp_authz_audit_total', { client_id: OTHER })).toBe(0);
  });
});
