import { randomUUID } from 'node:crypto';
import { Statuses } from './kube-status.ts';
import { matches, type Selector } from './kube-select.ts';
import { apiVersionOf, Kinds, preferredVersion, type Resource } from './kube-types.ts';
import { validateObject } from './kube-validate.ts';

/**
 * The storage half of the test API server: objects, one global resourceVersion (etcd's revision,
 * shared by every resource), a bounded event history and the open watches it feeds. Objects are
 * stored without apiVersion and kind and rendered at the version a request names, as
 * kube-apiserver does (custom resources convert with strategy None: only apiVersion changes).
 */

export type { Resource } from './kube-types.ts';
export { Kinds } from './kube-types.ts';

export interface ObjectMeta {
  name: string;
  /** '' for cluster-scoped objects (Namespaces). */
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: EventType;
  object: object;
}

/** Which objects a watch or a list is about, and the version they are rendered at. */
export interface Scope {
  resource: Resource;
  /** Defaults to the newest served version. */
  version?: string;
  namespace?: string;
  selector: Selector;
}

export interface WatchSink {
  scope: Scope;
  bookmarks: boolean;
  send(event: WatchEvent): void;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: KubeObject;
}

const clone = <T>(v: T): T => structuredClone(v);

/** The object as a response carries it: apiVersion and kind first, at the requested version. */
export function render(resource: Resource, obj: KubeObject, version = preferredVersion(resource)): KubeObject {
  return { apiVersion: apiVersionOf(resource, version), kind: Kinds[resource].kind, ...clone(obj) };
}

function inScope(scope: Scope, resource: Resource, obj: KubeObject): boolean {
  return (
    scope.resource === resource &&
    (scope.namespace === undefined || scope.namespace === obj.metadata.namespace) &&
    matches(scope.selector, obj)
  );
}

