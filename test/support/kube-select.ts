import { Statuses } from './kube-status.ts';
import { isResource, Kinds } from './kube-types.ts';

/**
 * Field and label selectors as kube-apiserver supports them: `metadata.name`, `metadata.namespace`
 * and each type's own field labels (`type` for Secrets, `status.phase` for Pods...) with `=`, `==`
 * and `!=`; labels with `=`, `==`, `!=`, `key` and `!key`.
 */

interface Term {
  key: string;
  op: 'eq' | 'ne' | 'exists' | 'absent';
  value: string;
}

export interface Selector {
  fields: Term[];
  labels: Term[];
}

export interface Selectable {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function parseTerms(text: string | null, allowExistence: boolean): Term[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*([^,]*?)\s*$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? 'ne' : 'eq', value: m[3]! };
    const exists = /^\s*(!?)([A-Za-z0-9./_-]+)\s*$/.exec(part);
    if (allowExistence && exists) return { key: exists[2]!, op: exists[1] ? 'absent' : 'exists', value: '' };
    throw Statuses.badRequest(`unable to parse requirement: invalid selector: '${part}'`);
  });
}

export function parseSelector(params: URLSearchParams, resource: string): Selector {
  const fields = parseTerms(params.get('fieldSelector'), false);
  const known = ['metadata.name', 'metadata.namespace', ...(isResource(resource) ? Kinds[resource].fieldLabels : [])];
  for (const term of fields) {
    if (!known.includes(term.key)) throw Statuses.badRequest(`field label not supported: ${term.key}`);
  }
  return { fields, labels: parseTerms(params.get('labelSelector'), true) };
}

/** A dotted path's value as a field selector sees it: absent fields compare as ''. */
function fieldValue(obj: Selectable, key: string): string {
  let value: unknown = obj;
  for (const part of key.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return typeof value === 'string' ? value : '';
}

function holds(term: Term, actual: string | undefined): boolean {
  switch (term.op) {
    case 'eq':
      return actual === term.value;
    case 'ne':
      return actual !== term.value;
    case 'exists':
      return actual !== undefined;
    case 'absent':
      return actual === undefined;
  }
}

export function matches(selector: Selector, obj: Selectable): boolean {
  return (
    selector.fields.every((t) => holds(t, fieldValue(obj, t.key))) &&
    selector.labels.every((t) => holds(t, obj.metadata.labels?.[t.key]))
  );
}
