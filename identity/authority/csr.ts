import { createPublicKey, verify } from 'node:crypto';
import { InvalidArgumentError } from '../../common/errors.ts';
import { decodeDirectoryString, decodeOid, DerError, DerReader, Tag, type DerNode } from '../../trust-anchors/der.ts';

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_P256 = '1.2.840.10045.3.1.7';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_COMMON_NAME = '2.5.4.3';
const CURVES: Record<string, string> = { '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521', [OID_P256]: 'P-256' };

/** What the authority needs to know about a CSR. */
export interface ParsedCsr {
  /** SubjectPublicKeyInfo DER, exactly as requested. */
  spkiDer: Buffer;
  /** The subjectPublicKey bits, for the key identifier. */
  publicKeyBits: Buffer;
  /** e.g. `EC P-256`, `RSA`, `EC P-384`: for messages and the key-type rule. */
  keyDescription: string;
  isP256: boolean;
  signatureAlgorithm: string;
  subjectCommonNames: string[];
  dnsNames: string[];
  ipCount: number;
  emailCount: number;
  uriCount: number;
  otherNameCount: number;
  /** Verifies the CSR's self-signature with its own key. Done last, since it is the costly step. */
  verifySignature(): boolean;
}

/**
 * Parses a DER PKCS#10 CSR (RFC 2986) strictly. The SAN is read from the extensionRequest
 * attribute by OID, whatever tool made the CSR (see shared/reference/pitfalls.md).
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  try {
    return parse(new DerReader(der));
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    const looksPem = Buffer.from(der.subarray(0, 10)).toString('latin1') === '-----BEGIN';
    throw new InvalidArgumentError(
      `certificate_signing_request is not a DER PKCS#10 CSR (${looksPem ? 'it looks like PEM; send DER' : err.message})`,
      { cause: err },
    );
  }
}

function parse(r: DerReader): ParsedCsr {
  const [infoNode, algNode, sigNode] = r.children(r.expect(r.root(), Tag.SEQUENCE, 'CertificationRequest'));
  const info = r.children(r.expect(infoNode, Tag.SEQUENCE, 'CertificationRequestInfo'));
  const [version, subject, spki, attributes] = info;
  if (r.content(r.expect(version, Tag.INTEGER, 'version')).toString('hex') !== '00') throw new DerError('CSR version is not 1');
  r.expect(attributes, 0xa0, 'attributes');
  if (info.length !== 4) throw new DerError('CertificationRequestInfo has extra fields');

  const [keyAlg, keyBits] = r.children(r.expect(spki, Tag.SEQUENCE, 'subjectPKInfo'));
  const [keyOidNode, keyParams] = r.children(r.expect(keyAlg, Tag.SEQUENCE, 'key algorithm'));
  const keyOid = decodeOid(r.content(r.expect(keyOidNode, Tag.OID, 'key algorithm OID')));
  const curve = keyParams?.tag === Tag.OID ? decodeOid(r.content(keyParams)) : undefined;
  const bits = r.content(r.expect(keyBits, Tag.BIT_STRING, 'subjectPublicKey'));
  if (bits[0] !== 0) throw new DerError('subjectPublicKey has unused bits');
  const isEc = keyOid === OID_EC_PUBLIC_KEY;
  const isP256 = isEc && curve === OID_P256;

  const [sigAlgOid] = r.children(r.expect(algNode, Tag.SEQUENCE, 'signatureAlgorithm'));
  const signatureAlgorithm = decodeOid(r.content(r.expect(sigAlgOid, Tag.OID, 'signature OID')));
  const sigBits = r.content(r.expect(sigNode, Tag.BIT_STRING, 'signature'));
  if (sigBits[0] !== 0) throw new DerError('signature has unused bits');

  const spkiDer = r.whole(spki!);
  const tbs = r.whole(infoNode!);
  const signature = sigBits.subarray(1);
  return {
    spkiDer,
    publicKeyBits: bits.subarray(1),
    keyDescription: isEc ? `EC ${CURVES[curve ?? ''] ?? curve ?? 'with explicit parameters'}` : keyOid === OID_RSA ? 'RSA' : keyOid,
    isP256,
    signatureAlgorithm,
    subjectCommonNames: readCommonNames(r, subject),
    ...readSubjectAltNames(r, attributes!),
    verifySignature(): boolean {
      if (signatureAlgorithm !== OID_ECDSA_SHA256 || !isP256) return false;
      try {
        const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
        return verify('sha256', tbs, { key, dsaEncoding: 'der' }, signature);
      } catch {
        return false;
      }
    },
  };
}

function readCommonNames(r: DerReader, subject: DerNode | undefined): string[] {
  const names: string[] = [];
  for (const rdn of r.children(r.expect(subject, Tag.SEQUENCE, 'subject'))) {
    for (const atv of r.children(r.expect(rdn, Tag.SET, 'RDN'))) {
      const [type, value] = r.children(r.expect(atv, Tag.SEQUENCE, 'attribute'));
      if (decodeOid(r.content(r.expect(type, Tag.OID, 'attribute type'))) !== OID_COMMON_NAME) continue;
      if (!value) throw new DerError('CN without a value');
      names.push(decodeDirectoryString(value.tag, r.content(value)));
    }
  }
  return names;
}

function readSubjectAltNames(r: DerReader, attributes: DerNode) {
  const result = { dnsNames: [] as string[], ipCount: 0, emailCount: 0, uriCount: 0, otherNameCount: 0 };
  for (const attribute of r.children(attributes)) {
    const [type, values] = r.children(r.expect(attribute, Tag.SEQUENCE, 'attribute'));
    if (decodeOid(r.content(r.expect(type, Tag.OID, 'attribute type'))) !== OID_EXTENSION_REQUEST) continue;
    for (const extensions of r.children(r.expect(values, Tag.SET, 'attribute values'))) {
      for (const extension of r.children(r.expect(extensions, Tag.SEQUENCE, 'extensions'))) {
        const parts = r.children(r.expect(extension, Tag.SEQUENCE, 'extension'));
        if (decodeOid(r.content(r.expect(parts[0], Tag.OID, 'extension OID'))) !== OID_SUBJECT_ALT_NAME) continue;
        const value = r.expect(parts[parts.length - 1], Tag.OCTET_STRING, 'extension value');
        const inner = new DerReader(r.content(value));
        for (const name of inner.children(inner.expect(inner.root(), Tag.SEQUENCE, 'GeneralNames'))) {
          switch (name.tag) {
            case 0x82:
              result.dnsNames.push(inner.content(name).toString('latin1'));
              break;
            case 0x87:
              result.ipCount++;
              break;
            case 0x81:
              result.emailCount++;
              break;
            case 0x86:
              result.uriCount++;
              break;
            default:
              result.otherNameCount++;
          }
        }
      }
    }
  }
  return result;
}
