/**
 * The impact of applying proposed resources: every logged connection decided again against
 * them, as the proxies would decide it. Connections admitted today (allow or audit) that the
 * proposal refuses, and refused ones it would admit, grouped by client and deciding Server.
 * Connections to pods the proposal does not contain are counted per pod, never guessed at.
 */
import type { PolicyIndex } from '../evaluator/policy-index.ts';
import type { Decision } from '../evaluator/types.ts';
import type { DecisionRecord, LogPosition } from './decision-log.ts';
import { FlowGroups, type FlowGroup } from './flow-groups.ts';

export interface ProposedImpact {
  /** Logged connections decided again (those to pods the proposal contains). */
  evaluated: number;
  /** Admitted today, refused under the proposal. */
  refused: number;
  /** Refused today, admitted under the proposal. */
  newlyAllowed: number;
  /** Admitted both ways, or refused both ways. */
  unchanged: number;
  refusedGroups: FlowGroup[];
  newlyAllowedGroups: FlowGroup[];
  /** Pods in the log that the proposed resources do not contain, with how many connections each. */
  missingPods: { pod: string; count: number }[];
}

/** Distinct connections repeat (one client, one port): decide each once, within bounds. */
const MAX_MEMO = 100_000;

export class ProposedImpactCollector {
  readonly #index: PolicyIndex;
  readonly #refused = new FlowGroups();
  readonly #allowed = new FlowGroups();
  readonly #missing = new Map<string, number>();
  readonly #memo = new Map<string, Decision>();
  #evaluated = 0;
  #unchanged = 0;

  constructor(proposed: PolicyIndex) {
    this.#index = proposed;
  }

  add(record: DecisionRecord, at: LogPosition): void {
    if (!this.#index.hasPod(record.pod)) {
      this.#missing.set(record.pod, (this.#missing.get(record.pod) ?? 0) + 1);
      return;
    }
    this.#evaluated++;
    const next = this.#decide(record);
    const before = record.decision !== 'deny';
    const after = next.decision !== 'deny';
    if (before && !after) this.#refused.add(record, at, next.server, next.reason);
    else if (!before && after) this.#allowed.add(record, at, next.server, next.reason);
    else this.#unchanged++;
  }

  #decide(record: DecisionRecord): Decision {
    const key = `${record.pod}\n${record.port}\n${record.clientIdentity ?? ''}\n${record.clientIp}`;
    let decision = this.#memo.get(key);
    if (!decision) {
      decision = this.#index.evaluate({ pod: record.pod, port: record.port, clientIp: record.clientIp, ...(record.clientIdentity !== null ? { clientIdentity: record.clientIdentity } : {}) });
      if (this.#memo.size >= MAX_MEMO) this.#memo.clear();
      this.#memo.set(key, decision);
    }
    return decision;
  }

  result(): ProposedImpact {
    return {
      evaluated: this.#evaluated,
      refused: this.#refused.total,
      newlyAllowed: this.#allowed.total,
      unchanged: this.#unchanged,
      refusedGroups: this.#refused.list(),
      newlyAllowedGroups: this.#allowed.list(),
      missingPods: [...this.#missing].map(([pod, count]) => ({ pod, count })).sort((a, b) => b.count - a.count || (a.pod < b.pod ? -1 : 1)),
    };
  }
}
