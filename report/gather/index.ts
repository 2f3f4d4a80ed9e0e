/**
 * Everything the report is built from, read from a home and the paths given. The only part of
 * report/ that touches files.
 */
import { join } from 'node:path';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { readHomeConfig } from '../../trust-anchors/home.ts';
import { defaultEvaluatorConfig, type EvaluatorConfig } from '../../policy/evaluator/types.ts';
import type { ReportInputs } from '../inputs.ts';
import { gatherDecisions } from './decisions.ts';
import { gatherLedger } from './ledger.ts';
import { gatherPolicy } from './policy.ts';
import { gatherRotation } from './rotation.ts';
import { gatherTrust } from './trust.ts';

/** Where the local mesh keeps its proxies' decision logs and its policy, inside the home. */
export const DEFAULT_DECISIONS_DIR = 'mesh/decisions';
export const DEFAULT_POLICY_DIR = 'mesh/policy';

export interface GatherOptions {
  home: string;
  now: Date;
  /** Only what happened in the last `sinceMs` counts. */
  sinceMs?: number;
  /** Default: `<home>/mesh/decisions`, skipped when absent. */
  decisions?: string[];
  /** Default: `<home>/mesh/policy`, when present. */
  resources?: string[];
  /** Default: `<home>/ledger.jsonl`. */
  ledger?: string;
  /** Cluster networks and default policy; the identity domain comes from the home. */
  evaluator?: Partial<Omit<EvaluatorConfig, 'domain'>>;
}

/**
 * @example
 *   const inputs = await gatherReportInputs({ home: '.identity', now: new Date(), sinceMs: 86_400_000 });
 *   const report = buildComplianceReport(inputs);
 */
export async function gatherReportInputs(o: GatherOptions): Promise<ReportInputs> {
  const config = await readHomeConfig(o.home); // a home must exist: a typo must not yield an empty report
  const evaluator = defaultEvaluatorConfig({ ...o.evaluator, domain: { trustDomain: config.trustDomain, controlPlaneNamespace: config.controlPlaneNamespace } });
  return {
    now: o.now,
    since: o.sinceMs !== undefined ? new Date(o.now.getTime() - o.sinceMs) : null,
    home: o.home,
    decisions: await gatherDecisions(o.decisions ?? [join(o.home, DEFAULT_DECISIONS_DIR)], { optional: o.decisions === undefined }),
    ledger: await gatherLedger(o.ledger ?? join(o.home, HomeLayout.ledger)),
    trust: await gatherTrust(o.home),
    rotation: await gatherRotation(o.home),
    policy: await gatherPolicy(o.resources ?? [join(o.home, DEFAULT_POLICY_DIR)], evaluator, { optional: o.resources === undefined }),
  };
}
