/**
 * SOC 2 (2017 Trust Services Criteria): CC6.1 logical access security (identities and their
 * credentials), CC6.6 protection against threats from outside the system's boundaries,
 * CC6.7 protection of information in transmission.
 */
import { formatBytes, formatCount, formatLifetime, formatPercent, firstFew } from '../format.ts';
import { fail, notApplicable, pass, type ControlDefinition } from './control.ts';
import { trustProblems } from './evidence.ts';

const framework = 'SOC 2' as const;

/** Short-lived: the authority's default leaf lifetime (24 h), plus room for the 20 s backdating and clock skew. */
export const MAX_LEAF_LIFETIME_MS = 24 * 3_600_000 + 5 * 60_000;

export const cc61: ControlDefinition = {
  id: 'soc2-cc6.1',
  framework,
  reference: 'CC6.1',
  title: 'Workload identities are authenticated with short-lived credentials from a verified authority',
  evaluate({ inventory, ledger, trust }) {
    if (inventory.certificates === 0) return notApplicable(`No certificate issued in this window (ledger ${ledger.present ? 'has none in it' : 'absent'}).`);
    const problems: string[] = [];
    if (ledger.verified !== true) problems.push(`the issuance ledger did not verify (${ledger.errors.length} error(s)${ledger.readError ? `; ${ledger.readError}` : ''})`);
    const longest = inventory.lifetimeMs!.max;
    if (longest > MAX_LEAF_LIFETIME_MS) problems.push(`certificates live up to ${formatLifetime(longest)}, longer than ${formatLifetime(MAX_LEAF_LIFETIME_MS)}`);
    problems.push(...trustProblems(trust));
    if (problems.length > 0) return fail(problems);
    return pass(
      `${formatCount(inventory.certificates)} certificates issued to ${formatCount(inventory.identities.length)} identities, each proven by a ServiceAccount token, ` +
        `none living longer than ${formatLifetime(longest)}; the ledger's hash chain verified; the issuer chains to a valid anchor.`,
    );
  },
};

export const cc66: ControlDefinition = {
  id: 'soc2-cc6.6',
  framework,
  reference: 'CC6.6',
  title: 'No access without authentication from outside the mesh',
  evaluate({ sessions, policy, mtls }) {
    if (sessions.decisions === 0 && !policy.resourcesLoaded) return notApplicable('No connection decision and no policy resources for this window.');
    const open = policy.ports.filter((p) => p.admitsUnauthenticated || p.status === 'audit').map((p) => `${p.pod}:${p.port}`);
    const problems: string[] = [];
    if (sessions.admittedWithoutIdentity > 0) problems.push(`${formatCount(sessions.admittedWithoutIdentity)} connection(s) admitted without a verified client identity`);
    if (open.length > 0) problems.push(`${formatCount(open.length)} pod port(s) admit clients without a verified identity: ${firstFew(open)}`);
    if (problems.length > 0) return fail(problems);
    if (sessions.decisions === 0) return notApplicable(`No connection decision for this window (the policy admits no unauthenticated client on its ${formatCount(policy.counts.ports)} known port(s)).`);
    return pass(
      `No connection was admitted without a verified identity (${formatCount(mtls.admitted.connections)} admitted, ${formatCount(mtls.denied.connections)} refused)` +
        (policy.resourcesLoaded ? `; no pod port's policy admits unauthenticated clients.` : '.'),
    );
  },
};

export const cc67: ControlDefinition = {
  id: 'soc2-cc6.7',
  framework,
  reference: 'CC6.7',
  title: 'Information is protected during transmission',
  evaluate({ mtls }) {
    const a = mtls.admitted;
    if (a.connections === 0) return notApplicable('No admitted connection in the decision logs for this window.');
    if (a.plaintextConnections > 0 || a.plaintextBytes > 0) {
      return fail([
        `${formatBytes(a.plaintextBytes)} of ${formatBytes(a.bytes)} (${formatPercent(a.bytes ? a.plaintextBytes / a.bytes : null)}) crossed in plaintext over ${formatCount(a.plaintextConnections)} connection(s)`,
      ]);
    }
    return pass(`All ${formatBytes(a.bytes)} of the ${formatCount(a.connections)} admitted connections crossed in mutual TLS (${formatPercent(mtls.byteShare)} of bytes).`);
  },
};
