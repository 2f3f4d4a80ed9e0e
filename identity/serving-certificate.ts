import type { Clock } from '../common/clock.ts';
import { identityName, identityServiceAccount, spiffeId, type IdentityDomain } from '../common/names.ts';
import { randomSerial } from '../trust-anchors/certificates.ts';
import { generateP256KeyPair, privateKeyToPem, spkiDer } from '../trust-anchors/keys.ts';
import { encodePem } from '../trust-anchors/pem.ts';
import { DEFAULT_CLOCK_SKEW_MS } from './authority/authority.ts';
import type { LeafBuilder } from './authority/leaf.ts';
import { checkLeafProfile } from './authority/profile.ts';

export interface ServingCertificate {
  identity: string;
  /** Leaf then issuer chain, PEM: what the TLS server presents. */
  certificateChainPem: string;
  privateKeyPem: string;
  notAfter: Date;
}

/**
 * The identity service's own certificate, for `identity.<cp-ns>.serviceaccount.identity.<cp-ns>.<td>`,
 * signed by the issuer in service with the same profile as every leaf. It needs no token: the
 * service holds the issuer key already.
 */
export function issueServingCertificate(builder: LeafBuilder, domain: IdentityDomain, clock: Clock, lifetimeMs: number): ServingCertificate {
  const sa = identityServiceAccount(domain);
  const identity = identityName(sa, domain);
  const keys = generateP256KeyPair();
  const spki = spkiDer(keys.publicKey);
  const now = clock.now().getTime();
  const request = {
    spkiDer: spki,
    // The SPKI of a P-256 key is a fixed 26-byte header followed by the 65-byte point.
    publicKeyBits: spki.subarray(spki.length - 65),
    dnsName: identity,
    uri: spiffeId(sa, domain),
    serial: randomSerial(),
    notBefore: new Date(now - DEFAULT_CLOCK_SKEW_MS),
    notAfter: new Date(Math.min(now + lifetimeMs, builder.issuer.notAfter.getTime())),
  };
  const leaf = builder.build(request);
  checkLeafProfile(leaf, request, { name: builder.issuerName, keyId: builder.issuerKeyId });
  return {
    identity,
    certificateChainPem: [leaf, ...builder.issuer.chainDer].map((d) => encodePem(d, 'CERTIFICATE')).join(''),
    privateKeyPem: privateKeyToPem(keys.privateKey),
    notAfter: new Date(Math.floor(request.notAfter.getTime() / 1000) * 1000),
  };
}

/** When to renew a certificate: at 70% of its remaining lifetime, clamped to [min, max]. */
export function renewalDelayMs(notAfter: Date, now: Date, minMs = 10_000, maxMs = 24 * 3_600_000): number {
  const remaining = notAfter.getTime() - now.getTime();
  return Math.min(maxMs, Math.max(minMs, Math.floor(remaining * 0.7)));
}
