import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';
import { WatchRecorder } from '../support/watch-recorder.ts';
import { apiError, startKubeApi } from './support.ts';

/** The test API server, checked through the real client library: it must behave as kube-apiserver does. */

/** A raw HTTPS request, for what the client library does not show (the Status body of a 401). */
function raw(api: KubeApiServer, path: string, token?: string): Promise<{ code: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    const req = request(`${api.url}${path}`, { ca: api.caPem, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

let api: KubeApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  ({ api, kc, core } = await startKubeApi({ historyLimit: 50 }));
});
afterAll(() => api.close());

describe('REST', () => {
  it('creates, reads, lists, replaces and deletes a Secret', async () => {
    const created = await core.createNamespacedSecret({
      namespace: 'default',
      body: { metadata: { name: 'crud' }, type: 'Opaque', stringData: { hello: 'world' } },
    });
    expect(created.data).toEqual({ hello: Buffer.from('world').toString('base64') });
    expect(created.stringData).toBeUndefined();
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const rv = created.metadata!.resourceVersion!;
    expect(typeof rv).toBe('string');

    const read = await core.readNamespacedSecret({ name: 'crud', namespace: 'default' });
    expect(read.kind).toBe('Secret');
    expect(read.metadata?.resourceVersion).toBe(rv);

    const list = await core.listNamespacedSecret({ namespace: 'default', fieldSelector: 'metadata.name=crud' });
    expect(list.kind).toBe('SecretList');
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['crud']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(rv));

    const replaced = await core.replaceNamespacedSecret({
      name: 'crud',
      namespace: 'default',
      body: { ...read, data: { hello: Buffer.from('again').toString('base64') } },
    });
    expect(Number(replaced.metadata!.resourceVersion)).toBeGreaterThan(Number(rv));
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    const status = await core.deleteNamespacedSecret({ name: 'crud', namespace: 'default' });
    expect(status).toMatchObject({ status: 'Success', details: { name: 'crud', kind: 'secrets' } });
    expect((await apiError(core.readNamespacedSecret({ name: 'crud', namespace: 'default' }))).code).toBe(404);
  });

  it('answers 404 with a real Status object', async () => {
    const { code, status } = await apiError(core.readNamespacedConfigMap({ name: 'nope', namespace: 'linkerd' }));
    expect(code).toBe(404);
    expect(status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'configmaps "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'configmaps' },
      code: 404,
    });
  });

  it('answers 409 AlreadyExists on a second create and 409 Conflict on a stale resourceVersion', async () => {
    const body = { metadata: { name: 'twice' }, data: { k: 'v1' } };
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body });
    const exists = await apiError(core.createNamespacedConfigMap({ namespace: 'default', body }));
    expect(exists).toMatchObject({ code: 409, status: { reason: 'AlreadyExists', message: 'configmaps "twice" already exists' } });

    await core.replaceNamespacedConfigMap({ name: 'twice', namespace: 'default', body: { ...first, data: { k: 'v2' } } });
    const stale = await apiError(
      core.replaceNamespacedConfigMap({ name: 'twice', namespace: 'default', body: { ...first, data: { k: 'v3' } } }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ reason: 'Conflict', details: { name: 'twice', kind: 'configmaps' } });
    expect(String(stale.status?.['message'])).toContain('the object has been modified');
  });

  it('does not bump resourceVersion for an update that changes nothing', async () => {
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'same' }, data: { a: 'b' } } });
    const again = await core.replaceNamespacedConfigMap({ name: 'same', namespace: 'default', body: first });
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
  });

  it('validates as the real server does', async () => {
    const tls = await apiError(
      core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'bad-tls' }, type: 'kubernetes.io/tls', data: {} } }),
    );
    expect(tls).toMatchObject({ code: 422, status: { reason: 'Invalid' } });
    const ns = await apiError(core.createNamespacedSecret({ namespace: 'missing', body: { metadata: { name: 'x' } } }));
    expect(ns).toMatchObject({ code: 404, status: { message: 'namespaces "missing" not found' } });
    const b64 = await apiError(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'b64' }, data: { k: '%%%' } } }));
    expect(b64.code).toBe(400);
  });

  it('answers 401 for a missing or unknown token and 403 for a forbidden verb', async () => {
    const none = await raw(api, '/api/v1/namespaces/default/secrets');
    expect(none).toEqual({ code: 401, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 } });
    const unknown = kubeConfigFor(api, { token: 'who-is-this' }).makeApiClient(CoreV1Api);
    expect((await apiError(unknown.listNamespacedSecret({ namespace: 'default' }))).code).toBe(401);

    api.registerToken('reader', { username: 'system:serviceaccount:linkerd:identity' });
    api.forbid('reader', { verb: 'get', resource: 'secrets' });
    const reader = kubeConfigFor(api, { token: 'reader' }).makeApiClient(CoreV1Api);
    const denied = await apiError(reader.readNamespacedSecret({ name: 'any', namespace: 'linkerd' }));
    expect(denied).toMatchObject({ code: 403, status: { kind: 'Status', reason: 'Forbidden', details: { name: 'any', kind: 'secrets' } } });
    expect(String(denied.status?.['message'])).toBe(
      'secrets "any" is forbidden: User "system:serviceaccount:linkerd:identity" cannot get resource "secrets" in API group "" in the namespace "linkerd"',
    );
    await expect(reader.readNamespacedConfigMap({ name: 'any', namespace: 'linkerd' })).rejects.toMatchObject({ code: 404 });
  });

  it('answers injected 500s and 503s as Status objects, then recovers', async () => {
    api.fail({ code: 503, count: 1 });
    const down = await apiError(core.listNamespacedConfigMap({ namespace: 'default' }));
    expect(down).toMatchObject({ code: 503, status: { reason: 'ServiceUnavailable' } });
    api.fail({ code: 500, count: 1, match: (r) => r.path.endsWith('/configmaps') });
    expect((await apiError(core.listNamespacedConfigMap({ namespace: 'default' }))).code).toBe(500);
    await expect(core.listNamespacedConfigMap({ namespace: 'default' })).resolves.toMatchObject({ kind: 'ConfigMapList' });
  });
});

