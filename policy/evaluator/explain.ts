/** The one-line reasons decisions carry. Built only from precomputed text and the client. */
import { identityMatches } from './identity.ts';
import { networksContain, type IpAddress } from '../net/cidr.ts';
import type { CompiledAuthorization } from './types.ts';

export interface Client {
  /** Normalized; undefined for a plaintext client. */
  identity: string | undefined;
  ip: IpAddress;
  /** `web.demo.serviceaccount.identity.linkerd.cluster.local from 10.1.2.3`, `unauthenticated client 10.1.2.3` */
  text: string;
}

export function describeClient(identity: string | undefined, ipText: string): string {
  return identity ? `${identity} from ${ipText}` : `unauthenticated client ${ipText}`;
}

export function admits(authz: CompiledAuthorization, client: Client): boolean {
  if (authz.identity !== null && (client.identity === undefined || !identityMatches(authz.identity, client.identity))) return false;
  return authz.networks === null || networksContain(authz.networks, client.ip);
}

/** Why `authz` does not admit `client`: `needs identity web...`, `needs an address in 10.0.0.0/8`. */
export function whyNot(authz: CompiledAuthorization, client: Client): string {
  if (authz.identity !== null) {
    const missing = client.identity === undefined || !identityMatches(authz.identity, client.identity);
    if (missing) return authz.identity.any ? 'needs a mesh identity' : `needs identity ${authz.identity.text}`;
  }
  return `needs an address in ${authz.networksText}`;
}

const SHOWN = 4;

/** `(checked: AuthorizationPolicy demo/a needs identity x, ServerAuthorization demo/b needs ...)` */
export function checkedText(authorizations: readonly CompiledAuthorization[], client: Client): string {
  if (authorizations.length === 0) return ' (the Server has no authorizations)';
  const parts = authorizations.slice(0, SHOWN).map((a) => `${a.label} ${whyNot(a, client)}`);
  if (authorizations.length > SHOWN) parts.push(`${authorizations.length - SHOWN} more`);
  return ` (checked: ${parts.join(', ')})`;
}
