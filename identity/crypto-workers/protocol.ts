/**
 * Messages between the crypto worker pool (pool.ts) and its workers (worker.ts). Buffers travel
 * as transferred ArrayBuffers: the CSR goes to the worker and comes back in the same memory, with
 * the public key as offsets into it, so nothing is copied on the way back. Messages posted in
 * the same tick travel together (`batch`): on a machine with few cores, waking a thread is what
 * costs, more than the copy.
 */
import type { KeyObject } from 'node:crypto';
import type { VerifiedCsr } from '../authority/csr.ts';
import type { LocalJwtCheck, LocalJwtOutcome } from '../validators/local-jwt.ts';

export type ToWorker =
  /** Parse and verify a CSR; `der` is transferred. */
  | { kind: 'csr'; id: number; der: ArrayBuffer }
  /** A token verification key, sent once per worker; jobs name it by `keyId`. */
  | { kind: 'key'; keyId: number; key: KeyObject }
  | { kind: 'jwt'; id: number; keyId: number; token: string; check: LocalJwtCheck }
  /** Jobs posted in the same tick, in one message: one wake-up of the worker instead of several. */
  | { kind: 'batch'; jobs: ToWorker[] };

/** A VerifiedCsr whose two buffers are [offset, length] in the returned `der`. */
export type WireCsr = Omit<VerifiedCsr, 'spkiDer' | 'publicKeyBits'> & { spki: [number, number]; bits: [number, number] };

export type FromWorker =
  /** The worker's modules are loaded; it takes jobs. */
  | { kind: 'ready' }
  | { kind: 'csr'; id: number; der: ArrayBuffer; csr: WireCsr }
  | { kind: 'jwt'; id: number; outcome: LocalJwtOutcome }
  /** The client's input was refused (an InvalidArgumentError: a CSR that does not parse). */
  | { kind: 'refused'; id: number; message: string }
  /** Anything else went wrong: a bug, reported as an internal error. */
  | { kind: 'failed'; id: number; message: string }
  | { kind: 'batch'; replies: FromWorker[] };
