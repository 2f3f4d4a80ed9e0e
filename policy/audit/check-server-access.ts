/**
 * What reaches a Server when no authorization admits the client: its accessPolicy. A Server
 * that nothing grants on leaves every connection to it; an open or audit accessPolicy admits
 * clients no authorization names.
 */
import { describe, keyOf, type Server } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, type Finding } from './finding.ts';
import { ADMITS, EXPOSURE } from './policy-words.ts';

export function checkServerAccess(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  for (const server of ctx.resources.servers) {
    const key = keyOf(server.meta);
    const access = server.accessPolicy;
    if (access === 'audit') {
      findings.push({
        code: 'server-audit-mode',
        severity: 'medium',
        resources: [locate(server)],
        message: `Server ${key} is in audit mode (accessPolicy audit): it ${ADMITS.audit}`,
        fix: 'check with `identity audit --decisions` what enforcing would refuse, authorize the clients that need access, then remove accessPolicy (deny)',
      });
    } else if (access !== 'deny') {
      findings.push({
        code: 'server-access-policy-open',
        severity: EXPOSURE[access],
        resources: [locate(server)],
        message: `Server ${key} has accessPolicy ${access}: beyond its authorizations, it ${ADMITS[access]}`,
        fix: 'remove accessPolicy (deny) and grant the clients that need access with AuthorizationPolicies naming their identities',
      });
    }
    if (ctx.grantsOn(server).length === 0) findings.push(ungranted(server, ctx));
  }
  return findings;
}

function ungranted(server: Server, ctx: AuditContext): Finding {
  const key = keyOf(server.meta);
  const voids: string[] = [];
  for (const [authz, grant] of ctx.grants) if (grant.voidReason !== null && grant.servers.includes(server)) voids.push(`${describe(authz)} (void: ${grant.voidReason})`);
  const voidText = voids.length > 0 ? `; void policies target it: ${voids.join(', ')}` : '';
  const access = server.accessPolicy;
  return {
    code: 'server-without-authorization',
    // deny: every connection to the port is refused, a likely outage; otherwise the accessPolicy
    // decides everything, and its own finding rates how open that is.
    severity: access === 'deny' ? 'medium' : 'low',
    resources: [locate(server)],
    message: `no authorization grants access to Server ${key}: every connection goes to its accessPolicy ${access}, which ${ADMITS[access]}${voidText}`,
    fix: `add an AuthorizationPolicy targeting Server ${server.meta.name} (requiredAuthenticationRefs naming the clients' ServiceAccounts or a MeshTLSAuthentication)`,
  };
}
