/**
 * The proxy's admin listener (Linkerd's 4191): `/metrics`, `/live`, `/ready` (503 until a
 * certificate is held), `GET /identity` and `GET /policy`, on the admin server the identity
 * service uses too.
 */
import type { Logger } from '../../../common/log.ts';
import { startAdminServer, type AdminServer } from '../../../identity/admin.ts';
import { parseCertificate, verifyPath } from '../../../trust-anchors/certificate.ts';
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
  /**
   * Fingerprints (SHA-256 of the DER, hex) of the bundle's anchors that the certificate in use
   * chains to; empty without a certificate. A trust rotation waits on this: every proxy's
   * certificate must chain to the new anchor before the old one can leave the bundle.
   */
  certificateAnchors: string[];
  /** SHA-256 (hex) of the DER of the certificate that issued ours; null without a certificate. */
  issuerFingerprint: string | null;
}

export function identityDocument(store: CredentialStore, now: Date): IdentityDocument {
  const { bundle, tls } = store.snapshot();
  let certificateAnchors: string[] = [];
  let issuerFingerprint: string | null = null;
  if (tls) {
    const intermediates = tls.credentials.intermediatesDer.map((der, i) => parseCertificate(der, `intermediate ${i + 1}`));
    issuerFingerprint = intermediates[0]?.fingerprint ?? null;
    // Each anchor on its own: with old + new in the bundle during a rotation, the answer says
    // which one this certificate depends on.
    certificateAnchors = bundle.anchors
      .filter((anchor) => {
        try {
          verifyPath(tls.leaf, intermediates, [anchor], now, 'certificate in use');
          return true;
        } catch {
          return false;
        }
      })
      .map((anchor) => anchor.fingerprint);
  }
  return {
    identity: store.localIdentity,
    serial: tls?.leaf.serialHex ?? null,
    notAfter: tls?.leaf.notAfter.toISOString() ?? null,
    issuer: tls?.leaf.issuer ?? null,
    bundleFingerprint: bundle.fingerprint,
    certificateAnchors: [...new Set(certificateAnchors)],
    issuerFingerprint,
  };
}

export interface ProxyAdminOptions {
  listen: HostPort;
  store: CredentialStore;
  metrics: ProxyMetrics;
  policy: InboundPolicy;
  /** Starts a renewal of the proxy's certificate now (POST /renew). */
  renewNow: () => Promise<void>;
  now: () => Date;
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
        const body = identityDocument(store, options.now());
        return { status: body.serial ? 200 : 503, body };
      },
      '/policy': () => ({ status: 200, body: policyStatusDocument(policy.status()) }),
    },
    postRoutes: {
      // Asked by `identity rotate-anchor` / `rotate-issuer --renew-now`. The answer does not wait
      // for the certificate; the caller watches /identity. Calls made during a renewal share it
      // (IdentityClient.renewNow), so repeating the request cannot flood the identity service.
      '/renew': () => {
        options.logger.info({ event: 'identity.renew_requested' }, 'renewal requested through the admin endpoint');
        options.renewNow().catch((err: unknown) => {
          options.logger.warn({ event: 'identity.renew_request_failed', err: (err as Error).message }, 'requested renewal failed; the current certificate stays in use');
        });
        return { status: 202, body: { renewing: true } };
      },
    },
  });
}
