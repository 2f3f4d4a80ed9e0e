/**
 * Reading fields out of a decoded manifest while recording every problem with its field path,
 * so that one pass reports all that is wrong with a document.
 */

export type Obj = Record<string, unknown>;

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IANA_SVC_NAME, what Kubernetes requires of a container port's name. */
export const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value === 'object' ? 'object' : typeof value;
}

export const at = (path: string, key: string): string => (path ? `${path}.${key}` : key);
export const item = (path: string, index: number): string => `${path}[${index}]`;

export interface FieldProblem {
  field?: string;
  reason: string;
}

export interface StringOptions {
  required?: boolean;
  pattern?: RegExp;
  /** What the pattern means, for the message: `a DNS label`. */
  patternHint?: string;
}

export class FieldReader {
  readonly problems: FieldProblem[] = [];

  fail(field: string | undefined, reason: string): undefined {
    this.problems.push(field === undefined ? { reason } : { field, reason });
    return undefined;
  }

  get failed(): boolean {
    return this.problems.length > 0;
  }

  object(parent: Obj, key: string, path: string, required = false): Obj | undefined {
    const value = parent[key];
    const field = at(path, key);
    if (value === undefined || value === null) return required ? this.fail(field, 'required') : undefined;
    if (!isObject(value)) return this.fail(field, `must be an object (got ${typeName(value)})`);
    return value;
  }

  list(parent: Obj, key: string, path: string, required = false): unknown[] | undefined {
    const value = parent[key];
    const field = at(path, key);
    if (value === undefined || value === null) return required ? this.fail(field, 'required') : undefined;
    if (!Array.isArray(value)) return this.fail(field, `must be a list (got ${typeName(value)})`);
    return value;
  }

  /** Each element of a list that must be objects; bad elements are reported and skipped. */
  objects(parent: Obj, key: string, path: string, required = false): { value: Obj; path: string }[] | undefined {
    const values = this.list(parent, key, path, required);
    if (!values) return undefined;
    const out: { value: Obj; path: string }[] = [];
    values.forEach((value, i) => {
      const p = item(at(path, key), i);
      if (isObject(value)) out.push({ value, path: p });
      else this.fail(p, `must be an object (got ${typeName(value)})`);
    });
    return out;
  }

  string(parent: Obj, key: string, path: string, options: StringOptions = {}): string | undefined {
    return this.stringValue(parent[key], at(path, key), options);
  }

  stringValue(value: unknown, field: string, options: StringOptions = {}): string | undefined {
    if (value === undefined || value === null) return options.required ? this.fail(field, 'required') : undefined;
    if (typeof value !== 'string') return this.fail(field, `must be a string (got ${typeName(value)})`);
    if (options.required && value === '') return this.fail(field, 'required (empty string)');
    if (options.pattern && !options.pattern.test(value)) {
      return this.fail(field, `"${value.slice(0, 100)}" is not ${options.patternHint ?? `valid (must match ${options.pattern.source})`}`);
    }
    return value;
  }

  /** Each element of a list of strings; bad elements are reported and skipped. */
  strings(parent: Obj, key: string, path: string, options: StringOptions = {}): string[] | undefined {
    const values = this.list(parent, key, path, options.required);
    if (!values) return undefined;
    const out: string[] = [];
    values.forEach((value, i) => {
      const s = this.stringValue(value, item(at(path, key), i), { ...options, required: true });
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  boolean(parent: Obj, key: string, path: string): boolean | undefined {
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') return this.fail(at(path, key), `must be true or false (got ${typeName(value)})`);
    return value;
  }

  /** A map of string to string (labels, annotations, matchLabels). */
  stringMap(parent: Obj, key: string, path: string): Record<string, string> {
    const obj = this.object(parent, key, path);
    const out: Record<string, string> = {};
    if (!obj) return out;
    for (const [k, v] of Object.entries(obj)) {
      if (k === '__proto__') this.fail(at(path, key), 'the key "__proto__" is not a valid label or annotation key');
      else if (typeof v === 'string') out[k] = v;
      else this.fail(at(at(path, key), k), `must be a string (got ${typeName(v)}; quote it in YAML)`);
    }
    return out;
  }

  /** Reports fields the schema does not declare (kubectl's strict field validation). */
  only(obj: Obj, path: string, allowed: readonly string[], hint?: (key: string) => string | undefined): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.fail(at(path, key), hint?.(key) ?? 'unknown field');
    }
  }
}