describe('watch', () => {
  const path = '/api/v1/namespaces/linkerd/configmaps';

  it('streams ADDED, MODIFIED and DELETED for the selected object only', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'linkerd' });
    const w = WatchRecorder.open(kc, path, { resourceVersion: list.metadata!.resourceVersion, fieldSelector: 'metadata.name=watched' });
    await api.waitForWatches((ws) => ws.some((x) => x.fieldSelector === 'metadata.name=watched'));
    api.putConfigMap('linkerd', { metadata: { name: 'other' }, data: { a: '1' } });
    api.putConfigMap('linkerd', { metadata: { name: 'watched' }, data: { a: '1' } });
    api.putConfigMap('linkerd', { metadata: { name: 'watched' }, data: { a: '2' } });
    api.deleteObject('configmaps', 'linkerd', 'watched');
    const events = [await w.next(), await w.next(), await w.next()];
    expect(events.map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ['ADDED', 'watched'],
      ['MODIFIED', 'watched'],
      ['DELETED', 'watched'],
    ]);
    expect(events[1]!.object['data']).toEqual({ a: '2' });
    const rvs = events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!).toBe(true);
    w.abort();
    await w.ended;
  });

  it('starts with the current state when no resourceVersion is given, and sends bookmarks when allowed', async () => {
    api.putConfigMap('linkerd', { metadata: { name: 'initial' }, data: { a: '1' } });
    const w = WatchRecorder.open(kc, path, { fieldSelector: 'metadata.name=initial', allowWatchBookmarks: true });
    expect((await w.next()).type).toBe('ADDED');
    await api.waitForWatches((ws) => ws.some((x) => x.fieldSelector === 'metadata.name=initial'));
    api.sendBookmarks();
    const bookmark = await w.next();
    expect(bookmark).toMatchObject({ type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: api.resourceVersion } } });
    w.abort();
    await w.ended;
  });

  it('replays history after a resourceVersion, so a dropped watch can resume without loss', async () => {
    const from = api.putConfigMap('linkerd', { metadata: { name: 'resume' }, data: { v: '1' } }).metadata.resourceVersion;
    const w = WatchRecorder.open(kc, path, { resourceVersion: from, fieldSelector: 'metadata.name=resume' });
    await api.waitForWatches((ws) => ws.some((x) => x.fieldSelector === 'metadata.name=resume'));
    expect(api.dropWatches({ abrupt: true })).toBeGreaterThan(0);
    await w.ended;
    api.putConfigMap('linkerd', { metadata: { name: 'resume' }, data: { v: '2' } });
    const again = WatchRecorder.open(kc, path, { resourceVersion: from, fieldSelector: 'metadata.name=resume' });
    expect(await again.next()).toMatchObject({ type: 'MODIFIED', object: { data: { v: '2' } } });
    api.dropWatches();
    expect(await again.ended).toBeNull();
  });

  it('sends ERROR 410 Expired for a compacted resourceVersion and ends the stream', async () => {
    const old = api.putConfigMap('linkerd', { metadata: { name: 'expired' }, data: { v: '1' } }).metadata.resourceVersion;
    api.putConfigMap('linkerd', { metadata: { name: 'expired' }, data: { v: '2' } });
    api.compact();
    const w = WatchRecorder.open(kc, path, { resourceVersion: old, fieldSelector: 'metadata.name=expired' });
    const event = await w.next();
    expect(event.type).toBe('ERROR');
    expect(event.object).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 });
    expect(String(event.object['message'])).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    await w.ended;
    // From the current revision the watch works again.
    const fresh = WatchRecorder.open(kc, path, { resourceVersion: api.resourceVersion, fieldSelector: 'metadata.name=expired' });
    await api.waitForWatches((ws) => ws.some((x) => x.fieldSelector === 'metadata.name=expired'));
    api.putConfigMap('linkerd', { metadata: { name: 'expired' }, data: { v: '3' } });
    expect((await fresh.next()).type).toBe('MODIFIED');
    fresh.abort();
    await fresh.ended;
  });

  it('refuses a watch with a 403 when the verb is forbidden', async () => {
    api.registerToken('no-watch', { username: 'someone' });
    api.forbid('no-watch', { verb: 'watch' });
    const w = WatchRecorder.open(kubeConfigFor(api, { token: 'no-watch' }), path, {});
    expect(await w.ended).toMatchObject({ statusCode: 403 });
  });
});

