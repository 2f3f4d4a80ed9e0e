/** Problems and phrases several controls share: the trust chain's state, key strength, plaintext. */
import { formatBytes, formatCount, formatPercent, firstFew } from '../format.ts';
import type { MtlsCoverage, TrustChain } from '../model.ts';

/**
 * Key types strong enough for PCI DSS's "strong cryptography" (112 bits of security or more):
 * ECDSA on P-256 or larger curves, EdDSA, RSA of 2048 bits or more.
 */
export function isStrongKeyType(keyType: string): boolean {
  if (/^ECDSA P-(256|384|521)$/.test(keyType) || keyType === 'Ed25519' || keyType === 'Ed448') return true;
  const rsa = /^RSA (\d+)$/.exec(keyType);
  return rsa !== null && Number(rsa[1]) >= 2048;
}

/** What is wrong with the anchors and the issuer as they stand now (empty: nothing). */
export function trustProblems(trust: TrustChain, options: { keys?: boolean } = {}): string[] {
  const problems: string[] = [];
  if (trust.bundle.error) problems.push(`the trust bundle could not be read: ${trust.bundle.error}`);
  else if (trust.anchors.length === 0) problems.push('the trust bundle holds no anchor');
  for (const a of trust.anchors) {
    if (a.state === 'expired') problems.push(`anchor "${a.subject}" expired at ${a.notAfter}`);
    if (a.state === 'not-yet-valid') problems.push(`anchor "${a.subject}" is not valid before ${a.notBefore}`);
  }
  const issuer = trust.issuer;
  if (!issuer) problems.push(`the issuer could not be read${trust.issuerError ? `: ${trust.issuerError}` : ''}`);
  else {
    if (issuer.state === 'expired') problems.push(`issuer "${issuer.subject}" expired at ${issuer.notAfter}`);
    if (issuer.state === 'not-yet-valid') problems.push(`issuer "${issuer.subject}" is not valid before ${issuer.notBefore}`);
    if (issuer.chainsTo === null) problems.push(`issuer "${issuer.subject}" is not signed by any anchor of the bundle`);
  }
  if (options.keys) {
    for (const c of [...trust.anchors.map((a) => ({ role: 'anchor', c: a })), ...(issuer ? [{ role: 'issuer', c: issuer }] : [])]) {
      if (!isStrongKeyType(c.c.keyType)) problems.push(`${c.role} "${c.c.subject}" has a ${c.c.keyType} key, below strong cryptography`);
    }
  }
  return problems;
}

/** `3 of 10 admitted connections (30.0%) were plaintext: 10.0.0.9 -> demo/api:9090 (3)`. */
export function plaintextProblem(mtls: MtlsCoverage): string {
  const a = mtls.admitted;
  const flows = mtls.plaintextFlows.filter((f) => f.admitted > 0).map((f) => `${f.clientIp} -> ${f.pod}:${f.port} (${formatCount(f.admitted)})`);
  return (
    `${formatCount(a.plaintextConnections)} of ${formatCount(a.connections)} admitted connections ` +
    `(${formatPercent(a.connections ? a.plaintextConnections / a.connections : null)}) were plaintext, ` +
    `${formatBytes(a.plaintextBytes)} of ${formatBytes(a.bytes)}: ${firstFew(flows)}`
  );
}
