import { fileURLToPath } from 'node:url';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig, type Decision, type EvaluatorConfig } from '../../policy/evaluator/types.ts';
import { loadResources } from '../../policy/resources/load.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Builds the index of one fixture file (or directory) under test/policy/fixtures/. */
export async function indexOf(fixture: string, config: Partial<EvaluatorConfig> = {}): Promise<PolicyIndex> {
  const { resources } = await loadResources([FIXTURES + fixture]);
  return PolicyIndex.build(resources, defaultEvaluatorConfig(config));
}

/** `SA.NS.serviceaccount.identity.linkerd.cluster.local` */
export const sa = (name: string, namespace: string): string => `${name}.${namespace}.serviceaccount.identity.linkerd.cluster.local`;

export const IN_CLUSTER = '10.1.2.3';
export const OUTSIDE = '203.0.113.9';

/** `index.evaluate` with a shorter call: decide(index, 'demo/api-0', 8080, identity-or-undefined, ip). */
export function decide(index: PolicyIndex, pod: string, port: number, clientIdentity: string | undefined, clientIp: string = IN_CLUSTER): Decision {
  return index.evaluate({ pod, port, clientIp, ...(clientIdentity !== undefined ? { clientIdentity } : {}) });
}
