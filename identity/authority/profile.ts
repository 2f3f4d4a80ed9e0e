import { InternalError } from '../../common/errors.ts';
import { decodeOid, DerReader, parseTime, Tag, type DerNode } from '../../trust-anchors/der.ts';
import { OID_ECDSA_WITH_SHA256, type LeafRequest } from './leaf.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * Re-reads a certificate the authority made and checks it against the leaf profile before it
 * leaves the building (as SPIRE does): version, signature algorithm, serial, issuer, validity,
 * the requested key, and exactly the six extensions of the profile with their criticality and
 * values. A mismatch is our bug, never the client's: an InternalError, and nothing is returned.
 * Parsed independently of the builder's constants, so that a builder bug cannot hide itself.
 */
export function checkLeafProfile(der: Buffer, request: LeafRequest, issuer: { name: Buffer; keyId: Buffer }): void {
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => ok || problems.push(what);
  try {
    const r = new DerReader(der);
    const [tbsNode, alg, sig] = r.children(r.root());
    const tbs = r.children(tbsNode!);
    expect(tbs.length === 8 && tbs[0]!.tag === 0xa0 && r.content(tbs[0]!).equals(Buffer.from([2, 1, 2])), 'not a v3 certificate with extensions');
    const [, serial, innerAlg, issuerName, validity, , spki, extensions] = tbs;
    expect(oidOf(r, r.children(alg!)[0]) === OID_ECDSA_WITH_SHA256 && oidOf(r, r.children(innerAlg!)[0]) === OID_ECDSA_WITH_SHA256, 'signature is not ecdsa-with-SHA256');
    expect(sig!.tag === Tag.BIT_STRING, 'signature is not a BIT STRING');
    const serialBytes = r.content(serial!);
    expect((serialBytes[0]! & 0x80) === 0 && serialBytes.length >= 9, 'serial is negative or shorter than 64 bits');
    expect(r.whole(issuerName!).equals(issuer.name), 'issuer name is not the issuer subject');
    const [nb, na] = r.children(validity!);
    expect(parseTime(nb!.tag, r.content(nb!)).getTime() === Math.floor(request.notBefore.getTime() / 1000) * 1000, 'notBefore differs');
    expect(parseTime(na!.tag, r.content(na!)).getTime() === Math.floor(request.notAfter.getTime() / 1000) * 1000, 'notAfter differs');
    expect(r.whole(spki!).equals(request.spkiDer), 'public key is not the requested one');

    const seen = new Map<string, { critical: boolean; value: DerReader }>();
    for (const ext of r.children(r.children(extensions!)[0]!)) {
      const parts = r.children(ext);
      const oid = oidOf(r, parts[0]);
      expect(!seen.has(oid), `extension ${oid} appears twice`);
      seen.set(oid, { critical: parts.length === 3 && r.content(parts[1]!)[0] === 0xff, value: new DerReader(r.content(parts[parts.length - 1]!)) });
    }
    expect(seen.size === 6, `expected 6 extensions, found ${seen.size}`);

    const ku = seen.get('2.5.29.15');
    expect(!!ku?.critical && ku.value.content(ku.value.root()).equals(Buffer.from([0x07, 0x80])), 'KeyUsage is not critical digitalSignature alone');
    const eku = seen.get('2.5.29.37');
    const purposes = eku ? eku.value.children(eku.value.root()).map((n) => oidOf(eku.value, n)).sort() : [];
    expect(purposes.join() === [SERVER_AUTH, CLIENT_AUTH].join(), 'EKU is not serverAuth + clientAuth');
    const bc = seen.get('2.5.29.19');
    expect(!!bc?.critical && bc.value.children(bc.value.root()).length === 0, 'BasicConstraints is not critical CA:false');
    const aki = seen.get('2.5.29.35');
    const akiId = aki ? aki.value.children(aki.value.root()).find((n) => n.tag === 0x80) : undefined;
    expect(!!akiId && aki!.value.content(akiId).equals(issuer.keyId), 'AKI does not name the issuer key');
    const ski = seen.get('2.5.29.14');
    expect(!!ski && ski.value.content(ski.value.root()).length > 0, 'SKI missing');
    const san = seen.get('2.5.29.17');
    const names = san ? san.value.children(san.value.root()) : [];
    const text = (n: DerNode) => san!.value.content(n).toString('latin1');
    expect(
      names.length === 2 && names[0]!.tag === 0x82 && text(names[0]!) === request.dnsName && names[1]!.tag === 0x86 && text(names[1]!) === request.uri,
      'SAN is not exactly the DNS identity and the SPIFFE URI',
    );
  } catch (err) {
    problems.push(`it does not parse: ${(err as Error).message}`);
  }
  if (problems.length > 0) {
    throw new InternalError(`the authority made a certificate outside its profile (${problems.join('; ')}); nothing was issued`);
  }
}

function oidOf(r: DerReader, node: DerNode | undefined): string {
  return decodeOid(r.content(r.expect(node, Tag.OID, 'OID')));
}
