import type { KubeObject } from './kube-objects.ts';
import type { Cause } from './kube-validate.ts';

/**
 * What kube-apiserver checks and defaults on Pods (pkg/apis/core/validation, the pod strategy and
 * the ServiceAccount admission plugin), Namespaces, and custom resources (only that `spec` is an
 * object: this server does not carry the CRDs' OpenAPI schemas, so it neither prunes unknown
 * fields nor checks field types as a real cluster would).
 */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const POD_UPDATE_FORBIDDEN =
  'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

export function normalizePod(obj: KubeObject, current: KubeObject | undefined, causes: Cause[]): void {
  const spec = isObject(obj['spec']) ? obj['spec'] : undefined;
  const containers = spec && Array.isArray(spec['containers']) ? spec['containers'] : [];
  if (!spec || containers.length === 0) {
    causes.push({ field: 'spec.containers', message: 'Required value' });
    return;
  }
  containers.forEach((c: unknown, i) => {
    const at = `spec.containers[${i}]`;
    if (!isObject(c)) {
      causes.push({ field: at, message: 'Invalid value: must be an object' });
      return;
    }
    const name = c['name'];
    if (typeof name !== 'string' || name === '') causes.push({ field: `${at}.name`, message: 'Required value' });
    else if (name.length > 63 || !LABEL.test(name)) causes.push({ field: `${at}.name`, message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'` });
    if (typeof c['image'] !== 'string' || c['image'] === '') causes.push({ field: `${at}.image`, message: 'Required value' });
    const ports = Array.isArray(c['ports']) ? c['ports'] : [];
    ports.forEach((p: unknown, j) => {
      const pat = `${at}.ports[${j}]`;
      if (!isObject(p)) {
        causes.push({ field: pat, message: 'Invalid value: must be an object' });
        return;
      }
      const number = p['containerPort'];
      if (number === undefined) causes.push({ field: `${pat}.containerPort`, message: 'Required value' });
      else if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) {
        causes.push({ field: `${pat}.containerPort`, message: `Invalid value: ${JSON.stringify(number)}: must be between 1 and 65535, inclusive` });
      }
      p['protocol'] ??= 'TCP';
      if (!PROTOCOLS.includes(String(p['protocol']))) {
        causes.push({ field: `${pat}.protocol`, message: `Unsupported value: "${String(p['protocol'])}": supported values: "SCTP", "TCP", "UDP"` });
      }
    });
  });
  // The ServiceAccount admission plugin names the default account; the deprecated field mirrors it.
  const account = typeof spec['serviceAccountName'] === 'string' && spec['serviceAccountName'] ? spec['serviceAccountName'] : typeof spec['serviceAccount'] === 'string' && spec['serviceAccount'] ? spec['serviceAccount'] : 'default';
  spec['serviceAccountName'] = account;
  spec['serviceAccount'] = account;
  if (!current && obj['status'] === undefined) obj['status'] = { phase: 'Pending' };
  if (current && canonical(withoutImages(spec)) !== canonical(withoutImages(current['spec']))) {
    causes.push({ field: 'spec', message: POD_UPDATE_FORBIDDEN });
  }
}

/** JSON with sorted keys: clients reorder fields, which is no change. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}

function withoutImages(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const copy = structuredClone(spec);
  for (const list of ['containers', 'initContainers']) {
    const containers = copy[list];
    if (Array.isArray(containers)) for (const c of containers) if (isObject(c)) delete c['image'];
  }
  return copy;
}

/** The namespace lifecycle: the name label (since 1.21), the `kubernetes` finalizer, phase Active. */
export function normalizeNamespace(obj: KubeObject, current: KubeObject | undefined): void {
  obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
  obj['spec'] = { finalizers: ['kubernetes'] };
  obj['status'] = current?.['status'] ?? { phase: 'Active' };
}

export function normalizeCustomResource(obj: KubeObject, causes: Cause[]): void {
  const spec = obj['spec'];
  if (spec === undefined || isObject(spec)) return;
  const type = Array.isArray(spec) ? 'array' : spec === null ? 'null' : typeof spec;
  causes.push({ field: 'spec', message: `Invalid value: "${type}": spec in body must be of type object: "${type}"` });
}
