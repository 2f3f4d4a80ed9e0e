import { CsrRejectedError, IdentityMismatchError, type IdentityError } from '../../common/errors.ts';
import type { VerifiedCsr } from './csr.ts';

/**
 * One rule a CSR must meet before the authority signs it. Rules are small and named so that a
 * denial says which one refused, and a new rule never touches the pipeline. The identity they
 * judge against comes from the verified token, never from the CSR.
 */
export interface CsrRule {
  name: string;
  check(csr: VerifiedCsr, identity: string): IdentityError | undefined;
}

export const csrRules: readonly CsrRule[] = [
  {
    name: 'key-is-ecdsa-p256',
    check: (csr) =>
      csr.isP256 ? undefined : new CsrRejectedError(`the CSR's key is ${csr.keyDescription}; only ECDSA P-256 keys are accepted`),
  },
  {
    name: 'exactly-one-dns-san',
    check: (csr) =>
      csr.dnsNames.length === 1
        ? undefined
        : new CsrRejectedError(`the CSR has ${csr.dnsNames.length} DNS SANs; it must have exactly one, the requested identity`),
  },
  {
    name: 'no-other-sans',
    check: (csr) => {
      const others = [
        csr.ipCount && `${csr.ipCount} IP`,
        csr.emailCount && `${csr.emailCount} e-mail`,
        csr.uriCount && `${csr.uriCount} URI`,
        csr.otherNameCount && `${csr.otherNameCount} other`,
      ].filter(Boolean);
      return others.length === 0
        ? undefined
        : new CsrRejectedError(`the CSR has ${others.join(', ')} SAN(s); only one DNS SAN is allowed (the SPIFFE URI is added by the authority)`);
    },
  },
  {
    name: 'dns-san-is-identity',
    check: (csr, identity) =>
      csr.dnsNames[0] === identity
        ? undefined
        : new IdentityMismatchError(`the CSR asks for "${truncate(csr.dnsNames[0] ?? '')}", but the token proves "${identity}"`),
  },
  {
    name: 'subject-is-empty-or-identity',
    check: (csr, identity) => {
      if (csr.subjectCommonNames.length > 1) return new CsrRejectedError('the CSR subject has more than one CN');
      const cn = csr.subjectCommonNames[0];
      if (cn !== undefined && cn !== '' && cn !== identity) {
        return new IdentityMismatchError(`the CSR subject CN "${truncate(cn)}" is not the identity "${identity}"; leave it empty or equal to it`);
      }
      return undefined;
    },
  },
  {
    // Last, so that a CSR that breaks a rule above is refused for that (the check itself was done
    // by the CsrVerifier, possibly on another thread).
    name: 'signature-verifies',
    check: (csr) =>
      csr.signatureValid ? undefined : new CsrRejectedError('the CSR signature does not verify with its own key (ecdsa-with-SHA256 expected)'),
  },
];

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
