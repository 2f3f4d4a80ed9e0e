import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomObjectsApi, type CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';
import { WatchRecorder } from '../support/watch-recorder.ts';
import { apiError, startKubeApi } from './support.ts';

/**
 * The test API server beyond Secrets and ConfigMaps — Pods, ServiceAccounts, Namespaces and
 * Linkerd's policy.linkerd.io custom resources — checked through the real client library.
 */

const GROUP = 'policy.linkerd.io';

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
  ...extra,
});

const server = (name: string, apiVersion = `${GROUP}/v1beta3`) => ({
  apiVersion,
  kind: 'Server',
  metadata: { name },
  spec: { podSelector: { matchLabels: { app: 'api' } }, port: 'http' },
});

let api: KubeApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  ({ api, kc, core } = await startKubeApi({ historyLimit: 100 }));
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterAll(() => api.close());

describe('Namespaces (cluster-scoped)', () => {
  it('lists the namespaces that exist, with the name label, finalizer and phase the server adds', async () => {
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
    const list = await core.listNamespace();
    expect(list.kind).toBe('NamespaceList');
    expect(list.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'kube-system', 'linkerd', 'shop']));
    const shop = await core.readNamespace({ name: 'shop' });
    expect(shop.metadata?.labels).toEqual({ 'kubernetes.io/metadata.name': 'shop' });
    expect(shop.spec?.finalizers).toEqual(['kubernetes']);
    expect(shop.status?.phase).toBe('Active');
    const bad = await apiError(core.createNamespace({ body: { metadata: { name: 'Not.A.Label' } } }));
    expect(bad).toMatchObject({ code: 422, status: { reason: 'Invalid' } });
  });

  it('deleting a namespace answers with it Terminating and takes its objects along, with events', async () => {
    api.putPod('doomed', pod('p'));
    api.putServiceAccount('doomed', { metadata: { name: 'sa' } });
    const from = api.resourceVersion;
    const pods = WatchRecorder.open(kc, '/api/v1/pods', { resourceVersion: from });
    const namespaces = WatchRecorder.open(kc, '/api/v1/namespaces', { resourceVersion: from });
    await api.waitForWatches((ws) => ws.length >= 2);
    const answer = await core.deleteNamespace({ name: 'doomed' });
    expect(answer).toMatchObject({ kind: 'Namespace', status: { phase: 'Terminating' } });
    expect(await pods.next()).toMatchObject({ type: 'DELETED', object: { kind: 'Pod', metadata: { name: 'p', namespace: 'doomed' } } });
    expect((await namespaces.next()).type).toBe('MODIFIED');
    expect(await namespaces.next()).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'doomed' } } });
    expect((await apiError(core.readNamespacedServiceAccount({ name: 'sa', namespace: 'doomed' }))).code).toBe(404);
    pods.abort();
    namespaces.abort();
    await Promise.all([pods.ended, namespaces.ended]);
  });
});

