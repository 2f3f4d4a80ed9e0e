import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../../common/clock.ts';
import { assertServiceAccountRef, serviceAccountUsername, type ServiceAccountRef } from '../../common/names.ts';
import { IDENTITY_AUDIENCE } from './token-validator.ts';

/** The `iss` of local-mode tokens: what a cluster's API server puts in projected tokens. */
export function localTokenIssuer(trustDomain: string): string {
  return `https://kubernetes.default.svc.${trustDomain}`;
}

export interface LocalTokenOptions {
  signingKey: KeyObject;
  serviceAccount: ServiceAccountRef;
  trustDomain: string;
  audience?: string;
  ttlMs: number;
  clock: Clock;
  /** Stable per ServiceAccount in a cluster; random here unless given. */
  uid?: string;
}

/**
 * Signs a ServiceAccount token for the local mode (ES256), with the claims of a real projected
 * token: iss, sub, aud, iat, nbf, exp, jti and the `kubernetes.io` namespace and ServiceAccount.
 */
export async function signLocalServiceAccountToken(options: LocalTokenOptions): Promise<string> {
  assertServiceAccountRef(options.serviceAccount);
  const now = Math.floor(options.clock.now().getTime() / 1000);
  const { namespace, name } = options.serviceAccount;
  return new SignJWT({
    'kubernetes.io': { namespace, serviceaccount: { name, uid: options.uid ?? randomUUID() } },
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(localTokenIssuer(options.trustDomain))
    .setSubject(serviceAccountUsername(options.serviceAccount))
    .setAudience(options.audience ?? IDENTITY_AUDIENCE)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + Math.max(1, Math.round(options.ttlMs / 1000)))
    .setJti(randomUUID())
    .sign(options.signingKey);
}
