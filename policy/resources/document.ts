/**
 * One decoded document (YAML or JSON) to a typed resource: apiVersion and kind pick the parser,
 * metadata is read the same way for every kind, and every problem is reported with its location.
 */
import { parseMeshTLSAuthentication, parseNetworkAuthentication } from './authentication.ts';
import { parseAuthorizationPolicy, parseServerAuthorization } from './authorization.ts';
import type { ParseContext } from './context.ts';
import { parseNamespace, parsePod, parseServiceAccount } from './core.ts';
import { DNS_LABEL, DNS_SUBDOMAIN, FieldReader, isObject, typeName, type Obj } from './fields.ts';
import type { ValidationProblem } from './problems.ts';
import { parseServer } from './server.ts';
import { POLICY_GROUP, type ObjectMeta, type PolicyResource, type ResourceKind, type SourceRef } from './types.ts';

export interface IgnoredDocument {
  source: SourceRef;
  apiVersion: string;
  kind: string;
}

export interface DocumentResult {
  resources: PolicyResource[];
  problems: ValidationProblem[];
  ignored: IgnoredDocument[];
}

interface KindSpec {
  group: string;
  versions: readonly string[];
  namespaced: boolean;
  parse: (ctx: ParseContext) => PolicyResource | undefined;
}

const policy = (versions: string[], parse: KindSpec['parse']): KindSpec => ({ group: POLICY_GROUP, versions, namespaced: true, parse });
const core = (namespaced: boolean, parse: KindSpec['parse']): KindSpec => ({ group: '', versions: ['v1'], namespaced, parse });

const KINDS: Record<ResourceKind, KindSpec> = {
  Server: policy(['v1beta1', 'v1beta2', 'v1beta3'], parseServer),
  ServerAuthorization: policy(['v1beta1'], parseServerAuthorization),
  AuthorizationPolicy: policy(['v1alpha1'], parseAuthorizationPolicy),
  MeshTLSAuthentication: policy(['v1alpha1'], parseMeshTLSAuthentication),
  NetworkAuthentication: policy(['v1alpha1'], parseNetworkAuthentication),
  Pod: core(true, parsePod),
  Namespace: core(false, parseNamespace),
  ServiceAccount: core(true, parseServiceAccount),
};

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function versionList(versions: readonly string[]): string {
  return versions.length === 1 ? versions[0]! : `${versions.slice(0, -1).join(', ')} or ${versions.at(-1)}`;
}

/** Parses one document; a `List` yields its items. `null` (an empty document) yields nothing. */
export function parseDocument(value: unknown, source: SourceRef): DocumentResult {
  const out: DocumentResult = { resources: [], problems: [], ignored: [] };
  if (value === null || value === undefined) return out;
  if (!isObject(value)) {
    out.problems.push({ source, reason: `a document must be an object with apiVersion and kind (got ${typeName(value)})` });
    return out;
  }
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !apiVersion || !kind) {
    const missing = typeof apiVersion !== 'string' || !apiVersion ? 'apiVersion' : 'kind';
    out.problems.push({ source, field: missing, reason: 'required' });
    return out;
  }
  if (source.item === undefined && kind.endsWith('List') && Array.isArray(value.items)) {
    value.items.forEach((element, i) => {
      const r = parseDocument(element, { ...source, item: i });
      out.resources.push(...r.resources);
      out.problems.push(...r.problems);
      out.ignored.push(...r.ignored);
    });
    return out;
  }
  const { group, version } = splitApiVersion(apiVersion);
  const spec = Object.hasOwn(KINDS, kind) ? KINDS[kind as ResourceKind] : undefined;
  if (!spec) {
    const near = Object.keys(KINDS).find((k) => k.toLowerCase() === kind.toLowerCase());
    if (group === POLICY_GROUP && near) {
      out.problems.push({ source, field: 'kind', reason: `unknown kind "${kind}" (kinds are case-sensitive: ${near})` });
    } else {
      out.ignored.push({ source, apiVersion, kind });
    }
    return out;
  }
  const label = `${kind} ${describeName(value)}`;
  if (group !== spec.group || !spec.versions.includes(version)) {
    const expected = spec.versions.map((v) => (spec.group ? `${spec.group}/${v}` : v));
    out.problems.push({ source, resource: label, field: 'apiVersion', reason: `"${apiVersion}" is not a supported version of ${kind} (use ${versionList(expected)})` });
    return out;
  }
  const r = new FieldReader();
  const meta = readMeta(r, value, spec.namespaced, kind);
  const resource = meta ? spec.parse({ r, doc: value, apiVersion, version, meta, source }) : undefined;
  for (const p of r.problems) out.problems.push({ source, resource: label, ...p });
  if (resource && !r.failed) out.resources.push(resource);
  return out;
}

function describeName(doc: Obj): string {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : '(no name)';
  const ns = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default';
  return doc.kind === 'Namespace' ? name : `${ns}/${name}`;
}

function readMeta(r: FieldReader, doc: Obj, namespaced: boolean, kind: string): ObjectMeta | undefined {
  const meta = r.object(doc, 'metadata', '', true);
  if (!meta) return undefined;
  const namePattern = namespaced ? DNS_SUBDOMAIN : DNS_LABEL;
  const name = r.string(meta, 'name', 'metadata', { required: true, pattern: namePattern, patternHint: `a valid ${kind} name` });
  if (name === undefined && typeof meta.generateName === 'string') r.fail('metadata.generateName', 'not supported: give the resource a name');
  const namespace = namespaced ? (r.string(meta, 'namespace', 'metadata', { pattern: DNS_LABEL, patternHint: 'a namespace name' }) ?? 'default') : '';
  const labels = r.stringMap(meta, 'labels', 'metadata');
  const annotations = r.stringMap(meta, 'annotations', 'metadata');
  let creationTimestamp: number | undefined;
  const created = meta.creationTimestamp;
  if (created instanceof Date) creationTimestamp = created.getTime();
  else if (created !== undefined && created !== null) {
    const text = r.stringValue(created, 'metadata.creationTimestamp');
    const ms = text === undefined ? NaN : Date.parse(text);
    if (Number.isNaN(ms)) r.fail('metadata.creationTimestamp', `must be an RFC 3339 time such as 2024-05-01T12:00:00Z (got ${JSON.stringify(created)})`);
    else creationTimestamp = ms;
  }
  if (name === undefined) return undefined;
  return { name, namespace, labels, annotations, ...(creationTimestamp !== undefined ? { creationTimestamp } : {}) };
}
