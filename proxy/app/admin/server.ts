/**
 * The proxy's admin listener (Linkerd's 4191): `/metrics`, `/live`, `/ready` (503 until a
 * certificate is held), `GET /identity` and `GET /policy`, on the admin server the identity
 * service uses too.
 */
import type { Logger } from '../../../common/log.ts';
import { startAdminServer, type AdminServer } from '../../../identity/admin.ts';
import type { HostPort } from '../../io/listener.ts';
import type { CredentialStore } from '../../meshtls/store.ts';
import type { InboundPolicy } from '../inbound/authorize.ts';
import type { ProxyMetrics } from './metrics.ts';
import { policyStatusDocument } from './policy-status.ts';

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

export interface ProxyAdminOptions {
  listen: HostPort;
  store: CredentialStore;
  metrics: ProxyMetrics;
  policy: InboundPolicy;
  logger: Logger;
}

export function startProxyAdmin(options: ProxyAdminOptions): Promise<AdminServer> {
  const { store, policy } = options;
  return startAdminServer({
    host: options.listen.host,
    port: options.listen.port,
    registry: options.metrics.registry,
    logger: options.logger,
    ready: () => {
      const tls = store.snapshot().tls;
      // Readiness is the certificate only: a policy that is default or stale still decides every
      // connection (fail closed), and taking the proxy out of service would not make it current.
      return { ready: tls !== undefined, detail: { identity: tls ? 'certified' : 'waiting for a certificate', policy: policyStatusDocument(policy.status()) } };
    },
    routes: {
      // 503 until certified, like /ready, with the same shape so a script needs one parser.
      '/identity': () => {
        const body = identityDocument(store);
        return { status: body.serial ? 200 : 503, body };
      },
      '/policy': () => ({ status: 200, body: policyStatusDocument(policy.status()) }),
    },
  });
}
