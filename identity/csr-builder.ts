import { sign } from 'node:crypto';
import { encodeOid, sequence, Tag, tlv } from '../trust-anchors/der.ts';
import { spkiDer, type KeyPair } from '../trust-anchors/keys.ts';

const ECDSA_WITH_SHA256 = sequence(encodeOid('1.2.840.10045.4.3.2'));

/**
 * A PKCS#10 CSR (DER) for one workload identity: empty subject, exactly one DNS SAN, signed with
 * the workload's own key — what the authority accepts, and all a proxy needs to send.
 */
export function buildCsr(keys: KeyPair, dnsName: string): Buffer {
  const san = sequence(encodeOid('2.5.29.17'), tlv(Tag.OCTET_STRING, sequence(tlv(0x82, Buffer.from(dnsName, 'latin1')))));
  const extensionRequest = sequence(encodeOid('1.2.840.113549.1.9.14'), tlv(Tag.SET, sequence(san)));
  const info = sequence(tlv(Tag.INTEGER, Buffer.from([0])), sequence(), spkiDer(keys.publicKey), tlv(0xa0, extensionRequest));
  const signature = sign('sha256', info, keys.privateKey);
  return sequence(info, ECDSA_WITH_SHA256, tlv(Tag.BIT_STRING, Buffer.from([0]), signature));
}
