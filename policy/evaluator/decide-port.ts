/**
 * The decision: one function over a compiled port policy, whoever compiled it. `PolicyIndex.evaluate`
 * calls it on the index's own port policies; a proxy fed by the policy controller calls it on the
 * port policies decoded from the wire. Real authorizations are tried first, in order; then the
 * one a Server's accessPolicy or the default policy stands for; then the fallback (deny, or audit:
 * admitted and recorded as a connection that would have been denied).
 */
import { InvalidArgumentError } from '../../common/errors.ts';
import { parseIp, unmapIpv4 } from '../net/cidr.ts';
import { admits, checkedText, describeClient, whyNot, type Client } from './explain.ts';
import { normalizeIdentity } from './identity.ts';
import { describeAuthorizationRef, formatAuthorizationRef, type PortAuthorization, type PortPolicy } from './port-policy.ts';
import type { Decision } from './types.ts';

export interface PortClient {
  /** The client's verified mesh identity; absent (or empty) for a plaintext client. */
  clientIdentity?: string;
  clientIp: string;
}

const AUDIT_REF = 'default/audit';
const AUDIT_TEXT = 'admits it in audit mode and records that it would have been denied';

/** Decides one connection to `policy`'s port. Throws InvalidArgumentError for a client address that is not an IP. */
export function decidePort(policy: PortPolicy, input: PortClient): Decision {
  const parsed = parseIp(input.clientIp);
  if (!parsed) throw new InvalidArgumentError(`client address "${String(input.clientIp).slice(0, 60)}" is not an IP address`);
  const identity = input.clientIdentity ? normalizeIdentity(input.clientIdentity) : undefined;
  const client: Client = { identity, ip: unmapIpv4(parsed), text: describeClient(identity, input.clientIp) };
  return policy.governor.kind === 'server' ? decideServer(policy, policy.governor.server, client) : decideDefault(policy, client);
}

function decideServer(policy: PortPolicy, server: string, client: Client): Decision {
  const conflict = policy.conflict ? `; conflict: ${policy.conflict}` : '';
  for (const authz of policy.authorizations) {
    if (authz.ref.kind !== 'default' && admits(authz, client)) {
      return { decision: 'allow', server, authorization: formatAuthorizationRef(authz.ref), reason: `${describeAuthorizationRef(authz.ref)} admits ${client.text} to Server ${server}${conflict}` };
    }
  }
  const real: PortAuthorization[] = [];
  let access: PortAuthorization | undefined;
  for (const authz of policy.authorizations) {
    if (authz.ref.kind !== 'default') real.push(authz);
    else access ??= authz;
  }
  const accessPolicy = policy.fallback === 'audit' ? 'audit' : (access?.ref.name ?? 'deny');
  const head = `no authorization for Server ${server} admits ${client.text}${checkedText(real, client)}; accessPolicy ${accessPolicy}`;
  const voids = policy.void ? `; void: ${policy.void}` : '';
  for (const authz of policy.authorizations) {
    if (authz.ref.kind === 'default' && admits(authz, client)) {
      return { decision: 'allow', server, authorization: formatAuthorizationRef(authz.ref), reason: `${head} admits it${conflict}` };
    }
  }
  if (policy.fallback === 'audit') {
    return { decision: 'audit', server, authorization: AUDIT_REF, reason: `${head} ${AUDIT_TEXT}${voids}${conflict}` };
  }
  const tail = access ? ` does not admit it either (${whyNot(access, client)})` : '';
  return { decision: 'deny', server, authorization: null, reason: `${head}${tail}${voids}${conflict}` };
}

function decideDefault(policy: PortPolicy, client: Client): Decision {
  if (policy.governor.kind !== 'default') throw new TypeError('decideDefault needs a default governor');
  const { policy: name, origin } = policy.governor;
  const head = `no Server selects port ${policy.port} of pod ${policy.pod}; default policy ${name} (${origin})`;
  for (const authz of policy.authorizations) {
    if (admits(authz, client)) {
      return { decision: 'allow', server: null, authorization: formatAuthorizationRef(authz.ref), defaultPolicy: name, reason: `${head} admits ${client.text}` };
    }
  }
  if (policy.fallback === 'audit') {
    return { decision: 'audit', server: null, authorization: AUDIT_REF, defaultPolicy: name, reason: `${head} admits ${client.text} in audit mode and records that it would have been denied` };
  }
  const first = policy.authorizations[0];
  const reason = first ? `${head} does not admit ${client.text}: it ${whyNot(first, client)}` : `${head} admits no one; ${client.text} is refused`;
  return { decision: 'deny', server: null, authorization: null, defaultPolicy: name, reason };
}
