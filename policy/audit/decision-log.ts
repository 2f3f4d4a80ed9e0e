/**
 * The decision log: what proxies write, one JSON object per line, for every inbound connection
 * decision, and what the audit reads back. The format (v1) is documented in policy/README.md.
 * Files rotate as `decisions.jsonl`, `decisions.jsonl.1`, `decisions.jsonl.2`, ... (higher is
 * older). Lines are validated one by one: a bad line is counted and reported with its file and
 * line number, and reading goes on; nothing is dropped without a word.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NotFoundError } from '../../common/errors.ts';
import { parseIp } from '../net/cidr.ts';

export const DECISION_LOG_VERSION = 1;

export interface DecisionRecord {
  v: 1;
  /** ISO-8601, with a zone: when the decision was made. */
  time: string;
  /** `NS/NAME` of the pod receiving the connection. */
  pod: string;
  port: number;
  /** The client's verified mesh identity; null for a plaintext client. */
  clientIdentity: string | null;
  clientIp: string;
  /** The proxy terminated mutual TLS for the connection. */
  tls: boolean;
  decision: 'allow' | 'deny' | 'audit';
  /** `NS/NAME` of the governing Server; null when a default policy decided. */
  server: string | null;
  /** `Kind/NS/NAME`, or `default/POLICY`; null when denied. */
  authorization: string | null;
  reason: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  decisionId: string;
}

export interface LogPosition {
  file: string;
  /** 1-based. */
  line: number;
}

export interface BadLine extends LogPosition {
  reason: string;
}

export interface DecisionLogSummary {
  /** The files read, in the order read (oldest rotation first). */
  files: string[];
  records: number;
  badLines: number;
  /** The first bad lines (at most MAX_BAD_LINES_KEPT), with file:line and why. */
  bad: BadLine[];
}

/** Longer lines are refused unread: no proxy writes one, and a runaway line must not fill memory. */
export const MAX_LINE_LENGTH = 64 * 1024;
export const MAX_BAD_LINES_KEPT = 100;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const SUBDOMAIN = '[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?';
const NS_NAME = new RegExp(`^${LABEL}/${SUBDOMAIN}$`);
const AUTHORIZATION = new RegExp(`^([A-Z][A-Za-z]*/${LABEL}/${SUBDOMAIN}|default/[a-z-]+)$`);
const DECISIONS = ['allow', 'deny', 'audit'];

/** One line (without its newline) to a record, or why it is not one. */
export function parseDecisionLine(text: string): { record: DecisionRecord } | { error: string } {
  if (text.length > MAX_LINE_LENGTH) return { error: `longer than ${MAX_LINE_LENGTH} characters` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not a JSON object' };
  const o = value as Record<string, unknown>;
  if (o.v !== DECISION_LOG_VERSION) return { error: `v: unsupported version ${JSON.stringify(o.v) ?? 'undefined'} (this reader knows ${DECISION_LOG_VERSION})` };
  const problem = fieldProblem(o);
  return problem ? { error: problem } : { record: o as unknown as DecisionRecord };
}

function fieldProblem(o: Record<string, unknown>): string | undefined {
  const bad = (field: string, want: string) => `${field}: must be ${want} (got ${JSON.stringify(o[field])?.slice(0, 60) ?? 'nothing'})`;
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof o.time !== 'string' || !ISO_TIME.test(o.time) || !Number.isFinite(Date.parse(o.time))) return bad('time', 'an ISO-8601 time with a zone');
  if (typeof o.pod !== 'string' || !NS_NAME.test(o.pod)) return bad('pod', 'NAMESPACE/NAME');
  if (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535) return bad('port', 'a port number 1-65535');
  if (o.clientIdentity !== null && (typeof o.clientIdentity !== 'string' || o.clientIdentity === '' || o.clientIdentity.length > 1024)) return bad('clientIdentity', 'an identity or null');
  if (typeof o.clientIp !== 'string' || !parseIp(o.clientIp)) return bad('clientIp', 'an IP address');
  if (typeof o.tls !== 'boolean') return bad('tls', 'true or false');
  if (o.clientIdentity !== null && o.tls === false) return 'clientIdentity: a verified identity needs tls: true';
  if (typeof o.decision !== 'string' || !DECISIONS.includes(o.decision)) return bad('decision', 'allow, deny or audit');
  if (o.server !== null && (typeof o.server !== 'string' || !NS_NAME.test(o.server))) return bad('server', 'NAMESPACE/NAME or null');
  if (o.authorization !== null && (typeof o.authorization !== 'string' || !AUTHORIZATION.test(o.authorization))) return bad('authorization', 'Kind/NAMESPACE/NAME, default/POLICY or null');
  if (typeof o.reason !== 'string') return bad('reason', 'a string');
  if (!isCount(o.bytesIn)) return bad('bytesIn', 'a count of bytes');
  if (!isCount(o.bytesOut)) return bad('bytesOut', 'a count of bytes');
  if (typeof o.durationMs !== 'number' || !Number.isFinite(o.durationMs) || o.durationMs < 0) return bad('durationMs', 'a duration in milliseconds');
  if (typeof o.decisionId !== 'string' || o.decisionId === '' || o.decisionId.length > 128) return bad('decisionId', 'a non-empty id');
  return undefined;
}

/** A record as a log line (with its newline), fields in the documented order. */
export function formatDecisionLine(r: DecisionRecord): string {
  const { v, time, pod, port, clientIdentity, clientIp, tls, decision, server, authorization, reason, bytesIn, bytesOut, durationMs, decisionId } = r;
  return `${JSON.stringify({ v, time, pod, port, clientIdentity, clientIp, tls, decision, server, authorization, reason, bytesIn, bytesOut, durationMs, decisionId })}\n`;
}

const LOG_FILE = /^(.+\.jsonl)(?:\.(\d+))?$/;

/** Files as given; directories: every `*.jsonl` and its rotations, oldest rotation first. */
export async function listDecisionLogFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new NotFoundError(`decision log: no file or directory at ${path}`);
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const logs = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isFile() && LOG_FILE.test(e.name))
      .map((e) => {
        const m = LOG_FILE.exec(e.name)!;
        return { name: e.name, base: m[1]!, rotation: m[2] === undefined ? 0 : Number(m[2]) };
      })
      .sort((a, b) => (a.base !== b.base ? (a.base < b.base ? -1 : 1) : b.rotation - a.rotation));
    files.push(...logs.map((l) => join(path, l.name)));
  }
  return files;
}

/**
 * Reads decision logs, calling `onRecord` for every valid line, in order.
 *
 * @example
 *   const summary = await readDecisionLogs(['/var/log/proxy/'], (record, at) => impact.add(record, at));
 *   // { files: [...], records: 1200, badLines: 1, bad: [{ file: '.../decisions.jsonl.1', line: 17, reason: 'not JSON' }] }
 */
export async function readDecisionLogs(paths: readonly string[], onRecord: (record: DecisionRecord, at: LogPosition) => void): Promise<DecisionLogSummary> {
  const summary: DecisionLogSummary = { files: await listDecisionLogFiles(paths), records: 0, badLines: 0, bad: [] };
  for (const file of summary.files) {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    let line = 0;
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue; // carries nothing
      const parsed = parseDecisionLine(text);
      if ('record' in parsed) {
        summary.records++;
        onRecord(parsed.record, { file, line });
      } else {
        summary.badLines++;
        if (summary.bad.length < MAX_BAD_LINES_KEPT) summary.bad.push({ file, line, reason: parsed.error });
      }
    }
  }
  return summary;
}
