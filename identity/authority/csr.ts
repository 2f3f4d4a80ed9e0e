import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { Extensions, GeneralNames, id_ce_subjectAltName, Name } from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../../common/errors.ts';

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_P256 = '1.2.840.10045.3.1.7';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_COMMON_NAME = '2.5.4.3';

/** What the authority needs to know about a CSR; parsed without WebCrypto (the hot path). */
export interface ParsedCsr {
  /** SubjectPublicKeyInfo DER, exactly as requested. */
  spkiDer: Buffer;
  /** e.g. `EC P-256`, `RSA`, `EC 1.3.132.0.34`: for messages and the key-type rule. */
  keyDescription: string;
  isP256: boolean;
  signatureAlgorithm: string;
  subjectCommonNames: string[];
  /** Subject attributes other than CN, as OIDs. */
  otherSubjectAttributes: string[];
  dnsNames: string[];
  ipCount: number;
  emailCount: number;
  uriCount: number;
  otherNameCount: number;
  /** Verifies the CSR's self-signature with its own key. Done last, since it is the costly step. */
  verifySignature(): boolean;
}

/**
 * Parses a DER PKCS#10 CSR. The SAN is read from the extensionRequest attribute by OID (see
 * shared/reference/pitfalls.md: a CSR made by `openssl req` is not always seen otherwise).
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  let csr: CertificationRequest;
  try {
    csr = AsnConvert.parse(der, CertificationRequest);
  } catch (err) {
    const hint = Buffer.from(der.subarray(0, 11)).toString('latin1') === '-----BEGIN' ? ' (it looks like PEM; send DER)' : '';
    throw new InvalidArgumentError(`certificate_signing_request is not a DER PKCS#10 CSR${hint}`, { cause: err });
  }
  const info = csr.certificationRequestInfo;
  const tbs = csr.certificationRequestInfoRaw;
  if (!tbs) throw new InvalidArgumentError('certificate_signing_request lacks its request info');
  const spkiDer = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
  const keyAlg = info.subjectPKInfo.algorithm;
  const curve = keyAlg.parameters ? readOid(keyAlg.parameters) : undefined;
  const isEc = keyAlg.algorithm === OID_EC_PUBLIC_KEY;
  const isP256 = isEc && curve === OID_P256;

  const sans = readSubjectAltNames(csr);
  const { commonNames, others } = readSubject(info.subject);
  const signature = Buffer.from(csr.signature);
  const signatureAlgorithm = csr.signatureAlgorithm.algorithm;
  return {
    spkiDer,
    keyDescription: isP256 ? 'EC P-256' : isEc ? `EC ${curveName(curve)}` : keyAlg.algorithm === '1.2.840.113549.1.1.1' ? 'RSA' : keyAlg.algorithm,
    isP256,
    signatureAlgorithm,
    subjectCommonNames: commonNames,
    otherSubjectAttributes: others,
    ...sans,
    verifySignature(): boolean {
      if (signatureAlgorithm !== OID_ECDSA_SHA256) return false;
      let key: KeyObject;
      try {
        key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
        return verify('sha256', Buffer.from(tbs), { key, dsaEncoding: 'der' }, signature);
      } catch {
        return false;
      }
    },
  };
}

function readSubjectAltNames(csr: CertificationRequest) {
  const result = { dnsNames: [] as string[], ipCount: 0, emailCount: 0, uriCount: 0, otherNameCount: 0 };
  const request = csr.certificationRequestInfo.attributes.find((a) => a.type === OID_EXTENSION_REQUEST);
  if (!request) return result;
  for (const value of request.values) {
    let extensions: Extensions;
    try {
      extensions = AsnConvert.parse(value, Extensions);
    } catch (err) {
      throw new InvalidArgumentError('the CSR extensionRequest attribute does not parse', { cause: err });
    }
    for (const ext of extensions.filter((e) => e.extnID === id_ce_subjectAltName)) {
      let names: GeneralNames;
      try {
        names = AsnConvert.parse(ext.extnValue, GeneralNames);
      } catch (err) {
        throw new InvalidArgumentError('the CSR subjectAltName extension does not parse', { cause: err });
      }
      for (const name of names) {
        if (name.dNSName !== undefined) result.dnsNames.push(name.dNSName);
        else if (name.iPAddress !== undefined) result.ipCount++;
        else if (name.rfc822Name !== undefined) result.emailCount++;
        else if (name.uniformResourceIdentifier !== undefined) result.uriCount++;
        else result.otherNameCount++;
      }
    }
  }
  return result;
}

function readSubject(subject: Name): { commonNames: string[]; others: string[] } {
  const commonNames: string[] = [];
  const others: string[] = [];
  for (const rdn of subject) {
    for (const attr of rdn) {
      if (attr.type === OID_COMMON_NAME) commonNames.push(attr.value.toString());
      else others.push(attr.type);
    }
  }
  return { commonNames, others };
}

function readOid(parameters: ArrayBuffer): string | undefined {
  // ECParameters ::= CHOICE { namedCurve OBJECT IDENTIFIER, ... }: decode the OID by hand.
  const bytes = new Uint8Array(parameters);
  if (bytes[0] !== 0x06 || bytes[1] === undefined || bytes[1] + 2 !== bytes.length) return undefined;
  const body = bytes.subarray(2);
  const parts = [Math.floor(body[0]! / 40), body[0]! % 40];
  let value = 0;
  for (const b of body.subarray(1)) {
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

function curveName(oid: string | undefined): string {
  if (oid === '1.3.132.0.34') return 'P-384';
  if (oid === '1.3.132.0.35') return 'P-521';
  return oid ?? 'with explicit parameters';
}