describe('Pods and ServiceAccounts', () => {
  it('creates a pod with the defaults of the API server and lists it across namespaces', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('web-0') });
    expect(created.spec?.serviceAccountName).toBe('default');
    expect(created.spec?.containers[0]?.ports?.[0]?.protocol).toBe('TCP');
    expect(created.status?.phase).toBe('Pending');
    api.putPod('linkerd', pod('other-0'));
    const all = await core.listPodForAllNamespaces();
    expect(all.kind).toBe('PodList');
    expect(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual(expect.arrayContaining(['default/web-0', 'linkerd/other-0']));
    const selected = await core.listPodForAllNamespaces({ fieldSelector: 'spec.serviceAccountName=default,metadata.namespace=linkerd' });
    expect(selected.items.map((p) => p.metadata?.name)).toEqual(['other-0']);
  });

  it('refuses what kube-apiserver refuses: no containers, a bad port, a change of spec beyond images', async () => {
    const none = await apiError(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'empty' }, spec: { containers: [] } } }));
    expect(none).toMatchObject({ code: 422, status: { reason: 'Invalid', details: { causes: [{ field: 'spec.containers', message: 'Required value' }] } } });
    const port = await apiError(core.createNamespacedPod({ namespace: 'default', body: pod('badport', { spec: { containers: [{ name: 'a', image: 'i', ports: [{ containerPort: 0 }] }] } }) }));
    expect(port.code).toBe(422);
    const current = await core.createNamespacedPod({ namespace: 'default', body: pod('fixed') });
    const changed = structuredClone(current);
    changed.spec!.containers[0]!.ports![0]!.containerPort = 9090;
    const forbidden = await apiError(core.replaceNamespacedPod({ name: 'fixed', namespace: 'default', body: changed }));
    expect(forbidden.code).toBe(422);
    expect(String(forbidden.status?.['message'])).toContain('pod updates may not change fields other than');
    // Labels and annotations may change.
    const relabelled = await core.replaceNamespacedPod({ name: 'fixed', namespace: 'default', body: { ...current, metadata: { ...current.metadata, annotations: { a: 'b' } } } });
    expect(relabelled.metadata?.annotations).toEqual({ a: 'b' });
  });

  it('deletes a pod or a ServiceAccount answering with the object (a Secret answers with a Status)', async () => {
    api.putPod('default', pod('short'));
    expect(await core.deleteNamespacedPod({ name: 'short', namespace: 'default' })).toMatchObject({ kind: 'Pod', metadata: { name: 'short' } });
    api.putServiceAccount('default', { metadata: { name: 'robot' } });
    expect((await core.listServiceAccountForAllNamespaces()).items.map((s) => s.metadata?.name)).toContain('robot');
    expect(await core.deleteNamespacedServiceAccount({ name: 'robot', namespace: 'default' })).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'robot' } });
  });

  it('lists in chunks with limit and continue, at the revision of the first chunk', async () => {
    for (let i = 0; i < 5; i++) api.putPod('chunks', pod(`c-${i}`));
    const first = await core.listNamespacedPod({ namespace: 'chunks', limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['c-0', 'c-1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    api.putPod('chunks', pod('c-9'));
    const second = await core.listNamespacedPod({ namespace: 'chunks', limit: 2, _continue: first.metadata!._continue! });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['c-2', 'c-3']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    api.compact();
    const expired = await apiError(core.listNamespacedPod({ namespace: 'chunks', limit: 2, _continue: second.metadata!._continue! }));
    expect(expired).toMatchObject({ code: 410, status: { reason: 'Expired' } });
  });
});

describe('policy.linkerd.io custom resources', () => {
  it('serves every version of Server, rendering a stored object at the version asked for', async () => {
    api.putPolicy('servers', 'default', server('old', `${GROUP}/v1beta1`));
    const v3 = (await custom.getNamespacedCustomObject({ group: GROUP, version: 'v1beta3', namespace: 'default', plural: 'servers', name: 'old' })) as { apiVersion: string; kind: string };
    expect(v3).toMatchObject({ apiVersion: `${GROUP}/v1beta3`, kind: 'Server' });
    const v1 = (await custom.getNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'servers', name: 'old' })) as { apiVersion: string };
    expect(v1.apiVersion).toBe(`${GROUP}/v1beta1`);
    const missing = await apiError(custom.listClusterCustomObject({ group: GROUP, version: 'v1alpha9', plural: 'servers' }));
    expect(missing.code).toBe(404);
  });

  it('creates, lists (cluster-wide and per namespace), and deletes with the object as the answer', async () => {
    const body = {
      apiVersion: `${GROUP}/v1alpha1`,
      kind: 'AuthorizationPolicy',
      metadata: { name: 'api-from-web' },
      spec: { targetRef: { group: GROUP, kind: 'Server', name: 'api' }, requiredAuthenticationRefs: [] },
    };
    const created = (await custom.createNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'linkerd', plural: 'authorizationpolicies', body })) as { metadata: { uid: string } };
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    api.putPolicy('authorizationpolicies', 'default', { ...body, metadata: { name: 'elsewhere' } });
    const all = (await custom.listClusterCustomObject({ group: GROUP, version: 'v1alpha1', plural: 'authorizationpolicies' })) as { kind: string; apiVersion: string; items: { apiVersion: string; kind: string; metadata: { name: string } }[] };
    expect(all).toMatchObject({ kind: 'AuthorizationPolicyList', apiVersion: `${GROUP}/v1alpha1` });
    expect(all.items.map((i) => i.metadata.name).sort()).toEqual(['api-from-web', 'elsewhere']);
    expect(all.items[0]).toMatchObject({ apiVersion: `${GROUP}/v1alpha1`, kind: 'AuthorizationPolicy' });
    const one = (await custom.listNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'linkerd', plural: 'authorizationpolicies' })) as { items: unknown[] };
    expect(one.items).toHaveLength(1);
    const again = await apiError(custom.createNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'linkerd', plural: 'authorizationpolicies', body }));
    expect(again).toMatchObject({ code: 409, status: { reason: 'AlreadyExists', message: 'authorizationpolicies.policy.linkerd.io "api-from-web" already exists', details: { group: GROUP, kind: 'authorizationpolicies' } } });
    const gone = await custom.deleteNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'linkerd', plural: 'authorizationpolicies', name: 'api-from-web' });
    expect(gone).toMatchObject({ kind: 'AuthorizationPolicy', metadata: { name: 'api-from-web' } });
    const wrongVersion = await apiError(
      custom.createNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'linkerd', plural: 'meshtlsauthentications', body: { apiVersion: `${GROUP}/v1beta1`, kind: 'MeshTLSAuthentication', metadata: { name: 'x' }, spec: {} } }),
    );
    expect(wrongVersion.code).toBe(400);
  });

  it('watches a kind across namespaces at the version asked for, resumes after an abrupt drop, and says 410 after compaction', async () => {
    const from = api.resourceVersion;
    const path = `/apis/${GROUP}/v1beta3/servers`;
    const w = WatchRecorder.open(kc, path, { resourceVersion: from, allowWatchBookmarks: true });
    await api.waitForWatches((ws) => ws.some((x) => x.resource === 'servers'));
    api.putPolicy('servers', 'linkerd', server('watched', `${GROUP}/v1beta2`));
    expect(await w.next()).toMatchObject({ type: 'ADDED', object: { apiVersion: `${GROUP}/v1beta3`, kind: 'Server', metadata: { name: 'watched', namespace: 'linkerd' } } });
    api.sendBookmarks();
    expect(await w.next()).toMatchObject({ type: 'BOOKMARK', object: { kind: 'Server', apiVersion: `${GROUP}/v1beta3` } });
    const last = api.resourceVersion;
    api.dropWatches({ abrupt: true });
    await w.ended;
    api.deleteObject('servers', 'linkerd', 'watched');
    const resumed = WatchRecorder.open(kc, path, { resourceVersion: last });
    expect(await resumed.next()).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'watched' } } });
    resumed.abort();
    await resumed.ended;
    api.compact();
    const expired = WatchRecorder.open(kc, path, { resourceVersion: from });
    expect(await expired.next()).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    await expired.ended;
  });

  it('refuses a spec that is not an object, and a forbidden verb with the group in the message', async () => {
    const bad = await apiError(
      custom.createNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', namespace: 'default', plural: 'networkauthentications', body: { apiVersion: `${GROUP}/v1alpha1`, kind: 'NetworkAuthentication', metadata: { name: 'n' }, spec: 'nope' } }),
    );
    expect(bad).toMatchObject({ code: 422, status: { reason: 'Invalid' } });
    api.registerToken('policy-reader', { username: 'system:serviceaccount:linkerd:linkerd-destination' });
    api.forbid('policy-reader', { verb: 'list', resource: 'servers' });
    const reader = kubeConfigFor(api, { token: 'policy-reader' }).makeApiClient(CustomObjectsApi);
    const denied = await apiError(reader.listClusterCustomObject({ group: GROUP, version: 'v1beta3', plural: 'servers' }));
    expect(denied.code).toBe(403);
    expect(denied.status?.['message']).toBe(
      'servers.policy.linkerd.io is forbidden: User "system:serviceaccount:linkerd:linkerd-destination" cannot list resource "servers" in API group "policy.linkerd.io" at the cluster scope',
    );
  });
});
