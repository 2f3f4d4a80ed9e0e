/**
 * How the audit speaks of default policies (and accessPolicies, which take the same values):
 * what each admits, and how much exposure that is.
 */
import { DEFAULT_INBOUND_POLICY_ANNOTATION, type DefaultPolicyName } from '../resources/types.ts';
import type { Severity } from './finding.ts';

export const ADMITS: Record<DefaultPolicyName, string> = {
  'all-unauthenticated': 'admits every client, plaintext included, from any address',
  'all-authenticated': 'admits any client with a verified mesh identity, from any address',
  'cluster-unauthenticated': 'admits every client, plaintext included, from the cluster networks',
  'cluster-authenticated': 'admits any client with a verified mesh identity from the cluster networks',
  deny: 'refuses every client',
  audit: 'admits every client and only records that it would have been denied',
};

/** The exposure of a port that a policy governs alone: the brief's scale, all-unauthenticated worst. */
export const EXPOSURE: Record<DefaultPolicyName, Severity> = {
  'all-unauthenticated': 'high',
  'cluster-unauthenticated': 'medium',
  'all-authenticated': 'low',
  'cluster-authenticated': 'low',
  deny: 'info',
  audit: 'info',
};

export function isUnauthenticatedPolicy(policy: DefaultPolicyName): boolean {
  return policy === 'all-unauthenticated' || policy === 'cluster-unauthenticated';
}

export const ANNOTATION = DEFAULT_INBOUND_POLICY_ANNOTATION;
