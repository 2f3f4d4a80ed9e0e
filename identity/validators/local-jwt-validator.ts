import type { KeyObject } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Clock } from '../../common/clock.ts';
import { TokenInvalidError } from '../../common/errors.ts';
import { isDnsLabel, parseServiceAccountUsername } from '../../common/names.ts';
import { verifyLocalJwt, type LocalJwtOffload, type LocalJwtVerify } from './local-jwt.ts';
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
  /** Where the signature and claims are checked (jose runs there); default: this thread. */
  verify?: LocalJwtVerify;
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
    const key = options.verificationKey;
    this.#o = {
      audience: IDENTITY_AUDIENCE,
      clockToleranceSec: 5,
      ...options,
      verify: options.verify ?? ((token, check) => verifyLocalJwt(token, key, check)),
    };
  }

  /** The same validator, with jose's work done on `workers` (worker threads). */
  withCryptoWorkers(workers: LocalJwtOffload): LocalJwtValidator {
    return new LocalJwtValidator({ ...this.#o, verify: workers.localJwtVerifier(this.#o.verificationKey) });
  }

  async validate(token: Uint8Array): Promise<TokenSubject> {
    if (token.length === 0) throw new TokenInvalidError('the token is empty');
    if (token.length > MAX_TOKEN_BYTES) throw new TokenInvalidError(`the token is larger than ${MAX_TOKEN_BYTES} bytes`);
    const text = Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('utf8').trim();
    const outcome = await this.#o.verify(text, {
      issuer: localTokenIssuer(this.#o.trustDomain),
      audience: this.#o.audience,
      clockToleranceSec: this.#o.clockToleranceSec,
      nowMs: this.#o.clock.now().getTime(),
    });
    if ('refusal' in outcome) throw new TokenInvalidError(`the token does not validate: ${outcome.refusal}`);
    return subjectOf(outcome.payload);
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
