/**
 * gRPC server TLS that follows a ServingCredentialsSource without a restart.
 *
 * grpc-js (>= 1.13) supports this through `experimental.createCertificateProviderServerCredentials`
 * (grpc/grpc-node#570): the server subscribes to a CertificateProvider and, on every update, calls
 * node's `tls.Server#setSecureContext`, which applies to new handshakes only; open connections keep
 * the context they were made with.
 */
import { DEFAULT_MIN_VERSION } from 'node:tls';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../../common/errors.ts';
import type { ServingCredentials, ServingCredentialsSource } from './serving-credentials.ts';

type IdentityListener = experimental.IdentityCertificateUpdateListener;

function toUpdate(credentials: ServingCredentials): experimental.IdentityCertificateUpdate {
  return {
    certificate: Buffer.from(credentials.certificateChainPem),
    privateKey: Buffer.from(credentials.privateKeyPem),
  };
}

/** A grpc-js CertificateProvider over our source. Identity certificates only: no client certificates. */
export function certificateProviderFor(source: ServingCredentialsSource): experimental.CertificateProvider {
  const subscriptions = new Map<IdentityListener, () => void>();
  return {
    addIdentityCertificateListener(listener) {
      subscriptions.set(listener, source.subscribe((credentials) => listener(toUpdate(credentials))));
      // grpc-js subscribes before it registers its own watcher, so a synchronous first delivery
      // would be lost and the server would refuse every connection. Deliver on the next tick, as
      // grpc-js's own FileWatcherCertificateProvider does; by then the watcher is in place.
      process.nextTick(() => {
        if (subscriptions.has(listener)) listener(toUpdate(source.current()));
      });
    },
    removeIdentityCertificateListener(listener) {
      subscriptions.get(listener)?.();
      subscriptions.delete(listener);
    },
    // The service does not ask for client certificates: the ServiceAccount token authenticates.
    addCaCertificateListener() {},
    removeCaCertificateListener() {},
  };
}

const ACCEPTED_FLOORS = new Set(['TLSv1.2', 'TLSv1.3']);

/**
 * Server credentials for the identity service: TLS, no client certificate, rotatable.
 *
 * grpc-js offers no way to set the TLS floor on a server, so every context it builds takes node's
 * `tls.DEFAULT_MIN_VERSION` (TLSv1.2 unless node was started with --tls-min-v1.0/1.1). Refuse to
 * start rather than silently serve older protocols.
 */
export function rotatingServerCredentials(source: ServingCredentialsSource): ServerCredentials {
  if (!ACCEPTED_FLOORS.has(DEFAULT_MIN_VERSION)) {
    throw new ConfigError(
      `node's minimum TLS version is ${DEFAULT_MIN_VERSION}; the identity service requires TLSv1.2 or later (remove --tls-min-v1.x)`,
    );
  }
  // Despite the parameter names in grpc-js 1.14's signature, its implementation takes the
  // provider of the server's own certificate first and the (optional) client-CA provider second.
  return experimental.createCertificateProviderServerCredentials(certificateProviderFor(source), null, false);
}
