import { createPublicKey, verify, type KeyObject } from 'node:crypto';
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

/**
 * The one DER encoding of a P-256 SubjectPublicKeyInfo with an uncompressed point:
 * SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04 || X || Y }.
 * These 27 bytes (header, OIDs, the 0x04 prefix) then 64 bytes of X and Y.
 */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 64;

/** What the authority needs to know about a CSR: plain data, so that it can cross threads. */
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
}

/** A parsed CSR whose self-signature was checked: what the rules judge. */
export interface VerifiedCsr extends ParsedCsr {
  /** The signature is ecdsa-with-SHA256 by the CSR's own P-256 key, and it verifies. */
  signatureValid: boolean;
}

/**
 * How the CSR's public key is imported for the signature check. Both give the same answer; they
 * differ in cost. On OpenSSL 3.0 (Node 20, 22) the SPKI decoder is slow and does not scale across
 * threads (measured: 109 µs, and 1.4x on two threads), while a JWK import of the same point is
 * 67 µs and scales; on OpenSSL 3.5 (Node 24) the two are even (35-41 µs), and SPKI is kept.
 */
export type KeyImport = 'jwk' | 'spki';
export const DEFAULT_KEY_IMPORT: KeyImport = /^3\.[01]\./.test(process.versions.openssl) ? 'jwk' : 'spki';

/**
 * Parses a DER PKCS#10 CSR (RFC 2986) strictly. The SAN is read from the extensionRequest
 * attribute by OID, whatever tool made the CSR (see shared/reference/pitfalls.md). No crypto.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  return parseParts(der).csr;
}

/**
 * Parses a CSR and verifies its self-signature with its own key: the CPU-heavy, stateless part of
 * a request (a key import and an ECDSA verify), so that it can run on a worker thread. A CSR that
 * does not parse throws InvalidArgumentError; one that parses but does not verify (another key
 * type or algorithm, a point off the curve, a bad signature) has `signatureValid: false`, and the
 * rules refuse it.
 */
export function verifyCsr(der: Uint8Array, keyImport: KeyImport = DEFAULT_KEY_IMPORT): VerifiedCsr {
  const { csr, tbs, signature } = parseParts(der);
  let signatureValid = false;
  if (csr.signatureAlgorithm === OID_ECDSA_SHA256 && csr.isP256) {
    try {
      const key = importP256Key(csr.spkiDer, keyImport);
      // The KeyObject itself: DER signatures are the default, and an options object costs a brand check per call.
      signatureValid = verify('sha256', tbs, key, signature);
    } catch {
      signatureValid = false;
    }
  }
  return { ...csr, signatureValid };
}

/**
 * Imports a P-256 key. For the JWK route the SPKI must be byte for byte the canonical encoding
 * (OIDs id-ecPublicKey and prime256v1, an uncompressed 0x04 point), since it goes into the
 * certificate as it is and OpenSSL does not see it; anything else goes through the SPKI decoder.
 * Either way a point that is not on the curve is refused (it throws).
 */
export function importP256Key(spkiDer: Buffer, keyImport: KeyImport = DEFAULT_KEY_IMPORT): KeyObject {
  if (keyImport === 'jwk' && spkiDer.length === P256_SPKI_LENGTH && spkiDer.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) {
    const at = P256_SPKI_PREFIX.length;
    return createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: spkiDer.toString('base64url', at, at + 32), y: spkiDer.toString('base64url', at + 32, at + 64) },
      format: 'jwk',
    });
  }
  return createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
}

function parseParts(der: Uint8Array): { csr: ParsedCsr; tbs: Buffer; signature: Buffer } {
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

function parse(r: DerReader): { csr: ParsedCsr; tbs: Buffer; signature: Buffer } {
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

  const csr: ParsedCsr = {
    spkiDer: r.whole(spki!),
    publicKeyBits: bits.subarray(1),
    keyDescription: isEc ? `EC ${CURVES[curve ?? ''] ?? curve ?? 'with explicit parameters'}` : keyOid === OID_RSA ? 'RSA' : keyOid,
    isP256,
    signatureAlgorithm,
    subjectCommonNames: readCommonNames(r, subject),
    ...readSubjectAltNames(r, attributes!),
  };
  return { csr, tbs: r.whole(infoNode!), signature: sigBits.subarray(1) };
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
