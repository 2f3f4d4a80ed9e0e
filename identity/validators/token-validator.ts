import type { ServiceAccountRef } from '../../common/names.ts';

/** What a verified token proves. */
export interface TokenSubject extends ServiceAccountRef {
  /** `system:serviceaccount:NS:SA`, for the ledger. */
  subject: string;
  uid?: string;
}

/**
 * How a requester proves who it is (a "provisioner" in step-ca's words). Implementations:
 * Kubernetes TokenReview, and the local mode's JWTs signed by the home's token key.
 *
 * `validate` resolves with the ServiceAccount the token proves, or rejects with
 * `TokenInvalidError` (the token proves nothing) or `UnavailableError` (the reviewer cannot be
 * reached, so nothing can be said). Error messages never contain the token.
 */
export interface TokenValidator {
  readonly kind: string;
  validate(token: Uint8Array): Promise<TokenSubject>;
}

/** Linkerd's audience for identity tokens. */
export const IDENTITY_AUDIENCE = 'identity.l5d.io';
