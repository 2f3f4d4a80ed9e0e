/**
 * The proxy's admin listener (Linkerd's 4191): `/metrics`, `/live`, `/ready` (503 until a
 * certificate is held) and `GET /identity`, on the admin server the identity service uses too.
 */
import type { Logger } from '../../../common/log.ts';
import { startAdminServer, type AdminServer } from '../../../identity/admin.ts';
import type { HostPort } from '../../io/listener.ts';
import type { CredentialStore } from '../../meshtls/store.ts';
import type { ProxyMetrics } from './metrics.ts';

/** `GET /identity`: what this proxy presents to its peers now. No key material. */
export interface IdentityDocument {
  identity: string;
  serial: string | null;
  notAfter: string | null;
  /** Subject of the certificate's issuer. */
  issuer: string | null;
  bundleFingerprint: string;
}

export function identityDocument(store: CredentialStore): IdentityDocument {
  const { bundle, tls } = store.snapshot();
  return {
    identity: store.localIdentity,
    serial: tls?.leaf.serialHex ?? null,
    notAfter: tls?.leaf.notAfter.toISOString() ?? null,
    issuer: tls?.leaf.issuer ?? null,
    bundleFingerprint: bundle.fingerprint,
  };
}

export function startProxyAdmin(options: { listen: HostPort; store: CredentialStore; metrics: ProxyMetrics; logger: Logger }): Promise<AdminServer> {
  const { store } = options;
  return startAdminServer({
    host: options.listen.host,
    port: options.listen.port,
    registry: options.metrics.registry,
    logger: options.logger,
    ready: () => {
      const tls = store.snapshot().tls;
      return { ready: tls !== undefined, detail: { identity: tls ? 'certified' : 'waiting for a certificate' } };
    },
    routes: {
      // 503 until certified, like /ready, with the same shape so a script needs one parser.
      '/identity': () => {
        const body = identityDocument(store);
        return { status: body.serial ? 200 : 503, body };
      },
    },
  });
}
