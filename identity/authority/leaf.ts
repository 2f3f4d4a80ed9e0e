import { createHash, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  GeneralNames,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import type { Issuer } from '../../trust-anchors/trust.ts';

export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';

export interface LeafRequest {
  spkiDer: Buffer;
  dnsName: string;
  uri: string;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Builds leaves for one issuer. The parts that do not change per request (issuer name, key
 * identifiers, usages) are prepared once, so that a request costs one ASN.1 serialization and
 * one ECDSA signature on a node:crypto KeyObject — no WebCrypto on the hot path.
 */
export class LeafBuilder {
  readonly #issuer: Issuer;
  readonly #issuerName: Name;
  readonly #constant: Extension[];
  readonly #algorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  /** The issuer's key identifier; leaves carry it as their AKI. */
  readonly issuerKeyId: Buffer;

  constructor(issuer: Issuer) {
    this.#issuer = issuer;
    const parsed = AsnConvert.parse(issuer.certificate.der, Certificate);
    this.#issuerName = parsed.tbsCertificate.subject;
    const ski = parsed.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
    this.issuerKeyId = ski
      ? Buffer.from(AsnConvert.parse(ski.extnValue, SubjectKeyIdentifier).buffer)
      : keyIdentifier(parsed.tbsCertificate.subjectPublicKeyInfo);
    this.#constant = [
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(this.issuerKeyId) })),
    ];
  }

  get issuer(): Issuer {
    return this.#issuer;
  }

  build(request: LeafRequest): Buffer {
    const spki = AsnConvert.parse(request.spkiDer, SubjectPublicKeyInfo);
    const tbs = new TBSCertificate({
      version: Version.v3,
      serialNumber: toArrayBuffer(request.serial),
      signature: this.#algorithm,
      issuer: this.#issuerName,
      validity: new Validity({ notBefore: request.notBefore, notAfter: request.notAfter }),
      subject: new Name([
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: request.dnsName }) }),
        ]),
      ]),
      subjectPublicKeyInfo: spki,
      extensions: new Extensions([
        ...this.#constant,
        extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki))),
        extension(
          id_ce_subjectAltName,
          true,
          new GeneralNames([new GeneralName({ dNSName: request.dnsName }), new GeneralName({ uniformResourceIdentifier: request.uri })]),
        ),
      ]),
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const signature = sign('sha256', tbsDer, this.#issuer.privateKey);
    const certificate = new Certificate({
      tbsCertificate: tbs,
      signatureAlgorithm: this.#algorithm,
      signatureValue: toArrayBuffer(signature),
    });
    return Buffer.from(AsnConvert.serialize(certificate));
  }
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. An identifier, not a security function. */
function keyIdentifier(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}
