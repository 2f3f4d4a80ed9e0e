/**
 * The inbound policy's status as the admin endpoint shows it (`/policy`, and within `/ready`)
 * and as the `proxy_inbound_policy_*` metrics count it.
 */
import type { InboundPolicy, InboundPolicyStatus } from '../inbound/authorize.ts';
import { POLICY_STATES, type ProxyMetrics } from './metrics.ts';

/** `GET /policy`, and `detail.policy` of `/ready`. */
export interface PolicyStatusDocument {
  source: string;
  state: InboundPolicyStatus['state'];
  /** ISO time of the last change of state. */
  since: string;
  generation: number;
  detail: string;
  /** One line for a person: what the state means for connections. */
  summary: string;
}

export function policyStatusDocument(status: InboundPolicyStatus): PolicyStatusDocument {
  return {
    source: status.source,
    state: status.state,
    since: new Date(status.sinceMs).toISOString(),
    generation: status.generation,
    detail: status.detail,
    summary: summaryOf(status),
  };
}

function summaryOf(status: InboundPolicyStatus): string {
  switch (status.state) {
    case 'default':
      return status.source === 'none' ? 'default: no policy source; the default policy decides' : 'default: no policy received yet; the default policy decides';
    case 'stale':
      return 'stale: keeping the last policy received';
    case 'current':
      return status.generation > 0 ? `current: policy generation ${status.generation} in force` : 'current';
  }
}

/** Keeps the status metrics in step with the policy; returns the unsubscribe function. */
export function trackPolicyStatus(policy: InboundPolicy, metrics: ProxyMetrics): () => void {
  const publish = () => {
    const { state, generation } = policy.status();
    for (const s of POLICY_STATES) metrics.policyState.set({ state: s }, s === state ? 1 : 0);
    metrics.policyGeneration.set(generation);
  };
  publish();
  return policy.subscribe(() => {
    metrics.policyUpdates.inc();
    publish();
  });
}
