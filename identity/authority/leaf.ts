import { createHash, sign } from 'node:crypto';
import { DerReader, encodeOid, sequence, Tag, time, tlv, unsignedInteger } from '../../trust-anchors/der.ts';
import type { Issuer } from '../../trust-anchors/trust.ts';

export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

export interface LeafRequest {
  spkiDer: Buffer;
  /** The subjectPublicKey bits inside spkiDer, for the key identifier. */
  publicKeyBits: Buffer;
  dnsName: string;
  uri: string;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

const ALGORITHM = sequence(encodeOid(OID_ECDSA_WITH_SHA256));
const VERSION_V3 = tlv(0xa0, tlv(Tag.INTEGER, Buffer.from([2])));
const OID_CN = encodeOid('2.5.4.3');
const CRITICAL = tlv(Tag.BOOLEAN, Buffer.from([0xff]));

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return sequence(encodeOid(oid), ...(critical ? [CRITICAL] : []), tlv(Tag.OCTET_STRING, value));
}

// The extensions every leaf carries, whatever its identity: KeyUsage digitalSignature (critical),
// EKU serverAuth + clientAuth, BasicConstraints CA:false (critical).
const KEY_USAGE = extension('2.5.29.15', true, tlv(Tag.BIT_STRING, Buffer.from([0x07, 0x80])));
const EXT_KEY_USAGE = extension('2.5.29.37', false, sequence(encodeOid('1.3.6.1.5.5.7.3.1'), encodeOid('1.3.6.1.5.5.7.3.2')));
const BASIC_CONSTRAINTS = extension('2.5.29.19', true, sequence());

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. An identifier, not a security function. */
export function keyIdentifier(publicKeyBits: Uint8Array): Buffer {
  return createHash('sha1').update(publicKeyBits).digest();
}

/**
 * Builds leaves for one issuer. Everything that does not change per request (issuer name,
 * authority key identifier, usages) is encoded once, so that a request costs a few buffer
 * concatenations and one ECDSA signature on a node:crypto KeyObject.
 */
export class LeafBuilder {
  readonly issuer: Issuer;
  /** The issuer's key identifier; leaves carry it as their AKI. */
  readonly issuerKeyId: Buffer;
  /** The issuer's subject Name, DER, as it stands in its certificate. */
  readonly issuerName: Buffer;
  readonly #constant: Buffer;

  constructor(issuer: Issuer) {
    this.issuer = issuer;
    const { subject, keyId } = readIssuerFacts(issuer.certificate.der);
    this.issuerName = subject;
    this.issuerKeyId = keyId;
    const aki = extension('2.5.29.35', false, sequence(tlv(0x80, keyId)));
    this.#constant = Buffer.concat([KEY_USAGE, EXT_KEY_USAGE, BASIC_CONSTRAINTS, aki]);
  }

  build(request: LeafRequest): Buffer {
    const dns = Buffer.from(request.dnsName, 'latin1');
    const tbs = sequence(
      VERSION_V3,
      unsignedInteger(request.serial),
      ALGORITHM,
      this.issuerName,
      sequence(time(request.notBefore), time(request.notAfter)),
      sequence(tlv(Tag.SET, sequence(OID_CN, tlv(Tag.UTF8_STRING, dns)))),
      request.spkiDer,
      tlv(
        0xa3,
        sequence(
          this.#constant,
          extension('2.5.29.14', false, tlv(Tag.OCTET_STRING, keyIdentifier(request.publicKeyBits))),
          extension('2.5.29.17', true, sequence(tlv(0x82, dns), tlv(0x86, Buffer.from(request.uri, 'latin1')))),
        ),
      ),
    );
    const signature = sign('sha256', tbs, this.issuer.privateKey);
    return sequence(tbs, ALGORITHM, tlv(Tag.BIT_STRING, Buffer.from([0]), signature));
  }
}

/** The issuer's subject Name and key identifier (its SKI, or one computed from its key). */
function readIssuerFacts(certDer: Buffer): { subject: Buffer; keyId: Buffer } {
  const r = new DerReader(certDer);
  const [tbsNode] = r.children(r.root());
  const tbs = r.children(tbsNode!);
  const offset = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const subject = r.whole(tbs[offset + 4]!);
  const spki = r.children(tbs[offset + 5]!);
  let keyId = keyIdentifier(r.content(spki[1]!).subarray(1));
  const extensions = tbs.find((n) => n.tag === 0xa3);
  if (extensions) {
    for (const ext of r.children(r.children(extensions)[0]!)) {
      const parts = r.children(ext);
      if (r.whole(parts[0]!).equals(encodeOid('2.5.29.14'))) {
        const inner = new DerReader(r.content(parts[parts.length - 1]!));
        keyId = Buffer.from(inner.content(inner.root()));
      }
    }
  }
  return { subject, keyId };
}
