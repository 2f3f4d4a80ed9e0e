import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, UnavailableError } from '../../common/errors.ts';
import { KubernetesTrustStore, type KubernetesTrustStoreOptions } from '../../trust-anchors/kubernetes-store.ts';
import type { Subscription } from '../../trust-anchors/store.ts';
import { KubeApiServer, type RequestRecord } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`;
const CERT = pem('CERTIFICATE', 'issuer certificate');
const KEY = pem('PRIVATE KEY', 'issuer key');
const ANCHOR = pem('CERTIFICATE', 'trust anchor');

let api: KubeApiServer;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  api = await KubeApiServer.start();
});
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.close();
  await api.close();
});

function store(options: Partial<KubernetesTrustStoreOptions> = {}): KubernetesTrustStore {
  return new KubernetesTrustStore({ kubeConfig: kubeConfigFor(api), backoff: { initialMs: 10, maxMs: 40 }, debounceMs: 1, ...options });
}

function putIssuer(extra: Record<string, unknown> = {}): void {
  api.putSecret('linkerd', {
    metadata: { name: 'linkerd-identity-issuer' },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': CERT, 'tls.key': KEY, 'ca.crt': ANCHOR },
    ...extra,
  });
}

function putBundle(text = ANCHOR): void {
  api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': text } });
}

/** Counts onChange calls and lets a test await the n-th one (or fail after 15 s). */
function changeCounter() {
  let count = 0;
  const waiting = new Set<() => void>();
  return {
    get count() {
      return count;
    },
    onChange: () => {
      count++;
      for (const w of [...waiting]) w();
    },
    reach(n: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`onChange was called ${count} times, not ${n}`));
        }, 15_000);
        const check = () => {
          if (count < n) return;
          clearTimeout(timer);
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      });
    },
  };
}

const rejection = (p: Promise<unknown>) => p.then(() => expect.unreachable('should have failed'), (e: unknown) => e as Error);
const isWatch = (r: RequestRecord, resource: string) => r.query['watch'] === 'true' && r.path.endsWith(`/${resource}`);
const isList = (r: RequestRecord, resource: string) => r.method === 'GET' && !r.query['watch'] && r.path.endsWith(`/${resource}`);

describe('read', () => {
  it('reads the issuer Secret and the bundle ConfigMap as cert-manager and Linkerd write them', async () => {
    putIssuer();
    putBundle();
    const s = store();
    expect(s.description).toBe('Kubernetes Secret linkerd/linkerd-identity-issuer, ConfigMap linkerd/linkerd-identity-trust-roots');
    expect(await s.readIssuer()).toEqual({ certificatePem: CERT, privateKeyPem: KEY, caPem: ANCHOR, source: 'Secret linkerd/linkerd-identity-issuer' });
    expect(await s.readBundle()).toEqual({ pem: ANCHOR, source: 'ConfigMap linkerd/linkerd-identity-trust-roots' });
  });

  it('honours other names and namespaces', async () => {
    api.putSecret('mesh', { metadata: { name: 'issuer' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': CERT, 'tls.key': KEY } });
    api.putConfigMap('mesh', { metadata: { name: 'roots' }, data: { 'roots.pem': ANCHOR } });
    const s = store({ namespace: 'mesh', issuerSecretName: 'issuer', bundleConfigMapName: 'roots', bundleKey: 'roots.pem' });
    expect(await s.readIssuer()).toMatchObject({ caPem: '', source: 'Secret mesh/issuer' });
    expect((await s.readBundle()).pem).toBe(ANCHOR);
  });

  it('says which object is missing, and what to do', async () => {
    const s = store();
    const issuer = await rejection(s.readIssuer());
    expect(issuer).toBeInstanceOf(NotFoundError);
    expect(issuer.message).toMatch(/^Secret linkerd\/linkerd-identity-issuer does not exist; create it as a kubernetes.io\/tls Secret/);
    const bundle = await rejection(s.readBundle());
    expect(bundle).toBeInstanceOf(NotFoundError);
    expect(bundle.message).toContain('ConfigMap linkerd/linkerd-identity-trust-roots does not exist');
    api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { other: 'x' } });
    expect((await rejection(s.readBundle())).message).toContain('has no "ca-bundle.crt" key');
  });
});

describe('an API server that cannot help', () => {
  it('is UnavailableError when nothing listens', async () => {
    const gone = await KubeApiServer.start();
    const kubeConfig = kubeConfigFor(gone);
    await gone.close();
    const err = await rejection(new KubernetesTrustStore({ kubeConfig }).readIssuer());
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain(`cannot reach the Kubernetes API server at ${gone.url}`);
  });

  it('is UnavailableError for 503, for 403, and for an answer that never comes', async () => {
    api.fail({ code: 503, count: 1 });
    expect(await rejection(store().readBundle())).toBeInstanceOf(UnavailableError);

    api.registerToken('limited', { username: 'system:serviceaccount:linkerd:identity' });
    api.forbid('limited', { resource: 'secrets' });
    const denied = await rejection(store({ kubeConfig: kubeConfigFor(api, { token: 'limited' }) }).readIssuer());
    expect(denied).toBeInstanceOf(UnavailableError);
    expect(denied.message).toContain('RBAC');

    api.hang({ count: 1 });
    const hung = await rejection(store({ requestTimeoutMs: 200 }).readBundle());
    expect(hung).toBeInstanceOf(UnavailableError);
    expect(hung.message).toContain('no answer within 200 ms');
    await api.waitUntil(() => api.connections === 0, 'the timed-out connection to close');
  });
});

describe('write', () => {
  it('creates the issuer as a kubernetes.io/tls Secret, then replaces it keeping labels and other keys', async () => {
    const s = store();
    await s.writeIssuer({ certificatePem: CERT, privateKeyPem: KEY, caPem: ANCHOR });
    const created = api.getObject('secrets', 'linkerd', 'linkerd-identity-issuer')!;
    expect(created['type']).toBe('kubernetes.io/tls');
    expect(created['data']).toEqual({
      'tls.crt': Buffer.from(CERT).toString('base64'),
      'tls.key': Buffer.from(KEY).toString('base64'),
      'ca.crt': Buffer.from(ANCHOR).toString('base64'),
    });
    putIssuer({ metadata: { name: 'linkerd-identity-issuer', labels: { owner: 'cert-manager' } }, stringData: { 'tls.crt': CERT, 'tls.key': KEY, extra: 'kept' } });

    const next = pem('CERTIFICATE', 'rotated issuer');
    await s.writeIssuer({ certificatePem: next, privateKeyPem: KEY, caPem: ANCHOR });
    expect(await s.readIssuer()).toMatchObject({ certificatePem: next, privateKeyPem: KEY, caPem: ANCHOR });
    const replaced = api.getObject('secrets', 'linkerd', 'linkerd-identity-issuer')!;
    expect(replaced.metadata.labels).toEqual({ owner: 'cert-manager' });
    expect((replaced['data'] as Record<string, string>)['extra']).toBe(Buffer.from('kept').toString('base64'));
    expect(replaced.metadata.uid).toBe(created.metadata.uid);
  });

  it('re-reads and retries when another writer changes the ConfigMap between our read and our PUT (409 Conflict)', async () => {
    putBundle();
    api.beforeRequest(
      (r) => r.method === 'PUT',
      () => api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': ANCHOR, theirs: 'yes' } }),
    );
    const next = ANCHOR + pem('CERTIFICATE', 'new anchor');
    await store().writeBundle(next);
    expect(api.getObject('configmaps', 'linkerd', 'linkerd-identity-trust-roots')?.['data']).toEqual({ 'ca-bundle.crt': next, theirs: 'yes' });
    const writes = api.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.status}`);
    expect(writes).toEqual(['PUT 409', 'PUT 200']);
  });

  it('replaces instead when another writer creates the Secret between our read and our POST (409 AlreadyExists)', async () => {
    api.beforeRequest((r) => r.method === 'POST', () => putIssuer());
    const next = pem('CERTIFICATE', 'ours');
    await store().writeIssuer({ certificatePem: next, privateKeyPem: KEY, caPem: ANCHOR });
    expect((await store().readIssuer()).certificatePem).toBe(next);
    expect(api.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.status}`)).toEqual(['POST 409', 'PUT 200']);
  });

  it('gives up with UnavailableError when it loses every race', async () => {
    putBundle();
    let n = 0;
    api.beforeRequest(
      (r) => r.method === 'PUT',
      () => api.putConfigMap('linkerd', { metadata: { name: 'linkerd-identity-trust-roots' }, data: { 'ca-bundle.crt': `${n++}` } }),
      Infinity,
    );
    const err = await rejection(store().writeBundle(ANCHOR));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('kept changing');
    expect(api.requests.filter((r) => r.method === 'PUT')).toHaveLength(5);
  });
});

describe('watch', () => {
  async function watching(): Promise<ReturnType<typeof changeCounter>> {
    putIssuer();
    putBundle();
    const counter = changeCounter();
    subscriptions.push(store().watch(counter.onChange));
    await api.waitForWatches((ws) => ws.length === 2, 'both watches');
    return counter;
  }

  it('calls onChange when the issuer or the bundle changes', async () => {
    const counter = await watching();
    expect(api.watches.map((w) => w.fieldSelector).sort()).toEqual([
      'metadata.name=linkerd-identity-issuer',
      'metadata.name=linkerd-identity-trust-roots',
    ]);
    putBundle(ANCHOR + ANCHOR);
    await counter.reach(1);
    putIssuer({ stringData: { 'tls.crt': pem('CERTIFICATE', 'next'), 'tls.key': KEY } });
    await counter.reach(2);
    api.deleteObject('configmaps', 'linkerd', 'linkerd-identity-trust-roots');
    await counter.reach(3);
  });

  it('resumes from the last resourceVersion after the connection is reset, missing nothing', async () => {
    const counter = await watching();
    const rv = api.resourceVersion;
    const lists = api.requests.filter((r) => isList(r, 'configmaps')).length;
    api.dropWatches({ abrupt: true });
    putBundle(ANCHOR + ANCHOR); // sent into the dead connection: only the resumed watch can deliver it
    await counter.reach(1);
    const resumed = api.requests.filter((r) => isWatch(r, 'configmaps'));
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    expect(resumed.at(-1)!.query['resourceVersion']).toBe(rv);
    expect(api.requests.filter((r) => isList(r, 'configmaps'))).toHaveLength(lists);
  });

  it('follows bookmarks, so a resumed watch starts from the newest revision', async () => {
    await watching();
    api.putConfigMap('default', { metadata: { name: 'unrelated' }, data: { a: 'b' } });
    const rv = api.resourceVersion;
    api.sendBookmarks();
    api.dropWatches(); // graceful: the bookmark is read before the end of the stream
    await api.waitForWatches((ws) => ws.length === 2 && ws.every((w) => w.resourceVersion === rv), 'watches resumed at the bookmark');
  });

  it('relists after 410 Expired, calls onChange, and watches on from the list', async () => {
    const counter = await watching();
    const old = api.resourceVersion;
    api.dropWatches({ abrupt: true });
    putBundle(ANCHOR + ANCHOR);
    api.compact();
    await counter.reach(1);
    await api.waitForWatches((ws) => ws.length === 2 && ws.every((w) => Number(w.resourceVersion) > Number(old)), 'watches after the relist');
    const configMapTraffic = api.requests.filter((r) => r.path.endsWith('/configmaps')).map((r) => (isWatch(r, 'configmaps') ? `watch@${r.query['resourceVersion']}` : 'list'));
    expect(configMapTraffic).toEqual(['list', `watch@${old}`, `watch@${old}`, 'list', `watch@${api.resourceVersion}`]);
    const before = counter.count;
    putBundle(ANCHOR);
    await counter.reach(before + 1);
  });

  it('keeps retrying with backoff while the API server fails, then recovers', async () => {
    const counter = await watching();
    api.fail({ code: 503, count: 6, match: (r) => r.watch });
    api.dropWatches({ abrupt: true });
    const failed = () => api.requests.filter((r) => r.query['watch'] === 'true' && r.status === 503).length;
    await api.waitUntil(() => failed() === 6, 'six failed watch attempts');
    await api.waitForWatches((ws) => ws.length === 2, 'watches after the outage');
    putBundle(ANCHOR + ANCHOR);
    await counter.reach(1);
  });

  it('close() leaves no watch, socket or timer behind, even while a watch is still connecting', async () => {
    putIssuer();
    putBundle();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    api.hang({ match: (r) => r.watch && r.path.endsWith('/secrets') });
    const sub = store().watch(() => undefined);
    await api.waitForWatches((ws) => ws.length === 1, 'the configmap watch');
    await api.waitForRequest((r) => isWatch(r, 'secrets'), 'the hung secret watch');
    sub.close();
    await api.waitUntil(() => api.connections === 0 && api.watches.length === 0, 'every connection to close');
    // The client's own handles close a moment after the server sees the sockets go.
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
