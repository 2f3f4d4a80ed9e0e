/**
 * Identity matching as Linkerd's proxy does it: `*` admits any verified identity; `*.suffix`
 * admits a DNS-form identity that ends with `.suffix` (so on a label boundary, and never the
 * suffix itself); anything else, and every SPIFFE ID, matches exactly.
 */
import type { PortAuthentication } from './port-policy.ts';
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
    else if (pattern.startsWith('*.')) {
      const suffix = normalizeIdentity(pattern.slice(1));
      if (!suffixes.includes(suffix)) suffixes.push(suffix);
    } else exact.add(normalizeIdentity(pattern));
  }
  return any ? ANY_IDENTITY : matcher(false, exact, suffixes);
}

function matcher(any: boolean, exact: ReadonlySet<string>, suffixes: readonly string[]): IdentityMatcher {
  return { any, exact, suffixes, text: describePatterns(any, exact, suffixes) };
}

/** The matcher for "any verified mesh identity". */
export const ANY_IDENTITY: IdentityMatcher = matcher(true, new Set(), []);

/** Suffixes first, then exact names: the order the wire keeps, so that reasons read the same on both sides. */
function describePatterns(any: boolean, exact: ReadonlySet<string>, suffixes: readonly string[]): string {
  if (any) return 'any mesh identity';
  const patterns = [...suffixes.map((s) => `*${s}`), ...exact];
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

/** The serialisable form of a matcher; `*` becomes the lone empty suffix, as Linkerd encodes it. */
export function meshTlsAuthentication(m: IdentityMatcher): PortAuthentication {
  return m.any ? { kind: 'mesh-tls', identities: [], suffixes: [''] } : { kind: 'mesh-tls', identities: [...m.exact], suffixes: [...m.suffixes] };
}

const matchers = new WeakMap<object, IdentityMatcher>();

/**
 * The matcher of a `mesh-tls` authentication (or of `tls-unauthenticated`: any identity), built
 * once per object: decisions run per connection and must not rebuild sets. Identities from
 * elsewhere (a controller's message) are normalized here.
 */
export function matcherOf(auth: Exclude<PortAuthentication, { kind: 'unauthenticated' }>): IdentityMatcher {
  if (auth.kind === 'tls-unauthenticated') return TLS_CLIENT;
  let m = matchers.get(auth);
  if (!m) {
    const any = auth.suffixes.includes('');
    m = any ? ANY_IDENTITY : matcher(false, new Set(auth.identities.map(normalizeIdentity)), auth.suffixes.map(normalizeIdentity));
    matchers.set(auth, m);
  }
  return m;
}

/** A mesh-TLS client with or without a particular identity; our proxy's TLS clients always have one. */
const TLS_CLIENT: IdentityMatcher = { ...ANY_IDENTITY, text: 'any TLS client' };
