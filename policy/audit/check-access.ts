/**
 * Who the authorizations let in: clients with no identity at all, identities matched by
 * wildcard (every meshed workload, or every workload of a namespace), and networks that are
 * the whole address space.
 */
import { formatNetwork, type Network } from '../net/cidr.ts';
import { describe, keyOf, type AuthorizationPolicy, type MeshTLSAuthentication, type ServerAuthorization } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, type Finding, type ResourceLocation } from './finding.ts';
import { classifyIdentity } from './identity-breadth.ts';

export function checkAccess(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  for (const saz of ctx.resources.serverAuthorizations) findings.push(...serverAuthorizationFindings(saz, ctx));
  for (const ap of ctx.resources.authorizationPolicies) findings.push(...authorizationPolicyFindings(ap, ctx));
  for (const m of ctx.resources.meshTLSAuthentications) findings.push(...meshTLSFindings(m, ctx));
  for (const n of ctx.resources.networkAuthentications) findings.push(...networkFindings(n.networks, `${describe(n)} lists`, [locate(n)]));
  findings.push(...networkFindings(ctx.config.clusterNetworks, 'the cluster networks (--cluster-networks) include', []));
  return findings;
}

function serverAuthorizationFindings(saz: ServerAuthorization, ctx: AuditContext): Finding[] {
  const findings = saz.networks ? networkFindings(saz.networks, `${describe(saz)} lists`, [locate(saz)]) : [];
  const servers = ctx.grants.get(saz)?.servers ?? [];
  const client = saz.client;
  if (client.type === 'unauthenticated' && servers.length > 0) {
    const networks = saz.networks ?? ctx.config.clusterNetworks;
    const from = saz.networks ? networks.map(formatNetwork).join(', ') : 'the cluster networks';
    findings.push(unauthenticated(saz, `unauthenticated: true admits clients without a mesh identity, from ${from}`, serverList(servers), anyAddress(networks)));
  } else if (client.type === 'tls-unauthenticated') {
    findings.push(wildcard(saz, 'meshTLS.unauthenticatedTLS admits any TLS client, whatever its identity'));
  } else if (client.type === 'mesh-tls') {
    findings.push(...identityFindings(saz, client.identities, ctx));
  }
  return findings;
}

function authorizationPolicyFindings(ap: AuthorizationPolicy, ctx: AuditContext): Finding[] {
  const grant = ctx.grants.get(ap);
  if (ap.identityRef !== null || !grant || grant.voidReason !== null || grant.servers.length === 0) return [];
  const net = ap.networkRef ? ctx.networks.get(`${ap.networkRef.namespace}/${ap.networkRef.name}`) : undefined;
  const from = net ? `from ${net.networks.map(formatNetwork).join(', ')} (NetworkAuthentication ${keyOf(net.meta)})` : 'from any address';
  return [unauthenticated(ap, `no identity reference: it admits clients without a mesh identity, ${from}`, serverList(grant.servers), !net || anyAddress(net.networks))];
}

function meshTLSFindings(m: MeshTLSAuthentication, ctx: AuditContext): Finding[] {
  const findings = identityFindings(m, m.identities, ctx);
  for (const ref of m.identityRefs) {
    if (ref.kind === 'Namespace') {
      if (ref.name === '*') findings.push(wildcard(m, 'identityRef Namespace "*" admits every ServiceAccount of every namespace'));
      else findings.push(namespaceWide(m, `identityRef Namespace ${ref.name} admits every ServiceAccount of namespace ${ref.name}`));
    } else if (ref.name === '*') {
      findings.push(namespaceWide(m, `identityRef ServiceAccount "*" admits every ServiceAccount of namespace ${ref.namespace}`));
    }
  }
  return findings;
}

function identityFindings(owner: ServerAuthorization | MeshTLSAuthentication, identities: readonly string[], ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  for (const id of identities) {
    const breadth = classifyIdentity(id, ctx.config.domain);
    if (breadth.kind === 'any') findings.push(wildcard(owner, `identity "${id}" admits ${breadth.text}`));
    else if (breadth.kind === 'group') findings.push(namespaceWide(owner, `identity "${id}" admits ${breadth.text}`));
  }
  return findings;
}

function networkFindings(networks: readonly Network[], what: string, resources: ResourceLocation[]): Finding[] {
  return networks
    .filter((n) => n.cidr.prefix === 0)
    .map((n) => ({
      code: 'network-all-addresses',
      // With exceptions, it is still almost every address, but someone thought about it.
      severity: n.except.length === 0 ? ('medium' as const) : ('low' as const),
      resources,
      message: `${what} ${formatNetwork(n)}: every ${n.cidr.family === 4 ? 'IPv4' : 'IPv6'} address${n.except.length ? ' but the exceptions' : ''}`,
      fix: 'list only the networks the clients are in (the cluster networks, a load balancer or node range)',
    }));
}

function anyAddress(networks: readonly Network[]): boolean {
  return networks.some((n) => n.cidr.prefix === 0 && n.except.length === 0);
}

function serverList(servers: readonly { meta: { namespace: string; name: string } }[]): string {
  return servers.map((s) => `${s.meta.namespace}/${s.meta.name}`).join(', ');
}

function unauthenticated(owner: ServerAuthorization | AuthorizationPolicy, what: string, servers: string, fromAnywhere: boolean): Finding {
  return {
    code: 'unauthenticated-authorization',
    severity: fromAnywhere ? 'high' : 'medium',
    resources: [locate(owner)],
    message: `${describe(owner)}: ${what}, to Server ${servers}`,
    fix: 'require the clients\' identities (a ServiceAccount or MeshTLSAuthentication reference); if plaintext clients must stay, restrict them to their networks',
  };
}

function wildcard(owner: ServerAuthorization | MeshTLSAuthentication, what: string): Finding {
  return {
    code: 'identity-wildcard',
    severity: 'medium',
    resources: [locate(owner)],
    message: `${describe(owner)}: ${what}`,
    fix: 'name the ServiceAccounts of the clients that need access instead of a wildcard',
  };
}

function namespaceWide(owner: ServerAuthorization | MeshTLSAuthentication, what: string): Finding {
  return {
    code: 'identity-namespace-wide',
    severity: 'low',
    resources: [locate(owner)],
    message: `${describe(owner)}: ${what}`,
    fix: 'name the ServiceAccounts that need access, so that a new workload in that namespace does not inherit it',
  };
}
