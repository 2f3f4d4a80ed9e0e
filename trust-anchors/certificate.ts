import { createHash, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import * as x509 from './x509.ts';
import { TrustError } from '../common/errors.ts';
import { formatDuration } from '../common/duration.ts';

/**
 * A parsed certificate with the facts path validation needs. Parsing goes through
 * @peculiar/x509 (extensions) and node:crypto (signature checks on KeyObjects, which are fast).
 */
export interface ParsedCertificate {
  der: Buffer;
  /** Lower-case hex SHA-256 of the DER. */
  fingerprint: string;
  subject: string;
  issuer: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  pathLength: number | undefined;
  /** True when KeyUsage is absent or includes keyCertSign (RFC 5280 4.2.1.3). */
  mayCertSign: boolean;
  publicKey: KeyObject;
  dnsNames: string[];
  uris: string[];
  node: NodeX509Certificate;
  peculiar: x509.X509Certificate;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function parseCertificate(der: Uint8Array, source: string): ParsedCertificate {
  let node: NodeX509Certificate;
  let peculiar: x509.X509Certificate;
  try {
    node = new NodeX509Certificate(der);
    peculiar = new x509.X509Certificate(der);
  } catch (err) {
    throw new TrustError(`${source}: the certificate does not parse as X.509 DER`, { cause: err });
  }
  const constraints = peculiar.getExtension(x509.BasicConstraintsExtension);
  const usages = peculiar.getExtension(x509.KeyUsagesExtension);
  const san = peculiar.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  return {
    der: Buffer.from(der),
    fingerprint: sha256Hex(der),
    subject: peculiar.subject,
    issuer: peculiar.issuer,
    serialHex: peculiar.serialNumber.toLowerCase(),
    notBefore: peculiar.notBefore,
    notAfter: peculiar.notAfter,
    isCa: constraints?.ca === true,
    pathLength: constraints?.pathLength,
    mayCertSign: usages === null || (usages.usages & x509.KeyUsageFlags.keyCertSign) !== 0,
    publicKey: node.publicKey,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    node,
    peculiar,
  };
}

/** A short description for messages: never the whole certificate. */
export function describeCertificate(cert: ParsedCertificate): string {
  return `"${cert.subject}" (serial ${cert.serialHex}, SHA-256 ${cert.fingerprint.slice(0, 16)}…)`;
}

export function assertWithinValidity(cert: ParsedCertificate, now: Date, source: string): void {
  if (now < cert.notBefore) {
    throw new TrustError(
      `${source}: certificate ${describeCertificate(cert)} is not valid yet (notBefore ${cert.notBefore.toISOString()}, ` +
        `${formatDuration(cert.notBefore.getTime() - now.getTime())} from now); check the clocks`,
    );
  }
  if (now > cert.notAfter) {
    throw new TrustError(
      `${source}: certificate ${describeCertificate(cert)} expired at ${cert.notAfter.toISOString()}; ` +
        `replace it (identity rotate-issuer / rotate-anchor)`,
    );
  }
}

export function assertCertificateAuthority(cert: ParsedCertificate, source: string): void {
  if (!cert.isCa) {
    throw new TrustError(`${source}: certificate ${describeCertificate(cert)} is not a CA (BasicConstraints cA is not true)`);
  }
  if (!cert.mayCertSign) {
    throw new TrustError(`${source}: certificate ${describeCertificate(cert)} may not sign certificates (KeyUsage lacks keyCertSign)`);
  }
}

/** True when `child` names `parent` as its issuer and `parent`'s key verifies `child`'s signature. */
export function isSignedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  if (child.issuer !== parent.subject) return false;
  try {
    return child.node.verify(parent.publicKey);
  } catch {
    return false;
  }
}

const MAX_PATH_DEPTH = 8;

/**
 * RFC 5280-style path validation from `target` up to one of `anchors`, through `intermediates`:
 * every signature, every validity window, the CA flag and keyCertSign of every signer, and path
 * length constraints. Returns the path, target first and anchor last.
 */
export function verifyPath(
  target: ParsedCertificate,
  intermediates: ParsedCertificate[],
  anchors: ParsedCertificate[],
  now: Date,
  source: string,
): ParsedCertificate[] {
  const path: ParsedCertificate[] = [target];
  assertWithinValidity(target, now, source);
  let current = target;
  while (!anchors.some((a) => a.fingerprint === current.fingerprint)) {
    if (path.length > MAX_PATH_DEPTH) {
      throw new TrustError(`${source}: certificate chain is longer than ${MAX_PATH_DEPTH}; refusing`);
    }
    const signer =
      anchors.find((a) => isSignedBy(current, a)) ??
      intermediates.find((c) => !path.includes(c) && isSignedBy(current, c));
    if (!signer) {
      throw new TrustError(
        `${source}: certificate ${describeCertificate(current)} does not chain to any trust anchor of the bundle ` +
          `(issuer "${current.issuer}" not found, or its signature does not verify)`,
      );
    }
    assertCertificateAuthority(signer, source);
    assertWithinValidity(signer, now, source);
    // RFC 5280 counts the intermediates between the signer and the end of the path. A CA target
    // (an issuer being loaded) counts too, since it will sign leaves below itself.
    const intermediatesBelow = path.length - 1 + (target.isCa ? 1 : 0);
    if (signer.pathLength !== undefined && intermediatesBelow > signer.pathLength) {
      throw new TrustError(
        `${source}: certificate ${describeCertificate(signer)} allows a path length of ${signer.pathLength}, ` +
          `but ${intermediatesBelow} CA certificate(s) stand below it`,
      );
    }
    path.push(signer);
    current = signer;
  }
  return path;
}
