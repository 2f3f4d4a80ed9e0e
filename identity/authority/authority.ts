import { createHash } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { IdentityMismatchError, InvalidArgumentError, UnavailableError } from '../../common/errors.ts';
import { identityName, serviceAccountUsername, spiffeId, type IdentityDomain } from '../../common/names.ts';
import type { LedgerEntry } from '../ledger/record.ts';
import type { TokenValidator } from '../validators/token-validator.ts';
import { inThreadCsrVerifier, type CsrVerifier } from './csr-verifier.ts';
import type { IssuerHolder } from './issuer-holder.ts';
import { checkLeafProfile } from './profile.ts';
import { SerialSource } from './serials.ts';
import { csrRules } from './rules.ts';

export const DEFAULT_LEAF_LIFETIME_MS = 24 * 3_600_000;
export const DEFAULT_CLOCK_SKEW_MS = 20_000;
const MAX_IDENTITY_LENGTH = 253;

/** A Certify request as it arrives, transport stripped. */
export interface CertifyRequest {
  identity: string;
  token: Uint8Array;
  csr: Uint8Array;
}

export interface CertifyResult {
  leafDer: Buffer;
  /** The issuer and any intermediates, leaf side first, anchor excluded. */
  intermediatesDer: Buffer[];
  validUntil: Date;
  identity: string;
  serialHex: string;
}

/** One issued certificate, as the ledger records it (the ledger owns the schema). */
export type IssuanceEntry = LedgerEntry;

/** Where issued certificates are recorded; `append` resolves once the record is durable. */
export interface IssuanceRecorder {
  append(entry: IssuanceEntry): Promise<unknown>;
}

export interface AuthorityOptions {
  issuers: IssuerHolder;
  validator: TokenValidator;
  recorder: IssuanceRecorder;
  domain: IdentityDomain;
  clock: Clock;
  leafLifetimeMs?: number;
  clockSkewMs?: number;
  /** Parses CSRs and checks their signatures; default: in the calling thread. */
  csrVerifier?: CsrVerifier;
}

/**
 * The certificate authority: decides what may be signed. It knows neither gRPC nor Kubernetes;
 * the transport hands it a request, the validator proves the requester, and the rules judge the
 * CSR against the identity the token proves.
 */
export class CertificateAuthority {
  readonly #o: Required<AuthorityOptions>;
  readonly #serials = new SerialSource();

  constructor(options: AuthorityOptions) {
    this.#o = {
      leafLifetimeMs: DEFAULT_LEAF_LIFETIME_MS,
      clockSkewMs: DEFAULT_CLOCK_SKEW_MS,
      ...options,
      csrVerifier: options.csrVerifier ?? inThreadCsrVerifier,
    };
    if (this.#o.leafLifetimeMs <= 0) throw new InvalidArgumentError('leaf lifetime must be positive');
  }

  async certify(request: CertifyRequest): Promise<CertifyResult> {
    verifyCertifyRequestShape(request);
    // The token check and the CSR check are independent and may run elsewhere (worker threads, the
    // libuv pool, the API server), so they run side by side, the token first since its check is
    // the one that can wait on something else. Failures are reported in a fixed order, as if the
    // checks had run one after the other: a malformed CSR first, then the token.
    const validating = this.#o.validator.validate(request.token);
    const checking = this.#o.csrVerifier.verify(request.csr);
    const [validated, checked] = await Promise.allSettled([validating, checking]);
    if (checked.status === 'rejected') throw checked.reason;
    if (validated.status === 'rejected') throw validated.reason;
    const csr = checked.value;
    const subject = validated.value;
    const identity = identityName(subject, this.#o.domain);
    if (request.identity !== identity) {
      throw new IdentityMismatchError(`the token proves "${identity}", but the request asks for "${truncate(request.identity)}"`);
    }
    for (const rule of csrRules) {
      const refusal = rule.check(csr, identity);
      if (refusal) throw refusal;
    }

    const builder = this.#o.issuers.current();
    if (!builder) throw new UnavailableError('no issuer is loaded yet; retry shortly');
    const issuer = builder.issuer;
    const now = this.#o.clock.now();
    if (now >= issuer.notAfter || now < issuer.certificate.notBefore) {
      throw new UnavailableError('the issuer is outside its validity; the operator must rotate it (identity rotate-issuer)');
    }
    const leafRequest = {
      spkiDer: csr.spkiDer,
      publicKeyBits: csr.publicKeyBits,
      dnsName: identity,
      uri: spiffeId(subject, this.#o.domain),
      serial: this.#serials.next(),
      notBefore: new Date(now.getTime() - this.#o.clockSkewMs),
      // Never outlive anything above the leaf, so that the holder renews before the chain expires.
      notAfter: new Date(Math.min(now.getTime() + this.#o.leafLifetimeMs, issuer.notAfter.getTime())),
    };
    const leafDer = builder.build(leafRequest);
    checkLeafProfile(leafDer, leafRequest, { name: builder.issuerName, keyId: builder.issuerKeyId });
    // Truncate to what the certificate holds (whole seconds), so the ledger and the response agree.
    const notBefore = new Date(Math.floor(leafRequest.notBefore.getTime() / 1000) * 1000);
    const validUntil = new Date(Math.floor(leafRequest.notAfter.getTime() / 1000) * 1000);
    const serialHex = leafRequest.serial.toString('hex');

    await this.#o.recorder.append({
      time: now.toISOString(),
      identity,
      serial: serialHex,
      notBefore: notBefore.toISOString(),
      notAfter: validUntil.toISOString(),
      certSha256: sha256(leafDer),
      publicKeySha256: sha256(csr.spkiDer),
      issuerFingerprint: issuer.certificate.fingerprint,
      tokenSubject: subject.subject || serviceAccountUsername(subject),
    });
    return { leafDer, intermediatesDer: issuer.chainDer, validUntil, identity, serialHex };
  }
}

/** The boundary check: every field present and of a sane size, before anything is parsed. */
export function verifyCertifyRequestShape(request: CertifyRequest): void {
  if (!request.identity) throw new InvalidArgumentError('identity is empty; send the identity name you request');
  if (request.identity.length > MAX_IDENTITY_LENGTH) {
    throw new InvalidArgumentError(`identity is longer than ${MAX_IDENTITY_LENGTH} characters`);
  }
  if (!request.token || request.token.length === 0) {
    throw new InvalidArgumentError('token is empty; send the ServiceAccount token read from the token file');
  }
  if (!request.csr || request.csr.length === 0) {
    throw new InvalidArgumentError('certificate_signing_request is empty; send a DER PKCS#10 CSR');
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
