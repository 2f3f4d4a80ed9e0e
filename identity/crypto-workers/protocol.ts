/**
 * Messages between the crypto worker pool (pool.ts) and its workers (worker.ts). The CSR travels
 * as a transferred ArrayBuffer: it goes to the worker and comes back in the same memory, with the
 * public key as offsets into it, so nothing is copied on the way back.
 */
import type { VerifiedCsr } from '../authority/csr.ts';

/** Parse and verify a CSR; `der` is transferred. */
export type ToWorker = { kind: 'csr'; id: number; der: ArrayBuffer };

/** A VerifiedCsr whose two buffers are [offset, length] in the returned `der`. */
export type WireCsr = Omit<VerifiedCsr, 'spkiDer' | 'publicKeyBits'> & { spki: [number, number]; bits: [number, number] };

export type FromWorker =
  /** The worker's modules are loaded; it takes jobs. */
  | { kind: 'ready' }
  | { kind: 'csr'; id: number; der: ArrayBuffer; csr: WireCsr }
  /** The client's input was refused (an InvalidArgumentError: a CSR that does not parse). */
  | { kind: 'refused'; id: number; message: string }
  /** Anything else went wrong: a bug, reported as an internal error. */
  | { kind: 'failed'; id: number; message: string };
