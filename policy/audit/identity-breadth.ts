/**
 * How many workloads an identity pattern admits: one (an exact identity or SPIFFE ID), a
 * group (`*.NS.serviceaccount.identity.CP.TD`: every ServiceAccount of a namespace; any other
 * suffix), or any (`*`, or a suffix that every identity of the trust domain ends with).
 */
import type { IdentityDomain } from '../../common/names.ts';

export type IdentityBreadth = { kind: 'one' } | { kind: 'group' | 'any'; text: string };

export function classifyIdentity(pattern: string, domain: IdentityDomain): IdentityBreadth {
  if (pattern === '*') return { kind: 'any', text: 'any mesh identity: every meshed workload, of every namespace' };
  if (!pattern.startsWith('*.')) return { kind: 'one' };
  const suffix = pattern.slice(2).toLowerCase().replace(/\.$/, '');
  const tail = `serviceaccount.identity.${domain.controlPlaneNamespace}.${domain.trustDomain}`;
  if (tail === suffix || tail.endsWith(`.${suffix}`)) return { kind: 'any', text: 'every identity of the trust domain: every meshed workload, of every namespace' };
  if (suffix.endsWith(`.${tail}`)) {
    const labels = suffix.slice(0, -tail.length - 1).split('.');
    // `*.x.web.demo.serviceaccount...` lies below a ServiceAccount's identity: no identity matches it, so it is not broad.
    if (labels.length === 1) return { kind: 'group', text: `every ServiceAccount of namespace ${labels[0]}` };
    return { kind: 'one' };
  }
  return { kind: 'group', text: `every identity ending in .${suffix}` };
}
