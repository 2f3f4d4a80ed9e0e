import type { KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/** The checks of a local-mode token besides its signature; plain data, so that it can cross threads. */
export interface LocalJwtCheck {
  issuer: string;
  audience: string;
  /** Seconds of tolerance on exp and nbf. */
  clockToleranceSec: number;
  /** The time to judge exp and nbf against, in ms since the epoch (the validator's clock). */
  nowMs: number;
}

/** A verified token's claims, or why it proves nothing (a message safe to show the client). */
export type LocalJwtOutcome = { payload: JWTPayload } | { refusal: string };

/** Verifies local-mode tokens against one key, in this thread or elsewhere. */
export type LocalJwtVerify = (token: string, check: LocalJwtCheck) => Promise<LocalJwtOutcome>;

/** Somewhere to run the check off the calling thread (identity/crypto-workers implements it). */
export interface LocalJwtOffload {
  /** A verify function for tokens signed by `key`'s private half. */
  localJwtVerifier(key: KeyObject): LocalJwtVerify;
}

/**
 * The ES256 check of a local-mode token with jose: signature, issuer, audience, time and the
 * presence of sub, exp, iat and nbf. Never throws for a bad token; the refusal never holds the token.
 */
export async function verifyLocalJwt(token: string, key: KeyObject, check: LocalJwtCheck): Promise<LocalJwtOutcome> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['ES256'],
      issuer: check.issuer,
      audience: check.audience,
      clockTolerance: check.clockToleranceSec,
      currentDate: new Date(check.nowMs),
      requiredClaims: ['sub', 'exp', 'iat', 'nbf'],
    });
    return { payload };
  } catch (err) {
    return { refusal: describeJoseError(err, check.audience) };
  }
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