/** Content that an update compares: an update that changes none of it is a no-op, as in etcd3's GuaranteedUpdate. */
function content(obj: KubeObject): string {
  const { metadata, apiVersion: _a, kind: _k, ...rest } = obj;
  const { resourceVersion: _rv, ...meta } = metadata;
  return JSON.stringify({ meta, rest }, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

const keyOf = (resource: Resource, namespace: string, name: string) => `${resource}/${namespace}/${name}`;

export class ObjectStore {
  #rv = 100;
  #compactedThrough = 0;
  readonly #objects = new Map<string, KubeObject>();
  readonly #history: HistoryEntry[] = [];
  readonly #sinks = new Set<WatchSink>();

  constructor(readonly historyLimit: number) {}

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Revisions at or below this one are gone from the history. */
  get compactedThrough(): number {
    return this.#compactedThrough;
  }

  get(resource: Resource, namespace: string, name: string, version?: string): KubeObject | undefined {
    const obj = this.#objects.get(keyOf(resource, namespace, name));
    return obj && render(resource, obj, version);
  }

  /** Stored objects in key order (namespace, then name), as etcd returns a range; `after` resumes past a key. */
  list(scope: Scope, after?: string): { items: KubeObject[]; keys: string[]; resourceVersion: string } {
    const entries = [...this.#objects.entries()]
      .filter(([key, obj]) => key.startsWith(`${scope.resource}/`) && (after === undefined || key > after) && inScope(scope, scope.resource, obj))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { items: entries.map(([, obj]) => clone(obj)), keys: entries.map(([key]) => key), resourceVersion: this.resourceVersion };
  }

  create(resource: Resource, namespace: string, body: KubeObject, version?: string): KubeObject {
    const obj = validateObject(resource, namespace, body, undefined, version);
    const key = keyOf(resource, namespace, obj.metadata.name);
    if (this.#objects.has(key)) throw Statuses.alreadyExists(refOf(resource), obj.metadata.name);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.#commit(resource, key, obj, 'ADDED', version);
  }

  /** PUT: a stale `metadata.resourceVersion` is a Conflict; an empty one is an unconditional update. */
  replace(resource: Resource, namespace: string, name: string, body: KubeObject, version?: string): KubeObject {
    const key = keyOf(resource, namespace, name);
    const current = this.#objects.get(key);
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw Statuses.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (!current) throw Statuses.notFound(refOf(resource), name);
    const expected = body.metadata?.resourceVersion;
    if (expected && expected !== current.metadata.resourceVersion) throw Statuses.conflict(refOf(resource), name);
    const obj = validateObject(resource, namespace, body, current, version);
    obj.metadata.uid = current.metadata.uid;
    obj.metadata.creationTimestamp = current.metadata.creationTimestamp;
    obj.metadata.resourceVersion = current.metadata.resourceVersion;
    if (content(obj) === content(current)) return render(resource, current, version);
    return this.#commit(resource, key, obj, 'MODIFIED', version);
  }

  delete(resource: Resource, namespace: string, name: string, version?: string): KubeObject {
    const key = keyOf(resource, namespace, name);
    const current = this.#objects.get(key);
    if (!current) throw Statuses.notFound(refOf(resource), name);
    if (resource === 'namespaces') this.#terminate(current);
    // The DELETED event carries the object's last state at the revision of the deletion.
    const gone = clone(this.#objects.get(key) ?? current);
    this.#objects.delete(key);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record(resource, gone, 'DELETED');
    return render(resource, gone, version);
  }

  /** Test control: create or overwrite without preconditions, as another writer would. */
  put(resource: Resource, namespace: string, body: KubeObject): KubeObject {
    const name = body.metadata?.name;
    const version = versionOfBody(resource, body);
    if (name && this.#objects.has(keyOf(resource, namespace, name))) {
      const { resourceVersion: _rv, ...metadata } = body.metadata;
      return this.replace(resource, namespace, name, { ...body, metadata: metadata as ObjectMeta }, version);
    }
    return this.create(resource, namespace, body, version);
  }

  /** Drops all history: a watch from any resourceVersion older than now gets 410 Expired. */
  compact(): void {
    this.#history.length = 0;
    this.#compactedThrough = this.#rv;
  }

  /**
   * Starts a watch. Without a resourceVersion (or with "0") the watch begins with synthetic ADDED
   * events for the current state; with one, it replays the history after it, or fails with 410
   * Expired when that history has been compacted. Returns the function that stops it, or
   * undefined when the watch ended at once (after its ERROR event).
   */
  watch(sink: WatchSink, resourceVersion: string | undefined): (() => void) | undefined {
    const { resource, version } = sink.scope;
    if (!resourceVersion || resourceVersion === '0') {
      for (const obj of this.list(sink.scope).items) sink.send({ type: 'ADDED', object: render(resource, obj, version) });
    } else {
      if (!/^\d+$/.test(resourceVersion)) throw Statuses.badRequest(`invalid resource version: ${resourceVersion}`);
      const from = Number(resourceVersion);
      if (from < this.#compactedThrough) {
        sink.send({ type: 'ERROR', object: Statuses.expired(from, this.#compactedThrough).status });
        return undefined;
      }
      for (const e of this.#history) {
        if (e.rv > from && inScope(sink.scope, e.resource, e.object)) sink.send({ type: e.type, object: render(e.resource, e.object, version) });
      }
    }
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  /** Sends a BOOKMARK at the current revision to every watch that allowed bookmarks. */
  bookmark(): void {
    for (const sink of this.#sinks) {
      if (!sink.bookmarks) continue;
      const { resource, version } = sink.scope;
      const apiVersion = apiVersionOf(resource, version ?? preferredVersion(resource));
      sink.send({ type: 'BOOKMARK', object: { kind: Kinds[resource].kind, apiVersion, metadata: { resourceVersion: this.resourceVersion } } });
    }
  }

  /**
   * What the namespace controller does once a Namespace is deleted: the namespace turns
   * Terminating (a MODIFIED event), then everything in it is deleted, then the namespace itself.
   */
  #terminate(ns: KubeObject): void {
    const name = ns.metadata.name;
    const terminating = clone(ns);
    terminating.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    terminating['status'] = { phase: 'Terminating' };
    this.#commit('namespaces', keyOf('namespaces', '', name), terminating, 'MODIFIED');
    for (const [key, obj] of [...this.#objects.entries()]) {
      const resource = key.slice(0, key.indexOf('/')) as Resource;
      if (Kinds[resource].namespaced && obj.metadata.namespace === name) this.delete(resource, name, obj.metadata.name);
    }
  }

  #commit(resource: Resource, key: string, obj: KubeObject, type: 'ADDED' | 'MODIFIED', version?: string): KubeObject {
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, clone(obj));
    this.#record(resource, obj, type);
    return render(resource, obj, version);
  }

  #record(resource: Resource, obj: KubeObject, type: HistoryEntry['type']): void {
    this.#history.push({ rv: this.#rv, type, resource, object: clone(obj) });
    while (this.#history.length > this.historyLimit) this.#compactedThrough = this.#history.shift()!.rv;
    for (const sink of this.#sinks) {
      if (inScope(sink.scope, resource, obj)) sink.send({ type, object: render(resource, obj, sink.scope.version) });
    }
  }
}

export function refOf(resource: Resource): { resource: string; group?: string } {
  const { group } = Kinds[resource];
  return group ? { resource, group } : { resource };
}

/** The version a test's body names in its apiVersion (when it is one of the group's), else the newest. */
function versionOfBody(resource: Resource, body: KubeObject): string {
  const { group, versions } = Kinds[resource];
  const prefix = group ? `${group}/` : '';
  const named = typeof body.apiVersion === 'string' && body.apiVersion.startsWith(prefix) ? body.apiVersion.slice(prefix.length) : undefined;
  return named !== undefined && versions.includes(named) ? named : preferredVersion(resource);
}
