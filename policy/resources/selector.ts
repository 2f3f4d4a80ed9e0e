import { at, type FieldReader, type Obj } from './fields.ts';
import type { LabelRequirement, LabelSelector } from './types.ts';

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Reads a Kubernetes label selector at `path` (an object already known to exist). */
export function readSelector(r: FieldReader, obj: Obj, path: string): LabelSelector {
  r.only(obj, path, ['matchLabels', 'matchExpressions']);
  const matchLabels = r.stringMap(obj, 'matchLabels', path);
  const matchExpressions: LabelRequirement[] = [];
  for (const { value, path: p } of r.objects(obj, 'matchExpressions', path) ?? []) {
    r.only(value, p, ['key', 'operator', 'values']);
    const key = r.string(value, 'key', p, { required: true });
    const operator = r.string(value, 'operator', p, { required: true });
    const values = r.strings(value, 'values', p) ?? [];
    if (operator !== undefined && !(OPERATORS as readonly string[]).includes(operator)) {
      r.fail(at(p, 'operator'), `must be one of ${OPERATORS.join(', ')} (got "${operator}")`);
      continue;
    }
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      r.fail(at(p, 'values'), `must not be empty when operator is ${operator}`);
    } else if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
      r.fail(at(p, 'values'), `must be empty when operator is ${operator}`);
    }
    if (key !== undefined && operator !== undefined) {
      matchExpressions.push({ key, operator: operator as LabelRequirement['operator'], values });
    }
  }
  return { matchLabels, matchExpressions };
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const key in selector.matchLabels) {
    if (labels[key] !== selector.matchLabels[key]) return false;
  }
  for (const req of selector.matchExpressions) {
    const value = Object.hasOwn(labels, req.key) ? labels[req.key] : undefined;
    switch (req.operator) {
      case 'In':
        if (value === undefined || !req.values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && req.values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
    }
  }
  return true;
}
