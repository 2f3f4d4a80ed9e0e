/**
 * The identity inventory from the issuance ledger: certificates per identity, their lifetimes,
 * and the key types of everything the report can see.
 */
import type { LedgerRecord } from '../../identity/ledger/index.ts';
import type { TrustInput } from '../inputs.ts';
import type { IdentityCertificates, IdentityInventory, KeyTypeCount } from '../model.ts';
import { compareText, earliest, latest } from '../window.ts';

/**
 * The ledger records a SHA-256 of each leaf's key, not its type: leaves are what the authority
 * accepts, and its CSR rule (identity/authority/rules.ts) refuses every key but ECDSA P-256.
 */
export const LEAF_KEY_TYPE = 'ECDSA P-256';

/** @param records the ledger records in the window */
export function identityInventory(records: readonly LedgerRecord[], trust: TrustInput, now: Date): IdentityInventory {
  const byIdentity = new Map<string, IdentityCertificates>();
  for (const r of records) {
    const entry = byIdentity.get(r.identity);
    if (!entry) {
      byIdentity.set(r.identity, { identity: r.identity, certificates: 1, firstIssued: r.time, lastIssued: r.time, latestNotAfter: r.notAfter, current: false });
      continue;
    }
    entry.certificates++;
    entry.firstIssued = earliest(entry.firstIssued, r.time);
    entry.lastIssued = latest(entry.lastIssued, r.time);
    entry.latestNotAfter = latest(entry.latestNotAfter, r.notAfter);
  }
  for (const entry of byIdentity.values()) entry.current = Date.parse(entry.latestNotAfter) > now.getTime();
  return {
    certificates: records.length,
    identities: [...byIdentity.values()].sort((a, b) => compareText(a.identity, b.identity)),
    lifetimeMs: lifetimes(records),
    keyTypes: keyTypes(records.length, trust),
  };
}

function lifetimes(records: readonly LedgerRecord[]): IdentityInventory['lifetimeMs'] {
  if (records.length === 0) return null;
  const sorted = records.map((r) => Date.parse(r.notAfter) - Date.parse(r.notBefore)).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

function keyTypes(leaves: number, trust: TrustInput): KeyTypeCount[] {
  const counts = new Map<string, KeyTypeCount>();
  const add = (role: KeyTypeCount['role'], keyType: string, n: number, source: KeyTypeCount['source']) => {
    const key = `${role} ${keyType}`;
    const entry = counts.get(key) ?? { role, keyType, certificates: 0, source };
    entry.certificates += n;
    counts.set(key, entry);
  };
  for (const anchor of trust.anchors) add('anchor', anchor.keyType, 1, 'certificate');
  if (trust.issuer) add('issuer', trust.issuer.keyType, 1, 'certificate');
  if (leaves > 0) add('leaf', LEAF_KEY_TYPE, leaves, 'issuance-profile');
  return [...counts.values()];
}
