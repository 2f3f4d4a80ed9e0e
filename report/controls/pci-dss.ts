/**
 * PCI DSS 4.0 requirement 4.2.1: strong cryptography during transmission — only trusted keys and
 * certificates, certificates confirmed valid and not expired, secure protocol versions only,
 * appropriate strength.
 */
import { formatCount } from '../format.ts';
import { LEAF_KEY_TYPE } from '../sections/inventory.ts';
import { fail, notApplicable, pass, type ControlDefinition } from './control.ts';
import { plaintextProblem, trustProblems } from './evidence.ts';

export const pci421: ControlDefinition = {
  id: 'pci-dss-4.2.1',
  framework: 'PCI DSS 4.0',
  reference: 'Requirement 4.2.1',
  title: 'Strong cryptography protects data in transmission',
  evaluate({ mtls, trust }) {
    const a = mtls.admitted;
    if (a.connections === 0) return notApplicable('No admitted connection in the decision logs for this window: no transmission to judge.');
    const problems = [...(a.plaintextConnections > 0 ? [plaintextProblem(mtls)] : []), ...trustProblems(trust, { keys: true })];
    if (problems.length > 0) return fail(problems);
    const keys = [...new Set([...trust.anchors.map((x) => x.keyType), trust.issuer!.keyType])].join(', ');
    return pass(
      `All ${formatCount(a.connections)} admitted connections were mutual TLS (the proxy accepts TLS 1.3 only; the decision log does not record the version); ` +
        `anchors and issuer (${keys}) are within their validity and the issuer chains to the bundle; leaf keys are ${LEAF_KEY_TYPE}, the only kind the authority signs.`,
    );
  },
};
