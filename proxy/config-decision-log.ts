/**
 * The `decisionLog` section of the proxy's configuration: where the decision log goes and how
 * much of it is kept. Off unless a path is given.
 *
 *   decisionLog:
 *     path: /var/log/linkerd/decisions.jsonl   # --decision-log FILE
 *     maxSize: 10MiB                           # --decision-log-max-size (10MiB, 512KiB, or bytes)
 *     maxFiles: 5                              # --decision-log-max-files (rotated files kept)
 */
import { DEFAULT_DECISION_LOG_MAX_FILES, DEFAULT_DECISION_LOG_MAX_SIZE } from './app/inbound/decision-log.ts';
import * as f from './config-fields.ts';

export interface DecisionLogConfig {
  /** The current file; rotations are `path.1` (newest) ... `path.N`. */
  path: string;
  maxSizeBytes: number;
  /** Rotated files kept besides `path`; 0 keeps only the current file. */
  maxFiles: number;
}

export interface DecisionLogFlags {
  decisionLog?: string;
  decisionLogMaxSize?: string;
  decisionLogMaxFiles?: string;
}

export const DECISION_LOG_FIELDS = ['path', 'maxSize', 'maxFiles'] as const;

/** Limits: a file must hold many records (one is at most ~8 KiB), and stay a file one can read. */
export const MIN_DECISION_LOG_SIZE = 16 * 1024;
export const MAX_DECISION_LOG_SIZE = 1024 * 1024 * 1024;
export const MAX_DECISION_LOG_FILES = 100;

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `section` is the file's `decisionLog` mapping (already checked for unknown keys). */
export function parseDecisionLogConfig(flags: DecisionLogFlags, section: f.Raw): DecisionLogConfig | undefined {
  const pick = (flag: unknown, flagName: string, key: string): [unknown, string] => (flag !== undefined ? [flag, flagName] : [section[key], `decisionLog.${key}`]);
  const [pathValue, pathName] = pick(flags.decisionLog, '--decision-log', 'path');
  const [sizeValue, sizeName] = pick(flags.decisionLogMaxSize, '--decision-log-max-size', 'maxSize');
  const [filesValue, filesName] = pick(flags.decisionLogMaxFiles, '--decision-log-max-files', 'maxFiles');
  if (f.isAbsent(pathValue)) {
    // A limit without a log is a setting that silently does nothing.
    for (const [value, name] of [[sizeValue, sizeName], [filesValue, filesName]] as const) {
      if (!f.isAbsent(value)) f.fail(name, `is set, but no decision log is (${name.startsWith('--') ? '--decision-log FILE' : 'decisionLog.path'})`);
    }
    return undefined;
  }
  const path = f.string(pathValue, pathName);
  if (path.endsWith('/')) f.fail(pathName, `expected a file, found a directory path "${path.slice(0, 100)}"`);
  return {
    path,
    maxSizeBytes: byteSize(sizeValue, sizeName, DEFAULT_DECISION_LOG_MAX_SIZE),
    maxFiles: count(filesValue, filesName, DEFAULT_DECISION_LOG_MAX_FILES),
  };
}

/** `10MiB`, `512KiB`, `1GiB`, `65536` or `65536B` (bytes); binary units only (MB would be ambiguous). */
export function byteSize(value: unknown, path: string, fallback: number): number {
  if (f.isAbsent(value)) return fallback;
  const text = typeof value === 'number' ? String(value) : value;
  const m = typeof text === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text) : null;
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) f.fail(path, `expected a size such as 10MiB, 512KiB or a number of bytes, found ${JSON.stringify(value)?.slice(0, 60)}`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < MIN_DECISION_LOG_SIZE || bytes > MAX_DECISION_LOG_SIZE) {
    f.fail(path, `${String(text).trim()} is outside the allowed range ${MIN_DECISION_LOG_SIZE / 1024}KiB..${MAX_DECISION_LOG_SIZE / 1024 ** 3}GiB`);
  }
  return bytes;
}

function count(value: unknown, path: string, fallback: number): number {
  if (f.isAbsent(value)) return fallback;
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_DECISION_LOG_FILES) {
    f.fail(path, `expected a number of rotated files in 0..${MAX_DECISION_LOG_FILES}, found ${JSON.stringify(value)?.slice(0, 60)}`);
  }
  return n;
}
