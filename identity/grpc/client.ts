/**
 * A Certify client for the identity service: TLS that trusts only the given bundle and accepts
 * only a certificate for the service's identity. The proxy's identity client is built on it.
 */
import { createSecureContext, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, IdentityError } from '../../common/errors.ts';
import { fromResponseMessage, identityServiceDefinition, type CertifyInput, type CertifyOutput } from './codec.ts';

export const DEFAULT_CERTIFY_TIMEOUT_MS = 10_000;

export interface CertifyClientOptions {
  /** `host:port` of the identity service. */
  address: string;
  /** The DNS name the service's certificate must carry, e.g. `identity.linkerd.serviceaccount.identity.linkerd.cluster.local`. */
  serverIdentity: string;
  /** PEM trust anchors; the only roots trusted (the system store is not consulted). */
  trustBundlePem: string;
  /** Deadline for each call; default 10 s. */
  timeoutMs?: number;
}

export interface CertifyClient {
  /** @throws CertifyCallError carrying the gRPC status code and the server's details. */
  certify(request: CertifyInput): Promise<CertifyOutput>;
  close(): void;
}

/**
 * A Certify call that did not succeed; `grpcCode` is the status the service answered (a TLS
 * failure shows as UNAVAILABLE). To whoever called us, it means the identity service failed us.
 */
export class CertifyCallError extends IdentityError {
  readonly code = 'ERR_CERTIFY_CALL' as const;
  readonly grpcCode: grpc.status;
  /** The status name, e.g. `PERMISSION_DENIED`. */
  readonly grpcStatus: string;
  readonly details: string;
  constructor(grpcCode: grpc.status, details: string, options?: { cause?: unknown }) {
    const grpcStatus = grpc.status[grpcCode] ?? String(grpcCode);
    super(`certify failed: ${grpcStatus}: ${details}`, options);
    this.grpcCode = grpcCode;
    this.grpcStatus = grpcStatus;
    this.details = details;
  }
}

/**
 * Exact, case-insensitive match of a DNS SAN: no wildcards and no fallback to the subject CN
 * (node's default allows both). Workload identities are exact names.
 */
export function checkServerIdentityExact(expected: string) {
  const want = expected.toLowerCase();
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const names = (cert.subjectaltname ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
    if (names.includes(want)) return undefined;
    return new Error(`server certificate is for [${names.join(', ')}], not ${expected}`);
  };
}

/**
 * @example
 * const client = createCertifyClient({ address: 'linkerd-identity.linkerd.svc:8080',
 *   serverIdentity: 'identity.linkerd.serviceaccount.identity.linkerd.cluster.local', trustBundlePem });
 * const { leafDer, intermediatesDer, validUntil } = await client.certify({ identity, token, csr });
 */
export function createCertifyClient(options: CertifyClientOptions): CertifyClient {
  if (!options.trustBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('trust bundle contains no PEM certificate');
  }
  if (options.serverIdentity.length === 0) throw new ConfigError('serverIdentity is required');

  // Our own context, so that the roots are exactly the bundle and the floor is explicit.
  const secureContext = createSecureContext({ ca: options.trustBundlePem, minVersion: 'TLSv1.2' });
  const credentials = grpc.credentials.createFromSecureContext(secureContext, {
    checkServerIdentity: checkServerIdentityExact(options.serverIdentity),
  });
  // The address is usually a Service's DNS name or an IP, not the identity: send the identity as
  // SNI and :authority, and check the certificate against it.
  const client = new grpc.Client(options.address, credentials, {
    'grpc.ssl_target_name_override': options.serverIdentity,
    'grpc.default_authority': options.serverIdentity,
  });
  const method = identityServiceDefinition().Certify;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CERTIFY_TIMEOUT_MS;

  return {
    certify(request) {
      return new Promise<CertifyOutput>((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          { identity: request.identity, token: request.token, certificate_signing_request: request.csr },
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err, response) => {
            if (err) return reject(new CertifyCallError(err.code, err.details, { cause: err }));
            const output = response && fromResponseMessage(response);
            if (!output) {
              return reject(new CertifyCallError(grpc.status.INTERNAL, 'identity service returned a response without a leaf certificate or expiry'));
            }
            return resolve(output);
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}
