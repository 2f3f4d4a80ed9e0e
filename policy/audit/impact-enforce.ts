/**
 * The impact of switching audit to enforce: every logged `audit` decision was a connection
 * admitted only because of audit mode, so enforcing would have refused it.
 */
import type { DecisionRecord, LogPosition } from './decision-log.ts';
import { FlowGroups, type FlowGroup } from './flow-groups.ts';

export interface EnforceImpact {
  /** Logged decisions that audit mode admitted: each would have been refused. */
  wouldRefuse: number;
  groups: FlowGroup[];
}

export class EnforceImpactCollector {
  readonly #groups = new FlowGroups();

  add(record: DecisionRecord, at: LogPosition): void {
    if (record.decision === 'audit') this.#groups.add(record, at, record.server, record.reason);
  }

  result(): EnforceImpact {
    return { wouldRefuse: this.#groups.total, groups: this.#groups.list() };
  }
}
