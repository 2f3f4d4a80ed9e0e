/**
 * Fast CSR generation for the benchmark: a fresh P-256 key per CSR through node:crypto and a
 * hand-encoded PKCS#10 (CN and one DNS SAN = the identity, ecdsa-with-SHA256), so that tens of
 * thousands of CSRs take seconds, not the minutes WebCrypto + @peculiar/x509 would need.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { encodeOid, sequence, Tag, tlv } from '../trust-anchors/der.ts';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const SIGNATURE_ALGORITHM = sequence(encodeOid(OID_ECDSA_WITH_SHA256));
const VERSION_1 = tlv(Tag.INTEGER, Buffer.from([0]));
const OID_CN = encodeOid('2.5.4.3');
const OID_EXTENSION_REQUEST = encodeOid('1.2.840.113549.1.9.14');
const OID_SUBJECT_ALT_NAME = encodeOid('2.5.29.17');

/** One CSR and the pieces the raw-floor measurement needs (so it does not parse). */
export interface BenchCsr {
  der: Buffer;
  /** SubjectPublicKeyInfo DER of the CSR's key. */
  spkiDer: Buffer;
  /** The signed CertificationRequestInfo. */
  tbs: Buffer;
  /** DER ECDSA signature over `tbs`. */
  signature: Buffer;
}

export function makeBenchCsr(identity: string): BenchCsr {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const name = Buffer.from(identity, 'latin1');
  const subject = sequence(tlv(Tag.SET, sequence(OID_CN, tlv(Tag.UTF8_STRING, name))));
  const san = sequence(OID_SUBJECT_ALT_NAME, tlv(Tag.OCTET_STRING, sequence(tlv(0x82, name))));
  const attributes = tlv(0xa0, sequence(OID_EXTENSION_REQUEST, tlv(Tag.SET, sequence(san))));
  const tbs = sequence(VERSION_1, subject, spkiDer, attributes);
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const der = sequence(tbs, SIGNATURE_ALGORITHM, tlv(Tag.BIT_STRING, Buffer.from([0]), signature));
  return { der, spkiDer, tbs, signature };
}
