/**
 * Workload credentials for meshtls tests, signed directly with a test home's issuer through the
 * authority's own LeafBuilder: the same certificate profile as the identity service, no gRPC.
 */
import { createPublicKey } from 'node:crypto';
import { LeafBuilder } from '../../../identity/authority/leaf.ts';
import type { IssuedCredentials } from '../../../proxy/identity-client/types.ts';
import { randomSerial } from '../../../trust-anchors/certificates.ts';
import { generateP256KeyPair, spkiDer } from '../../../trust-anchors/keys.ts';
import type { Issuer } from '../../../trust-anchors/trust.ts';

export function issueCredentials(issuer: Issuer, identity: string, options: { dnsName?: string; lifetimeMs?: number; now?: Date } = {}): IssuedCredentials {
  const keys = generateP256KeyPair();
  const spki = spkiDer(createPublicKey(keys.privateKey));
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 20_000);
  const notAfter = new Date(Math.min(now.getTime() + (options.lifetimeMs ?? 3_600_000), issuer.notAfter.getTime()));
  const serial = randomSerial();
  const leafDer = new LeafBuilder(issuer).build({
    spkiDer: spki,
    publicKeyBits: spki.subarray(spki.length - 65), // an uncompressed P-256 point ends the SPKI
    dnsName: options.dnsName ?? identity,
    uri: 'spiffe://cluster.local/ns/demo/sa/test',
    serial,
    notBefore,
    notAfter,
  });
  return {
    identity,
    leafDer,
    intermediatesDer: issuer.chainDer,
    privateKey: keys.privateKey,
    notBefore,
    notAfter,
    serialHex: serial.toString('hex'),
  };
}
