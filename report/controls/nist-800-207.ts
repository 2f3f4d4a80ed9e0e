/**
 * NIST SP 800-207 (Zero Trust Architecture), section 2.1, the tenets the mesh's data can speak to:
 * 2 (communication secured regardless of location), 3 (per-session access), 4 (dynamic policy),
 * 6 (authentication and authorization enforced before access).
 */
import { formatBytes, formatCount, firstFew } from '../format.ts';
import { fail, notApplicable, pass, type ControlDefinition } from './control.ts';
import { plaintextProblem } from './evidence.ts';

const framework = 'NIST SP 800-207' as const;

export const tenet2: ControlDefinition = {
  id: 'nist-800-207-tenet-2',
  framework,
  reference: 'Tenet 2',
  title: 'All communication is secured regardless of network location',
  evaluate({ mtls }) {
    const a = mtls.admitted;
    if (a.connections === 0) return notApplicable('No admitted connection in the decision logs for this window.');
    if (a.plaintextConnections > 0) return fail([plaintextProblem(mtls)]);
    return pass(
      `All ${formatCount(a.connections)} admitted connections (${formatBytes(a.bytes)}) were mutual TLS, whatever the client's address; ` +
        `${formatCount(mtls.denied.connections)} refused.`,
    );
  },
};

export const tenet3: ControlDefinition = {
  id: 'nist-800-207-tenet-3',
  framework,
  reference: 'Tenet 3',
  title: 'Access to each resource is granted per session',
  evaluate({ sessions, mtls }) {
    if (sessions.decisions === 0) return notApplicable('No connection decision in the decision logs for this window.');
    const shared = sessions.decisions - sessions.distinctDecisionIds;
    if (shared > 0) return fail([`${formatCount(shared)} connection record(s) share a decision id with another: not every connection was decided on its own`]);
    return pass(
      `Each of the ${formatCount(sessions.decisions)} connections was decided on its own as it opened ` +
        `(${formatCount(sessions.distinctDecisionIds)} distinct decision ids: ${formatCount(mtls.admitted.connections)} admitted, ${formatCount(mtls.denied.connections)} refused).`,
    );
  },
};

export const tenet4: ControlDefinition = {
  id: 'nist-800-207-tenet-4',
  framework,
  reference: 'Tenet 4',
  title: 'Access is determined by dynamic policy',
  evaluate({ policy }) {
    if (!policy.resourcesLoaded) return notApplicable('No policy resources were read.');
    const known = policy.ports.filter((p) => p.status !== 'unknown');
    const unknown = policy.counts.unknown ? ` (${formatCount(policy.counts.unknown)} port(s) seen on pods the resources do not describe)` : '';
    if (known.length === 0) return notApplicable(`No pod port is described by the resources read${unknown}.`);
    // A port on the default policy `deny` admits no one: closed, not open by default. Only a default
    // that admits clients without a Server saying who is access not determined by policy.
    const onDefault = known.filter((p) => p.status === 'default');
    const open = onDefault.filter((p) => p.defaultPolicy !== 'deny').map((p) => `${p.pod}:${p.port} (default ${p.defaultPolicy})`);
    if (open.length > 0) {
      return fail([`${formatCount(open.length)} of ${formatCount(known.length)} pod ports have no Server and fall to a default policy that admits clients: ${firstFew(open)}${unknown}`]);
    }
    const closed = onDefault.length > 0 ? `; ${formatCount(onDefault.length)} port(s) without a Server fall to the default policy deny and admit no one` : '';
    return pass(
      `${formatCount(known.length - onDefault.length)} of ${formatCount(known.length)} pod ports are governed by a Server, decided per connection on the client's identity and address${closed}${unknown}.`,
    );
  },
};

export const tenet6: ControlDefinition = {
  id: 'nist-800-207-tenet-6',
  framework,
  reference: 'Tenet 6',
  title: 'Authentication and authorization are enforced before access',
  evaluate({ mtls, sessions, policy }) {
    const auditPorts = policy.ports.filter((p) => p.status === 'audit').map((p) => `${p.pod}:${p.port}`);
    const problems: string[] = [];
    if (mtls.decisions.audit > 0) problems.push(`${formatCount(mtls.decisions.audit)} connection(s) admitted in audit mode, which enforcing would have refused`);
    if (sessions.admittedWithoutIdentity > 0) problems.push(`${formatCount(sessions.admittedWithoutIdentity)} connection(s) admitted without a verified client identity`);
    if (auditPorts.length > 0) problems.push(`${formatCount(auditPorts.length)} pod port(s) in audit mode: ${firstFew(auditPorts)}`);
    if (problems.length > 0) return fail(problems);
    if (sessions.decisions === 0) return notApplicable('No connection decision in the decision logs for this window.');
    if (mtls.admitted.connections === 0) return pass(`No connection was admitted; ${formatCount(mtls.denied.connections)} refused before access.`);
    return pass(
      `Every one of the ${formatCount(mtls.admitted.connections)} admitted connections presented a verified identity and was authorized before it reached the application; ` +
        `${formatCount(mtls.denied.connections)} refused.`,
    );
  },
};
