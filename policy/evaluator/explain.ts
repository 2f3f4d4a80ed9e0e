/** Whether an authorization admits a client, and the one-line reasons decisions carry. */
import { identityMatches, matcherOf } from './identity.ts';
import { formatNetwork, networksContain, type IpAddress } from '../net/cidr.ts';
import { describeAuthorizationRef, type PortAuthorization } from './port-policy.ts';

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

function identityAdmits(authz: PortAuthorization, client: Client): boolean {
  const auth = authz.authentication;
  if (auth.kind === 'unauthenticated') return true;
  return client.identity !== undefined && identityMatches(matcherOf(auth), client.identity);
}

export function admits(authz: PortAuthorization, client: Client): boolean {
  return identityAdmits(authz, client) && (authz.networks === null || networksContain(authz.networks, client.ip));
}

function networksText(authz: PortAuthorization): string {
  if (authz.networks === null) return 'every address';
  if (authz.clusterNetworks) return 'the cluster networks';
  return authz.networks.map(formatNetwork).join(' or ');
}

/** Why `authz` does not admit `client`: `needs identity web...`, `needs an address in 10.0.0.0/8`. */
export function whyNot(authz: PortAuthorization, client: Client): string {
  const auth = authz.authentication;
  if (auth.kind !== 'unauthenticated' && !identityAdmits(authz, client)) {
    const m = matcherOf(auth);
    return m.any ? 'needs a mesh identity' : `needs identity ${m.text}`;
  }
  return `needs an address in ${networksText(authz)}`;
}

const SHOWN = 4;

/** `(checked: AuthorizationPolicy demo/a needs identity x, ServerAuthorization demo/b needs ...)` */
export function checkedText(authorizations: readonly PortAuthorization[], client: Client): string {
  if (authorizations.length === 0) return ' (the Server has no authorizations)';
  const parts = authorizations.slice(0, SHOWN).map((a) => `${describeAuthorizationRef(a.ref)} ${whyNot(a, client)}`);
  if (authorizations.length > SHOWN) parts.push(`${authorizations.length - SHOWN} more`);
  return ` (checked: ${parts.join(', ')})`;
}
