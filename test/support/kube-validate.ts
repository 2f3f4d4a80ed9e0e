import { randomBytes } from 'node:crypto';
import { Statuses } from './kube-status.ts';
import type { KubeObject, ObjectMeta } from './kube-objects.ts';
import { apiVersionOf, Kinds, type Resource } from './kube-types.ts';
import { normalizeNamespace, normalizePod, normalizeCustomResource } from './kube-validate-kinds.ts';

/**
 * The checks kube-apiserver makes on an object before it stores it, with the same status codes:
 * decoding problems are 400 BadRequest, rule violations 422 Invalid. Secrets and ConfigMaps
 * here; Pods, Namespaces and the policy custom resources in kube-validate-kinds.ts.
 */

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_DATA_BYTES = 1024 * 1024;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KEPT_META = ['name', 'namespace', 'generateName', 'labels', 'annotations', 'ownerReferences', 'finalizers'];

export type Cause = { field: string; message: string };

function stringMap(value: unknown, field: string, kind: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const entries = typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : undefined;
  if (!entries || entries.some(([, v]) => typeof v !== 'string')) {
    throw Statuses.badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: ${field} must be a map of strings`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function keyCauses(map: Record<string, string>, field: string): Cause[] {
  return Object.keys(map)
    .filter((k) => !DATA_KEY.test(k))
    .map((k) => ({ field: `${field}[${k}]`, message: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'` }));
}

function normalizeSecret(obj: KubeObject, current: KubeObject | undefined, causes: Cause[]): void {
  const data = stringMap(obj['data'], 'data', 'Secret');
  for (const [k, v] of Object.entries(data)) {
    if (!BASE64.test(v)) throw Statuses.badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[${k}]`);
  }
  // stringData is write-only: merged into data (winning over it) and never stored.
  for (const [k, v] of Object.entries(stringMap(obj['stringData'], 'stringData', 'Secret'))) {
    data[k] = Buffer.from(v, 'utf8').toString('base64');
  }
  delete obj['stringData'];
  obj['data'] = data;
  const type = typeof obj['type'] === 'string' && obj['type'] ? obj['type'] : ((current?.['type'] as string | undefined) ?? 'Opaque');
  obj['type'] = type;
  if (current && current['type'] !== type) causes.push({ field: 'type', message: `Invalid value: "${type}": field is immutable` });
  if (type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) if (!(k in data)) causes.push({ field: `data[${k}]`, message: 'Required value' });
  }
  causes.push(...keyCauses(data, 'data'));
  const size = Object.values(data).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  if (size > MAX_DATA_BYTES) causes.push({ field: 'data', message: `Too long: must have at most ${MAX_DATA_BYTES} bytes` });
}

function normalizeConfigMap(obj: KubeObject, causes: Cause[]): void {
  const data = stringMap(obj['data'], 'data', 'ConfigMap');
  if (obj['data'] !== undefined) obj['data'] = data;
  causes.push(...keyCauses(data, 'data'));
  const size = Object.values(data).reduce((n, v) => n + Buffer.byteLength(v), 0);
  if (size > MAX_DATA_BYTES) causes.push({ field: 'data', message: `Too long: must have at most ${MAX_DATA_BYTES} bytes` });
}

function checkTypeMeta(resource: Resource, body: KubeObject, version: string | undefined): void {
  const { kind, group, versions } = Kinds[resource];
  const expected = version === undefined ? undefined : apiVersionOf(resource, version);
  if (group && body.apiVersion !== undefined) {
    const served = versions.map((v) => apiVersionOf(resource, v));
    if (expected !== undefined && body.apiVersion !== expected) {
      throw Statuses.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`);
    }
    if (!served.includes(String(body.apiVersion))) throw Statuses.badRequest(`no kind "${String(body.kind)}" is registered for version "${String(body.apiVersion)}"`);
  }
  if ((body.kind !== undefined && body.kind !== kind) || (!group && body.apiVersion !== undefined && body.apiVersion !== 'v1')) {
    throw Statuses.badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: got ${body.apiVersion}/${body.kind}`);
  }
}

/**
 * Returns the object as it would be stored (a copy: without kind and apiVersion, system metadata
 * left for the store to fill in), or throws the Status the real server would answer with.
 * `version` is the one the request's URL names; undefined for the test controls (any served one).
 */
export function validateObject(resource: Resource, namespace: string, body: KubeObject, current: KubeObject | undefined, version?: string): KubeObject {
  const { kind, namespaced, group } = Kinds[resource];
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw Statuses.badRequest('the body of the request was in an unknown format');
  checkTypeMeta(resource, body, version);
  const { apiVersion: _a, kind: _k, metadata: rawMeta, ...rest } = structuredClone(body);
  const given = (rawMeta ?? {}) as Partial<ObjectMeta>;
  if (namespaced && given.namespace !== undefined && given.namespace !== namespace) {
    throw Statuses.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const metadata = Object.fromEntries(Object.entries(given).filter(([k]) => KEPT_META.includes(k))) as ObjectMeta;
  // A cluster-scoped object has no namespace, whatever the body says.
  metadata.namespace = namespaced ? namespace : '';
  if (!metadata.name && metadata.generateName && !current) {
    metadata.name = `${metadata.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
  }
  const name = metadata.name ?? '';
  const causes: Cause[] = [];
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (resource === 'namespaces') {
    if (name.length > 63 || !LABEL.test(name)) {
      causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character` });
    }
  } else if (name.length > 253 || !SUBDOMAIN.test(name)) {
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
  }
  const obj: KubeObject = { metadata, ...rest };
  if (resource === 'secrets') normalizeSecret(obj, current, causes);
  else if (resource === 'configmaps') normalizeConfigMap(obj, causes);
  else if (resource === 'pods') normalizePod(obj, current, causes);
  else if (resource === 'namespaces') normalizeNamespace(obj, current);
  else if (group) normalizeCustomResource(obj, causes);
  if (current?.['immutable'] === true && JSON.stringify(obj['data'] ?? {}) !== JSON.stringify(current['data'] ?? {})) {
    causes.push({ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' });
  }
  if (causes.length > 0) throw Statuses.invalid(kind, name, causes);
  return obj;
}
