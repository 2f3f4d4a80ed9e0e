/**
 * The machine's raw floor for one issuance on one core, in-process with node:crypto: import the
 * CSR's public key (createPublicKey from SPKI DER), verify the CSR's signature with it, and sign
 * a leaf-sized TBSCertificate with a P-256 KeyObject. No parsing, no transport, no ledger.
 *
 * Each figure is the best of three rounds (see `rate`). Also measured, for context only (not part of the floor the targets refer to): verifying an
 * ES256 JWT signature with an already-imported key, which the server does once per request too.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import type { BenchCsr } from './csr.ts';

export interface FloorResult {
  /** createPublicKey(SPKI DER) + verify, per second. */
  importVerifyPerSec: number;
  /** ECDSA P-256 sign of a leaf-sized TBS, per second. */
  signPerSec: number;
  /** import + verify + sign in one loop, per second: the floor. */
  floorPerSec: number;
  /** The same figure computed from the two separate loops, as a cross-check. */
  floorFromPartsPerSec: number;
  /** Context: ES256 signature verify (P1363) with a pre-imported key, per second. */
  jwtVerifyPerSec: number;
  /** Context: import + verify + JWT verify + sign, per second (the crypto the server really does). */
  cryptoPerRequestPerSec: number;
  secondsPerLoop: number;
}

const ROUNDS = 3;

/**
 * Runs `body(i)` repeatedly for about `seconds`, in three rounds; returns the best round's
 * operations per second. The best round is the least disturbed by other work on the machine,
 * which is what a floor should be.
 */
function rate(seconds: number, body: (i: number) => void): number {
  // Short warm-up so that the JIT has settled before the timed loop.
  for (let i = 0; i < 200; i++) body(i);
  let best = 0;
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    const deadline = start + (seconds * 1000) / ROUNDS;
    let done = 0;
    while (performance.now() < deadline) {
      // Batches of 50 keep the clock reads out of the measurement.
      for (let k = 0; k < 50; k++) body(n++);
      done += 50;
    }
    best = Math.max(best, done / ((performance.now() - start) / 1000));
  }
  return best;
}

export function measureFloor(csrs: readonly BenchCsr[], seconds = 1.5): FloorResult {
  if (csrs.length === 0) throw new Error('measureFloor needs CSRs');
  const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  // A leaf TBSCertificate is about 430 bytes for a Linkerd identity; the size hardly matters.
  const leafTbs = randomBytes(430);
  const tokenKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwtInput = randomBytes(700);
  const jwtSignature = sign('sha256', jwtInput, { key: tokenKeys.privateKey, dsaEncoding: 'ieee-p1363' });
  let failures = 0;

  const importVerify = (i: number): void => {
    const csr = csrs[i % csrs.length]!;
    const key = createPublicKey({ key: csr.spkiDer, format: 'der', type: 'spki' });
    // The KeyObject itself (DER signatures are the default): on Node 24 an options object costs
    // an extra ~10 µs brand check per call, which is not part of the machine's floor.
    if (!verify('sha256', csr.tbs, key, csr.signature)) failures++;
  };
  const signLeaf = (): void => {
    sign('sha256', leafTbs, issuer);
  };
  const jwtVerify = (): void => {
    if (!verify('sha256', jwtInput, { key: tokenKeys.publicKey, dsaEncoding: 'ieee-p1363' }, jwtSignature)) failures++;
  };

  const importVerifyPerSec = rate(seconds, importVerify);
  const signPerSec = rate(seconds, signLeaf);
  const floorPerSec = rate(seconds, (i) => {
    importVerify(i);
    signLeaf();
  });
  const jwtVerifyPerSec = rate(seconds, jwtVerify);
  const cryptoPerRequestPerSec = rate(seconds, (i) => {
    importVerify(i);
    jwtVerify();
    signLeaf();
  });
  if (failures > 0) throw new Error(`${failures} signature verifications failed in the floor measurement`);
  return {
    importVerifyPerSec,
    signPerSec,
    floorPerSec,
    floorFromPartsPerSec: 1 / (1 / importVerifyPerSec + 1 / signPerSec),
    jwtVerifyPerSec,
    cryptoPerRequestPerSec,
    secondsPerLoop: seconds,
  };
}
