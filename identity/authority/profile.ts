import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  GeneralNames,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { InternalError } from '../../common/errors.ts';
import { OID_ECDSA_WITH_SHA256, type LeafRequest } from './leaf.ts';

/**
 * Re-reads a certificate the authority made and checks it against the leaf profile before it
 * leaves the building (as SPIRE does): signature algorithm, validity, serial, exact SANs, key
 * usages, CA:false, key identifiers, and the requested public key. A mismatch is our bug, never
 * the client's, so it is an InternalError and nothing is returned.
 */
export function checkLeafProfile(der: Buffer, request: LeafRequest, issuerKeyId: Buffer): void {
  const problems: string[] = [];
  const cert = AsnConvert.parse(der, Certificate);
  const tbs = cert.tbsCertificate;
  const expect = (ok: boolean, what: string) => ok || problems.push(what);

  expect(tbs.version === 2, 'version is not v3');
  expect(cert.signatureAlgorithm.algorithm === OID_ECDSA_WITH_SHA256, 'signature is not ecdsa-with-SHA256');
  expect(tbs.signature.algorithm === OID_ECDSA_WITH_SHA256, 'inner signature algorithm differs');
  expect(Buffer.from(tbs.serialNumber).equals(request.serial), 'serial differs');
  expect((new Uint8Array(tbs.serialNumber)[0]! & 0x80) === 0, 'serial is negative');
  expect(tbs.validity.notBefore.getTime().getTime() === Math.floor(request.notBefore.getTime() / 1000) * 1000, 'notBefore differs');
  expect(tbs.validity.notAfter.getTime().getTime() === Math.floor(request.notAfter.getTime() / 1000) * 1000, 'notAfter differs');
  const spki = Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo));
  expect(spki.equals(request.spkiDer), 'public key is not the requested one');
  expect(AsnConvert.parse(request.spkiDer, SubjectPublicKeyInfo).algorithm.algorithm === '1.2.840.10045.2.1', 'key is not EC');

  const ext = new Map((tbs.extensions ?? []).map((e) => [e.extnID, e]));
  expect(ext.size === (tbs.extensions ?? []).length, 'an extension appears twice');
  expect(ext.size === 6, `expected 6 extensions, found ${ext.size}`);

  const ku = ext.get(id_ce_keyUsage);
  expect(ku?.critical === true, 'KeyUsage missing or not critical');
  if (ku) expect(AsnConvert.parse(ku.extnValue, KeyUsage).toNumber() === KeyUsageFlags.digitalSignature, 'KeyUsage is not digitalSignature alone');

  const eku = ext.get(id_ce_extKeyUsage);
  const purposes = eku ? [...AsnConvert.parse(eku.extnValue, ExtendedKeyUsage)].sort() : [];
  expect(purposes.join() === [id_kp_serverAuth, id_kp_clientAuth].sort().join(), 'EKU is not serverAuth + clientAuth');

  const bc = ext.get(id_ce_basicConstraints);
  expect(bc?.critical === true && !AsnConvert.parse(bc.extnValue, BasicConstraints).cA, 'BasicConstraints is not critical CA:false');

  const aki = ext.get(id_ce_authorityKeyIdentifier);
  const akiId = aki ? AsnConvert.parse(aki.extnValue, AuthorityKeyIdentifier).keyIdentifier : undefined;
  expect(!!akiId && Buffer.from(akiId.buffer).equals(issuerKeyId), 'AKI does not name the issuer key');
  expect(ext.has(id_ce_subjectKeyIdentifier), 'SKI missing');

  const san = ext.get(id_ce_subjectAltName);
  const names = san ? [...AsnConvert.parse(san.extnValue, GeneralNames)] : [];
  const dns = names.filter((n) => n.dNSName !== undefined).map((n) => n.dNSName);
  const uris = names.filter((n) => n.uniformResourceIdentifier !== undefined).map((n) => n.uniformResourceIdentifier);
  expect(names.length === 2 && dns.length === 1 && dns[0] === request.dnsName, 'SAN DNS name is not exactly the identity');
  expect(uris.length === 1 && uris[0] === request.uri, 'SAN URI is not exactly the SPIFFE ID');

  if (problems.length > 0) {
    throw new InternalError(`the authority made a certificate outside its profile (${problems.join('; ')}); nothing was issued`);
  }
}
