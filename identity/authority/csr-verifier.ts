import { verifyCsr, type VerifiedCsr } from './csr.ts';

export type { VerifiedCsr };

/**
 * Parses a CSR and checks its self-signature: the CPU-heavy, stateless step of a request. The
 * authority only sees this interface; whether the work runs in this thread or on a pool of
 * worker threads (identity/crypto-workers) is the service's choice.
 *
 * `verify` rejects with InvalidArgumentError for bytes that are not a CSR, and with
 * UnavailableError when the work could not be done (a worker died, the pool is saturated or closed).
 */
export interface CsrVerifier {
  verify(der: Uint8Array): Promise<VerifiedCsr>;
}

/** Does the work in the calling thread. */
export class InThreadCsrVerifier implements CsrVerifier {
  async verify(der: Uint8Array): Promise<VerifiedCsr> {
    return verifyCsr(der);
  }
}

export const inThreadCsrVerifier: CsrVerifier = new InThreadCsrVerifier();
