/**
 * A peer's identity is the single DNS SAN of its verified certificate: exact, case-insensitive,
 * no wildcards, no fallback to the subject CN (node's default checkServerIdentity allows both).
 * Linkerd's leaves carry one DNS SAN; ours carry that plus a SPIFFE URI, which is not consulted.
 */
import type { PeerCertificate } from 'node:tls';

/** One DNS name, as our identities are spelled; anything else (quotes, wildcards, spaces) is refused. */
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export class PeerIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerIdentityError';
  }
}

/**
 * The DNS names in node's `subjectaltname` string (`DNS:a, URI:spiffe://x, ...`). node quotes an
 * entry whose value contains a separator, so a quote anywhere means a name crafted to confuse a
 * naive split: it is refused outright rather than unquoted.
 */
export function dnsNamesOf(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  if (subjectAltName.includes('"')) throw new PeerIdentityError('the certificate has a quoted subjectAltName entry');
  return subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

/**
 * The identity of a verified peer certificate: its only DNS SAN.
 * @throws PeerIdentityError when there is not exactly one well-formed DNS SAN.
 */
export function peerIdentity(subjectAltName: string | undefined): string {
  const names = dnsNamesOf(subjectAltName);
  if (names.length !== 1) throw new PeerIdentityError(`the certificate has ${names.length} DNS SANs; a workload certificate has exactly one`);
  const name = names[0]!;
  if (!DNS_NAME.test(name)) throw new PeerIdentityError(`the certificate's DNS SAN "${name.slice(0, 80)}" is not a plain DNS name`);
  return name;
}

/** Marks a failed identity check so that the handshake failure can be counted as `identity-mismatch`. */
export const IDENTITY_MISMATCH_CODE = 'ERR_PEER_IDENTITY_MISMATCH';

/**
 * `checkServerIdentity` for tls.connect: the server must be exactly `expected`.
 * @example tls.connect({ ..., servername: expected, checkServerIdentity: exactServerIdentity(expected) })
 */
export function exactServerIdentity(expected: string) {
  const want = expected.toLowerCase();
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    try {
      const got = peerIdentity(cert.subjectaltname);
      if (got === want) return undefined;
      return Object.assign(new PeerIdentityError(`the server is ${got}, not ${expected}`), { code: IDENTITY_MISMATCH_CODE });
    } catch (err) {
      return Object.assign(err as Error, { code: IDENTITY_MISMATCH_CODE });
    }
  };
}
