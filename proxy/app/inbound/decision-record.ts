/**
 * One inbound connection decision as a line of the decision log (v1, documented in
 * policy/README.md, "The decision log"). The proxy never imports policy/, so the format is
 * written here from the proxy's own types; a test parses this module's output with policy/'s
 * reader (`parseDecisionLine`), so that the two cannot drift apart.
 */
import type { InboundConnectionFacts, InboundDecision, InboundDecisionKind, PolicyObjectRef } from './authorize.ts';

export const DECISION_LOG_VERSION = 1;

/**
 * Reasons longer than this are cut (with `…`): a line must stay far below the reader's 64 KiB
 * limit and the smallest file size allowed, whatever a policy puts in a reason. The proxy's own
 * log lines keep the whole reason.
 */
export const MAX_REASON_LENGTH = 1024;

/** The fields of a v1 record, in the order they are written. */
export interface DecisionLogRecord {
  v: 1;
  /** ISO-8601 UTC: when the decision was made. */
  time: string;
  /** `NS/NAME` of the pod receiving the connection. */
  pod: string;
  port: number;
  /** The client's verified identity; null for a plaintext client. */
  clientIdentity: string | null;
  clientIp: string;
  tls: boolean;
  decision: InboundDecisionKind;
  /** `NS/NAME` of the governing Server; null when a default policy decided. */
  server: string | null;
  /** `Kind/NS/NAME` or `default/POLICY`; null when denied. */
  authorization: string | null;
  reason: string;
  /** Bytes read from the client (forwarded to the application). */
  bytesIn: number;
  /** Bytes written towards the client (read from the application). */
  bytesOut: number;
  durationMs: number;
  decisionId: string;
}

export interface DecisionRecordInput {
  pod: string;
  facts: InboundConnectionFacts;
  decision: InboundDecision;
  decisionId: string;
  /** When the decision was made, ms since the epoch. */
  timeMs: number;
  bytesIn?: number;
  bytesOut?: number;
  durationMs?: number;
}

/** The proxy's kinds (Linkerd's metric labels) as the decision log spells them. */
const AUTHORIZATION_KINDS: Record<string, string> = {
  authorizationpolicy: 'AuthorizationPolicy',
  serverauthorization: 'ServerAuthorization',
};

export function decisionRecord(input: DecisionRecordInput): DecisionLogRecord {
  const { facts, decision } = input;
  return {
    v: DECISION_LOG_VERSION,
    time: new Date(input.timeMs).toISOString(),
    pod: input.pod,
    port: facts.targetPort,
    clientIdentity: facts.clientIdentity ?? null,
    clientIp: facts.clientIp,
    tls: facts.tls,
    decision: decision.decision,
    server: serverName(decision.server),
    authorization: decision.decision === 'deny' ? null : authorizationName(decision.authorization),
    reason: decision.reason.length > MAX_REASON_LENGTH ? `${decision.reason.slice(0, MAX_REASON_LENGTH - 1)}…` : decision.reason,
    bytesIn: input.bytesIn ?? 0,
    bytesOut: input.bytesOut ?? 0,
    durationMs: Math.max(0, Math.round((input.durationMs ?? 0) * 1000) / 1000),
    decisionId: input.decisionId,
  };
}

/** `{server, demo/api}` -> `demo/api`; a default policy -> null. */
export function serverName(ref: PolicyObjectRef): string | null {
  return ref.kind === 'server' ? ref.name : null;
}

/**
 * `{authorizationpolicy, demo/web}` -> `AuthorizationPolicy/demo/web`; `{default, audit}` ->
 * `default/audit`; null -> null.
 */
export function authorizationName(ref: PolicyObjectRef | null): string | null {
  if (ref === null) return null;
  if (ref.kind === 'default') return `default/${ref.name}`;
  const kind = AUTHORIZATION_KINDS[ref.kind.toLowerCase()] ?? `${ref.kind.charAt(0).toUpperCase()}${ref.kind.slice(1)}`;
  return `${kind}/${ref.name}`;
}

/** A record as one line, with its newline, fields in the documented order. */
export function formatDecisionRecord(r: DecisionLogRecord): string {
  const { v, time, pod, port, clientIdentity, clientIp, tls, decision, server, authorization, reason, bytesIn, bytesOut, durationMs, decisionId } = r;
  return `${JSON.stringify({ v, time, pod, port, clientIdentity, clientIp, tls, decision, server, authorization, reason, bytesIn, bytesOut, durationMs, decisionId })}\n`;
}
