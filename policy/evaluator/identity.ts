/**
 * Identity matching as Linkerd's proxy does it: `*` admits any verified identity; `*.suffix`
 * admits a DNS-form identity that ends with `.suffix` (so on a label boundary, and never the
 * suffix itself); anything else, and every SPIFFE ID, matches exactly.
 */
import type { IdentityMatcher } from './types.ts';

const SPIFFE = 'spiffe://';

/** DNS-form identities compare without case or a trailing dot; SPIFFE IDs stay as they are. */
export function normalizeIdentity(identity: string): string {
  if (identity.startsWith(SPIFFE)) return identity;
  const lower = identity.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export function compileIdentities(patterns: readonly string[]): IdentityMatcher {
  let any = false;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns) {
    if (pattern === '*') any = true;
    else if (pattern.startsWith('*.')) suffixes.push(normalizeIdentity(pattern.slice(1)));
    else exact.add(normalizeIdentity(pattern));
  }
  return { any, exact, suffixes, text: describePatterns(any, patterns) };
}

/** The matcher for "any verified mesh identity". */
export const ANY_IDENTITY: IdentityMatcher = compileIdentities(['*']);

function describePatterns(any: boolean, patterns: readonly string[]): string {
  if (any) return 'any mesh identity';
  const shown = patterns.slice(0, 3).join(' or ');
  return patterns.length > 3 ? `${shown} or ${patterns.length - 3} more` : shown;
}

/** `identity` must already be normalized. */
export function identityMatches(matcher: IdentityMatcher, identity: string): boolean {
  if (matcher.any || matcher.exact.has(identity)) return true;
  if (matcher.suffixes.length === 0 || identity.startsWith(SPIFFE)) return false;
  for (const suffix of matcher.suffixes) if (identity.endsWith(suffix)) return true;
  return false;
}
