/**
 * The trust chain: the anchors of the bundle and the issuer, with days left and a warning under
 * 60 days, a critical one under 30 (an expired anchor or issuer is the mesh's worst outage).
 */
import type { CertificateFacts, TrustInput } from '../inputs.ts';
import type { CertificateStatus, ExpiryState, ExpiryWarning, TrustChain } from '../model.ts';

export const WARNING_DAYS = 60;
export const CRITICAL_DAYS = 30;
const DAY_MS = 86_400_000;

export function trustChain(input: TrustInput, now: Date): TrustChain {
  const anchors = input.anchors.map((a) => certificateStatus(a, now));
  const issuer = input.issuer ? { ...certificateStatus(input.issuer, now), chainsTo: input.issuer.chainsTo } : null;
  const warnings: ExpiryWarning[] = [];
  for (const a of anchors) pushWarning(warnings, 'anchor', a);
  if (issuer) pushWarning(warnings, 'issuer', issuer);
  return {
    thresholds: { warningDays: WARNING_DAYS, criticalDays: CRITICAL_DAYS },
    bundle: { source: input.bundleSource, fingerprint: input.bundleFingerprint, error: input.bundleError },
    anchors,
    issuer,
    issuerError: input.issuerError,
    warnings,
  };
}

export function certificateStatus(facts: CertificateFacts, now: Date): CertificateStatus {
  const left = Date.parse(facts.notAfter) - now.getTime();
  return {
    subject: facts.subject,
    fingerprint: facts.fingerprint,
    serial: facts.serial,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    daysLeft: Math.floor(left / DAY_MS),
    keyType: facts.keyType,
    isCa: facts.isCa,
    state: expiryState(facts, now),
  };
}

export function expiryState(facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, now: Date): ExpiryState {
  const t = now.getTime();
  if (t < Date.parse(facts.notBefore)) return 'not-yet-valid';
  const left = Date.parse(facts.notAfter) - t;
  if (left <= 0) return 'expired';
  if (left < CRITICAL_DAYS * DAY_MS) return 'critical';
  if (left < WARNING_DAYS * DAY_MS) return 'warning';
  return 'valid';
}

function pushWarning(warnings: ExpiryWarning[], role: ExpiryWarning['role'], c: CertificateStatus): void {
  if (c.state === 'valid') return;
  const what = `${role} "${c.subject}"`;
  const message = {
    'not-yet-valid': `${what} is not valid before ${c.notBefore}; check the clocks`,
    expired: `${what} expired at ${c.notAfter}; replace it (identity rotate-${role})`,
    critical: `${what} expires in ${c.daysLeft} day(s), at ${c.notAfter} (under ${CRITICAL_DAYS} days): rotate it now`,
    warning: `${what} expires in ${c.daysLeft} day(s), at ${c.notAfter} (under ${WARNING_DAYS} days): plan its rotation`,
  }[c.state];
  warnings.push({ role, subject: c.subject, fingerprint: c.fingerprint, daysLeft: c.daysLeft, level: c.state, message });
}
