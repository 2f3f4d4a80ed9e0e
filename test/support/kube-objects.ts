import { randomUUID } from 'node:crypto';
import { Statuses } from './kube-status.ts';
import { matches, type Selector } from './kube-select.ts';
import { validateObject } from './kube-validate.ts';

/**
 * The storage half of the test API server: objects, one global resourceVersion (etcd's revision,
 * shared by every resource), a bounded event history and the open watches it feeds.
 */

export type Resource = 'secrets' | 'configmaps';

export const Kinds: Record<Resource, { kind: string; listKind: string }> = {
  secrets: { kind: 'Secret', listKind: 'SecretList' },
  configmaps: { kind: 'ConfigMap', listKind: 'ConfigMapList' },
};

export interface ObjectMeta {
  name: string;
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

/** Which objects a watch or a list is about. */
export interface Scope {
  resource: Resource;
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

function withKind(resource: Resource, obj: KubeObject): KubeObject {
  return { apiVersion: 'v1', kind: Kinds[resource].kind, ...clone(obj) };
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

  get(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    const obj = this.#objects.get(`${resource}/${namespace}/${name}`);
    return obj && withKind(resource, obj);
  }

  list(scope: Scope): { items: KubeObject[]; resourceVersion: string } {
    const items = [...this.#objects.entries()]
      .filter(([key, obj]) => key.startsWith(`${scope.resource}/`) && inScope(scope, scope.resource, obj))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, obj]) => clone(obj));
    return { items, resourceVersion: this.resourceVersion };
  }

  create(resource: Resource, namespace: string, body: KubeObject): KubeObject {
    const obj = validateObject(resource, namespace, body, undefined);
    const key = `${resource}/${namespace}/${obj.metadata.name}`;
    if (this.#objects.has(key)) throw Statuses.alreadyExists({ resource }, obj.metadata.name);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.#commit(resource, key, obj, 'ADDED');
  }

  /** PUT: a stale `metadata.resourceVersion` is a Conflict; an empty one is an unconditional update. */
  replace(resource: Resource, namespace: string, name: string, body: KubeObject): KubeObject {
    const key = `${resource}/${namespace}/${name}`;
    const current = this.#objects.get(key);
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw Statuses.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (!current) throw Statuses.notFound({ resource }, name);
    const expected = body.metadata?.resourceVersion;
    if (expected && expected !== current.metadata.resourceVersion) throw Statuses.conflict({ resource }, name);
    const obj = validateObject(resource, namespace, body, current);
    obj.metadata.uid = current.metadata.uid;
    obj.metadata.creationTimestamp = current.metadata.creationTimestamp;
    obj.metadata.resourceVersion = current.metadata.resourceVersion;
    if (content(obj) === content(current)) return withKind(resource, current);
    return this.#commit(resource, key, obj, 'MODIFIED');
  }

  delete(resource: Resource, namespace: string, name: string): KubeObject {
    const key = `${resource}/${namespace}/${name}`;
    const current = this.#objects.get(key);
    if (!current) throw Statuses.notFound({ resource }, name);
    this.#objects.delete(key);
    // The DELETED event carries the object's last state at the revision of the deletion.
    const gone = clone(current);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record(resource, gone, 'DELETED');
    return withKind(resource, gone);
  }

  /** Test control: create or overwrite without preconditions, as another writer would. */
  put(resource: Resource, namespace: string, body: KubeObject): KubeObject {
    const name = body.metadata?.name;
    if (name && this.#objects.has(`${resource}/${namespace}/${name}`)) {
      const { resourceVersion: _rv, ...metadata } = body.metadata;
      return this.replace(resource, namespace, name, { ...body, metadata: metadata as ObjectMeta });
    }
    return this.create(resource, namespace, body);
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
    if (!resourceVersion || resourceVersion === '0') {
      for (const obj of this.list(sink.scope).items) sink.send({ type: 'ADDED', object: withKind(sink.scope.resource, obj) });
    } else {
      if (!/^\d+$/.test(resourceVersion)) throw Statuses.badRequest(`invalid resource version: ${resourceVersion}`);
      const from = Number(resourceVersion);
      if (from < this.#compactedThrough) {
        sink.send({ type: 'ERROR', object: Statuses.expired(from, this.#compactedThrough).status });
        return undefined;
      }
      for (const e of this.#history) {
        if (e.rv > from && inScope(sink.scope, e.resource, e.object)) sink.send({ type: e.type, object: withKind(e.resource, e.object) });
      }
    }
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  /** Sends a BOOKMARK at the current revision to every watch that allowed bookmarks. */
  bookmark(): void {
    for (const sink of this.#sinks) {
      if (!sink.bookmarks) continue;
      const kind = Kinds[sink.scope.resource].kind;
      sink.send({ type: 'BOOKMARK', object: { kind, apiVersion: 'v1', metadata: { resourceVersion: this.resourceVersion } } });
    }
  }

  #commit(resource: Resource, key: string, obj: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, clone(obj));
    this.#record(resource, obj, type);
    return withKind(resource, obj);
  }

  #record(resource: Resource, obj: KubeObject, type: HistoryEntry['type']): void {
    this.#history.push({ rv: this.#rv, type, resource, object: clone(obj) });
    while (this.#history.length > this.historyLimit) this.#compactedThrough = this.#history.shift()!.rv;
    for (const sink of this.#sinks) {
      if (inScope(sink.scope, resource, obj)) sink.send({ type, object: withKind(resource, obj) });
    }
  }
}