describe('TokenReview', () => {
  const review = (token: string, audiences?: string[]) =>
    kc.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } },
    });

  it('authenticates a registered token for an audience it carries', async () => {
    api.registerToken('sa-token', { username: 'system:serviceaccount:emojivoto:web', uid: 'u-1', audiences: ['identity.l5d.io'] });
    const answer = await review('sa-token', ['identity.l5d.io', 'other']);
    expect(answer.status).toEqual({
      authenticated: true,
      user: { username: 'system:serviceaccount:emojivoto:web', uid: 'u-1', groups: ['system:serviceaccounts', 'system:serviceaccounts:emojivoto', 'system:authenticated'] },
      audiences: ['identity.l5d.io'],
    });
  });

  it('does not authenticate a token for another audience, an unknown token or a revoked one', async () => {
    api.registerToken('api-only', { username: 'system:serviceaccount:a:b' });
    const wrongAud = await review('api-only', ['identity.l5d.io']);
    expect(wrongAud.status).toMatchObject({ authenticated: false, user: {} });
    expect(wrongAud.status?.error).toContain('is invalid for the target audiences');
    // Without audiences in the spec, the API server's own audiences apply.
    expect((await review('api-only')).status?.authenticated).toBe(true);
    expect((await review('never-issued', ['identity.l5d.io'])).status).toMatchObject({ authenticated: false });
    api.revokeToken('api-only');
    expect((await review('api-only')).status?.error).toContain('invalidated');
  });

  it('answers 400 for an empty token and 403 when the caller may not create reviews', async () => {
    expect((await apiError(review(''))).code).toBe(400);
    api.registerToken('no-review', { username: 'system:serviceaccount:linkerd:identity' });
    api.forbid('no-review', { resource: 'tokenreviews' });
    const denied = kubeConfigFor(api, { token: 'no-review' }).makeApiClient(AuthenticationV1Api);
    const { code, status } = await apiError(denied.createTokenReview({ body: { spec: { token: 'x' } } }));
    expect(code).toBe(403);
    expect(status?.['message']).toBe(
      'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:linkerd:identity" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
    );
  });
});
