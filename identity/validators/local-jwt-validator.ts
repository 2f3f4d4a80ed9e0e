import type { KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../common/clock.ts';
import { TokenInvalidError } from '../../common/errors.ts';
import { isDnsLabel, parseServiceAccountUsername } from '../../common/names.ts';
import { localTokenIssuer } from './local-token.ts';
import { IDENTITY_AUDIENCE, type TokenSubject, type TokenValidator } from './token-validator.ts';

export interface LocalJwtValidatorOptions {
  /** The public half of the home's token-signing key. */
  verificationKey: KeyObject;
  trustDomain: string;
  clock: Clock;
  audience?: string;
  /** Seconds of clock tolerance on exp and nbf. */
  clockToleranceSec?: number;
}

interface KubernetesClaims {
  namespace?: unknown;
  serviceaccount?: { name?: unknown; uid?: unknown };
}

const MAX_TOKEN_BYTES = 16 * 1024;

/**
 * Local mode's stand-in for TokenReview: an ES256 JWT signed by the home's token key, checked for
 * signature, issuer, audience and time, and for a `sub` that agrees with the `kubernetes.io` claims.
 */
export class LocalJwtValidator implements TokenValidator {
  readonly kind = 'local-jwt';
  readonly #o: Required<LocalJwtValidatorOptions>;

  constructor(options: LocalJwtValidatorOptions) {
    this.#o = { audience: IDENTITY_AUDIENCE, clockToleranceSec: 5, ...options };
  }

  async validate(token: Uint8Array): Promise<TokenSubject> {
    if (token.length === 0) throw new TokenInvalidError('the token is empty');
    if (token.length > MAX_TOKEN_BYTES) throw new TokenInvalidError(`the token is larger than ${MAX_TOKEN_BYTES} bytes`);
    const text = Buffer.from(token).toString('utf8').trim();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(text, this.#o.verificationKey, {
        algorithms: ['ES256'],
        issuer: localTokenIssuer(this.#o.trustDomain),
        audience: this.#o.audience,
        clockTolerance: this.#o.clockToleranceSec,
        currentDate: this.#o.clock.now(),
        requiredClaims: ['sub', 'exp', 'iat', 'nbf'],
      }));
    } catch (err) {
      throw new TokenInvalidError(`the token does not validate: ${describeJoseError(err, this.#o.audience)}`, { cause: err });
    }
    return subjectOf(payload);
  }
}

function subjectOf(payload: JWTPayload): TokenSubject {
  const sa = parseServiceAccountUsername(String(payload.sub));
  const k8s = payload['kubernetes.io'] as KubernetesClaims | undefined;
  if (!sa || !isDnsLabel(sa.namespace) || !isDnsLabel(sa.name)) {
    throw new TokenInvalidError('the token subject is not system:serviceaccount:NAMESPACE:NAME');
  }
  if (k8s?.namespace !== sa.namespace || k8s.serviceaccount?.name !== sa.name) {
    throw new TokenInvalidError('the token kubernetes.io claims do not name the ServiceAccount its subject names');
  }
  const uid = typeof k8s.serviceaccount.uid === 'string' ? k8s.serviceaccount.uid : undefined;
  return { ...sa, subject: String(payload.sub), ...(uid ? { uid } : {}) };
}

function describeJoseError(err: unknown, audience: string): string {
  if (err instanceof joseErrors.JWTExpired) return 'it has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `its audience is not "${audience}"`;
    if (err.claim === 'nbf') return 'it is not valid yet';
    if (err.claim === 'iss') return 'it was issued by another issuer';
    return `claim "${err.claim}" is missing or invalid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify (signed by an unknown key)';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'it is not signed with ES256';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'it is not a well-formed JWT';
  return 'it could not be verified';
}
