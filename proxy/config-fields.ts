/**
 * Field readers for the proxy's configuration: each takes the raw value and the field's path
 * (`outbound.routes[1].identity`, `--app`) and returns a typed value or throws a ConfigError that
 * names the field, says what was found and what is expected.
 */
import { parseDuration } from '../common/duration.ts';
import { ConfigError } from '../common/errors.ts';
import type { HostPort } from './io/listener.ts';

export type Raw = Record<string, unknown>;

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function fail(path: string, message: string): never {
  throw new ConfigError(`${path}: ${message}`);
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  return (text ?? String(value)).slice(0, 100);
}

export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

export function object(value: unknown, path: string, known: readonly string[]): Raw {
  if (isAbsent(value)) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(path, `expected a mapping, found ${show(value)}`);
  for (const key of Object.keys(value as Raw)) {
    // A misspelt key silently ignored is a setting silently not applied.
    if (!known.includes(key)) fail(path ? `${path}.${key}` : key, `unknown field; known fields here: ${known.join(', ')}`);
  }
  return value as Raw;
}

export function string(value: unknown, path: string, fallback?: string): string {
  if (isAbsent(value)) {
    if (fallback !== undefined) return fallback;
    fail(path, 'is required');
  }
  if (typeof value !== 'string' || value.trim() === '') fail(path, `expected a non-empty string, found ${show(value)}`);
  return value.trim();
}

export function identityName(value: unknown, path: string, fallback?: string): string {
  const name = string(value, path, fallback).toLowerCase();
  if (!DNS_NAME.test(name)) fail(path, `${show(value)} is not a DNS name (e.g. web.demo.serviceaccount.identity.linkerd.cluster.local)`);
  return name;
}

export function port(value: unknown, path: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) fail(path, `expected a port number in 1..65535, found ${show(value)}`);
  return n;
}

/** `host:port` or `[v6]:port`; port 0 (an ephemeral port) only where `allowZero`. */
export function hostPort(value: unknown, path: string, options: { fallback?: string; allowZero?: boolean } = {}): HostPort {
  const text = string(value, path, options.fallback);
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text);
  const n = m ? Number(m[2]) : NaN;
  if (!m || n > 65535 || (n === 0 && !options.allowZero)) {
    fail(path, `expected host:port (e.g. 127.0.0.1:4143), found ${show(value)}`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: n };
}

/** A duration with a unit (`10s`, `1h30m`), within [minMs, maxMs]. */
export function duration(value: unknown, path: string, fallbackMs: number | undefined, minMs: number, maxMs: number): number | undefined {
  if (isAbsent(value)) return fallbackMs;
  if (typeof value !== 'string') fail(path, `expected a duration with a unit such as 10s or 24h, found ${show(value)}`);
  let ms: number;
  try {
    ms = parseDuration(value, path);
  } catch (err) {
    fail(path, (err as Error).message);
  }
  if (ms < minMs || ms > maxMs) fail(path, `${value} is outside the allowed range ${minMs} ms..${maxMs} ms`);
  return ms;
}

export function boolean(value: unknown, path: string, fallback: boolean): boolean {
  if (isAbsent(value)) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  if (typeof value !== 'boolean') fail(path, `expected true or false, found ${show(value)}`);
  return value;
}

/** A list of ports: a YAML list, or a comma-separated string (`5432,3306`, as a flag gives it). */
export function portList(value: unknown, path: string): number[] {
  if (isAbsent(value)) return [];
  const items = typeof value === 'string' ? value.split(',').filter((s) => s.trim() !== '') : value;
  if (!Array.isArray(items)) fail(path, `expected a list of ports, found ${show(value)}`);
  const ports = items.map((item, i) => port(item, `${path}[${i}]`));
  const duplicate = ports.find((p, i) => ports.indexOf(p) !== i);
  if (duplicate !== undefined) fail(path, `port ${duplicate} is listed twice`);
  return ports;
}

export function list(value: unknown, path: string): unknown[] {
  if (isAbsent(value)) return [];
  if (!Array.isArray(value)) fail(path, `expected a list, found ${show(value)}`);
  return value;
}
