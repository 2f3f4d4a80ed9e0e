import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { createInboundPolicyClient, type InboundPolicyClient } from '../../policy/api/client.ts';
import type { PolicyApiServer, PolicyApiServerOptions, PortPolicySource } from '../../policy/api/server.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { createServerTls } from '../support/kube-tls.ts';
import { PortWatchReader } from '../support/kube-policy.ts';
import { indexOfObjects, ManualSource, startTestPolicyApi } from './support-api.ts';

/** InboundServerPolicies over a source the test controls: the boundary, the statuses, the limits. */

const config = defaultEvaluatorConfig();

const POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', namespace: 'demo', labels: { app: 'api' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } };
const SERVER = { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'api', namespace: 'demo' }, spec: { podSelector: { matchLabels: { app: 'api' } }, port: 'http' } };

const indexOf = (objects: unknown[]) => indexOfObjects(objects, config);

let server: PolicyApiServer | undefined;
let client: InboundPolicyClient | undefined;

async function serve(source: PortPolicySource, extra: Partial<PolicyApiServerOptions> = {}, credentials?: grpc.ChannelCredentials): Promise<InboundPolicyClient> {
  server = await startTestPolicyApi(source, extra);
  client = createInboundPolicyClient(`127.0.0.1:${server.port}`, credentials);
  return client;
}

afterEach(async () => {
  client?.close();
  await server?.close();
  server = client = undefined;
});

async function status(promise: Promise<unknown>): Promise<{ code: string; details: string }> {
  const err = (await promise.then(() => expect.unreachable('the call should have failed'), (e: unknown) => e)) as grpc.ServiceError;
  return { code: grpc.status[err.code]!, details: err.details };
}

describe('GetPort', () => {
  it('answers the port policy, for either workload form', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD, SERVER]));
    const c = await serve(source);
    for (const workload of ['demo:api-0', '{"ns":"demo","pod":"api-0"}']) {
      const answer = await c.getPort({ workload, port: 8080 });
      expect(answer.labels, workload).toEqual({ group: 'policy.linkerd.io', kind: 'server', name: 'api' });
      expect(answer.protocol?.kind).toBe('detect');
      expect(answer.authorizations).toEqual([]);
    }
    const byDefault = await c.getPort({ workload: 'demo:api-0', port: 9999 });
    expect(byDefault.labels).toMatchObject({ group: '', kind: 'default', name: 'all-unauthenticated' });
  });

  it('INVALID_ARGUMENT for a malformed workload or a port outside 1-65535', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD]));
    const c = await serve(source);
    for (const workload of ['', 'demo', 'demo:', ':api-0', 'demo/api-0', '{"ns":"demo"}', '{"ns":"demo","pod":7}', '{not json', 'Demo:API-0', `demo:${'a'.repeat(300)}`]) {
      expect(await status(c.getPort({ workload, port: 8080 })), workload).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringContaining('Invalid workload') });
    }
    for (const port of [0, 65536, 4_000_000_000]) {
      expect(await status(c.getPort({ workload: 'demo:api-0', port })), String(port)).toEqual({ code: 'INVALID_ARGUMENT', details: `Invalid port: ${port}` });
    }
  });

  it('NOT_FOUND for a pod the index does not hold, and for an external workload', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD]));
    const c = await serve(source);
    expect(await status(c.getPort({ workload: 'demo:nobody', port: 8080 }))).toMatchObject({ code: 'NOT_FOUND', details: expect.stringContaining('demo/nobody') });
    expect((await status(c.getPort({ workload: '{"ns":"demo","external_workload":"vm-1"}', port: 8080 }))).code).toBe('NOT_FOUND');
  });

  it('waits for a source that is not ready yet', async () => {
    const source = new ManualSource();
    const c = await serve(source);
    const pending = c.getPort({ workload: 'demo:api-0', port: 8080 });
    setTimeout(() => source.set(indexOf([POD, SERVER])), 100);
    expect((await pending).labels).toMatchObject({ name: 'api' });
  });
});

describe('WatchPort', () => {
  it('sends nothing before the source is ready, then the policy, then one replacement per change of that port', async () => {
    const source = new ManualSource();
    const c = await serve(source);
    const watch = new PortWatchReader(c, 'demo/api-0', 8080, config);
    await expect(watch.next(200)).rejects.toThrow(/no message/);
    source.set(indexOf([POD]));
    expect((await watch.next()).governor).toMatchObject({ kind: 'default', policy: 'all-unauthenticated' });
    source.set(indexOf([POD])); // the same policy, rebuilt
    source.set(indexOf([POD, SERVER]));
    expect((await watch.next()).governor).toEqual({ kind: 'server', server: 'demo/api' });
    expect(watch.unread).toBe(0);
    watch.cancel();
  });

  it('ends with NOT_FOUND for an unknown pod, and when the watched pod goes away', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD]));
    const c = await serve(source);
    const unknown = new PortWatchReader(c, 'demo/nobody', 8080, config);
    expect((await unknown.ended()).code).toBe(grpc.status.NOT_FOUND);
    const watch = new PortWatchReader(c, 'demo/api-0', 8080, config);
    await watch.next();
    source.set(indexOf([]));
    expect(await watch.ended()).toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('refuses watches beyond the limit with RESOURCE_EXHAUSTED, and accepts again once one closes', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD]));
    const c = await serve(source, { maxStreams: 2 });
    const a = new PortWatchReader(c, 'demo/api-0', 8080, config);
    const b = new PortWatchReader(c, 'demo/api-0', 8081, config);
    await Promise.all([a.next(), b.next()]);
    const third = new PortWatchReader(c, 'demo/api-0', 8082, config);
    expect(await third.ended()).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    a.cancel();
    await a.ended();
    // The server learns of the cancellation asynchronously; a retry soon succeeds.
    let fourth: PortWatchReader | undefined;
    for (let i = 0; i < 50 && !fourth; i++) {
      const attempt = new PortWatchReader(c, 'demo/api-0', 8083, config);
      try {
        await attempt.next(1_000);
        fourth = attempt;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(fourth).toBeDefined();
    fourth!.cancel();
    b.cancel();
  });

  it('ends open watches when the server closes, so that proxies go elsewhere', async () => {
    const source = new ManualSource();
    source.set(indexOf([POD]));
    const c = await serve(source);
    const watch = new PortWatchReader(c, 'demo/api-0', 8080, config);
    await watch.next();
    await server!.close();
    server = undefined;
    expect((await watch.ended()).code).toBe(grpc.status.OK);
  });
});

describe('TLS', () => {
  it('serves over TLS when given server credentials, to a client that trusts the CA', async () => {
    const tls = await createServerTls();
    const source = new ManualSource();
    source.set(indexOf([POD, SERVER]));
    const credentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }], false);
    const c = await serve(source, { credentials }, grpc.credentials.createSsl(Buffer.from(tls.caPem)));
    expect((await c.getPort({ workload: 'demo:api-0', port: 8080 })).labels).toMatchObject({ name: 'api' });
    const plaintext = createInboundPolicyClient(`127.0.0.1:${server!.port}`);
    expect((await status(plaintext.getPort({ workload: 'demo:api-0', port: 8080 }, { deadlineMs: 2_000 }))).code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
    plaintext.close();
  });
});
