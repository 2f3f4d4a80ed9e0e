import type { Clock } from '../common/clock.ts';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { IdentityDomain } from '../common/names.ts';
import type { TrustStore } from '../trust-anchors/store.ts';
import { startAdminServer, type AdminServer } from './admin.ts';
import { CertificateAuthority, type IssuanceEntry } from './authority/authority.ts';
import { inThreadCsrVerifier, type CsrVerifier } from './authority/csr-verifier.ts';
import { IssuerHolder } from './authority/issuer-holder.ts';
import { CryptoWorkerPool, defaultCryptoWorkers } from './crypto-workers/pool.ts';
import { startIdentityGrpcServer, type IdentityGrpcServer } from './grpc/certify-service.ts';
import { ServingCredentialsSource } from './grpc/serving-credentials.ts';
import { IssuerReloader, loadTrust, type TrustSnapshot } from './issuer-reloader.ts';
import { LedgerWriter } from './ledger/index.ts';
import { createIdentityMetrics, type IdentityMetrics } from './metrics.ts';
import { issueServingCertificate, renewalDelayMs } from './serving-certificate.ts';
import type { TokenValidator } from './validators/token-validator.ts';

export interface Listen {
  host: string;
  port: number;
}

/** Everything the identity service needs, passed in explicitly: nothing is read from the environment. */
export interface IdentityServiceConfig {
  store: TrustStore;
  domain: IdentityDomain;
  validator: TokenValidator;
  ledgerPath: string;
  listen: Listen;
  adminListen: Listen;
  clock: Clock;
  logger: Logger;
  leafLifetimeMs?: number;
  clockSkewMs?: number;
  /** Lifetime of the service's own TLS certificate. */
  servingLifetimeMs?: number;
  /**
   * Worker threads for the CPU-heavy, stateless part of a request (CSR parse, key import and
   * signature check). Default: one per core but one, at least one. 0: in the main thread.
   */
  cryptoWorkers?: number;
}

export interface RunningIdentityService {
  port: number;
  adminPort: number;
  identity: string;
  metrics: IdentityMetrics;
  /** The trust material in service now. */
  trust(): TrustSnapshot;
  /** Re-reads the store now (the watch does this by itself). */
  reloadIssuer(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the identity service: validates the trust material (a failure throws, so the command
 * exits non-zero with the reason), opens the ledger, and serves Certify over TLS with a
 * certificate for the service's own identity that it renews itself.
 */
export async function startIdentityService(config: IdentityServiceConfig): Promise<RunningIdentityService> {
  const { clock, logger, domain } = config;
  const servingLifetimeMs = config.servingLifetimeMs ?? 24 * 3_600_000;
  const initial = await loadTrust(config.store, clock);
  const issuers = new IssuerHolder(initial.issuer);
  const metrics = createIdentityMetrics();
  recordTrustMetrics(metrics, initial);

  const workers = config.cryptoWorkers ?? defaultCryptoWorkers();
  if (!Number.isInteger(workers) || workers < 0) throw new ConfigError(`cryptoWorkers must be a whole number >= 0, not ${workers}`);
  const ledger = await LedgerWriter.open(config.ledgerPath, { clock, logger });
  let pool: CryptoWorkerPool | undefined;
  try {
    pool = workers > 0 ? await CryptoWorkerPool.start({ size: workers, logger }) : undefined;
  } catch (err) {
    await ledger.close();
    throw err;
  }
  const csrVerifier: CsrVerifier = pool ?? inThreadCsrVerifier;
  const recorder = {
    append: async (entry: IssuanceEntry) => {
      await ledger.append(entry);
      metrics.ledgerRecords.inc();
    },
  };
  const authority = new CertificateAuthority({
    issuers,
    validator: config.validator,
    csrVerifier,
    recorder,
    domain,
    clock,
    ...(config.leafLifetimeMs !== undefined ? { leafLifetimeMs: config.leafLifetimeMs } : {}),
    ...(config.clockSkewMs !== undefined ? { clockSkewMs: config.clockSkewMs } : {}),
  });

  const issueServing = () => issueServingCertificate(issuers.current()!, domain, clock, servingLifetimeMs);
  let servingCert = issueServing();
  const serving = new ServingCredentialsSource(servingCert, { clock });

  let renewTimer: NodeJS.Timeout | undefined;
  const renewServing = (reason: string) => {
    clearTimeout(renewTimer);
    try {
      servingCert = issueServing();
      serving.update(servingCert);
      logger.info({ event: 'serving_certificate_renewed', reason, notAfter: servingCert.notAfter.toISOString() }, 'serving certificate renewed');
    } catch (err) {
      logger.error({ event: 'serving_certificate_renewal_failed', reason: (err as Error).message }, 'could not renew the serving certificate; retrying');
    }
    renewTimer = setTimeout(() => renewServing('schedule'), renewalDelayMs(servingCert.notAfter, clock.now()));
    renewTimer.unref();
  };

  const reloader = new IssuerReloader(initial, {
    store: config.store,
    clock,
    logger,
    apply: (snapshot) => {
      issuers.swap(snapshot.issuer);
      recordTrustMetrics(metrics, snapshot);
      // The service's own certificate moves to the new issuer at once, so clients that already
      // hold only a new bundle can still reach it.
      renewServing('issuer reloaded');
    },
    onAttempt: (result) => {
      if (result !== 'unchanged') metrics.issuerReloads.inc({ result: result === 'applied' ? 'success' : 'failure' });
    },
  });

  let grpc: IdentityGrpcServer | undefined;
  let admin: AdminServer | undefined;
  try {
    grpc = await startIdentityGrpcServer({
      host: config.listen.host,
      port: config.listen.port,
      certify: (request) => authority.certify(request),
      serving,
      logger,
      metrics,
    });
    admin = await startAdminServer({
      host: config.adminListen.host,
      port: config.adminListen.port,
      registry: metrics.registry,
      logger,
      ready: () => {
        const { issuer, bundle } = reloader.current;
        const ready = issuers.current() !== undefined && clock.now() < issuer.notAfter;
        return {
          ready,
          detail: {
            issuer: issuer.certificate.subject,
            issuerNotAfter: issuer.notAfter.toISOString(),
            anchors: bundle.anchors.length,
            bundleFingerprint: bundle.fingerprint,
            servingNotAfter: servingCert.notAfter.toISOString(),
          },
        };
      },
    });
  } catch (err) {
    await grpc?.close();
    await ledger.close();
    await pool?.close();
    throw err;
  }
  reloader.start();
  renewTimer = setTimeout(() => renewServing('schedule'), renewalDelayMs(servingCert.notAfter, clock.now()));
  renewTimer.unref();

  return {
    port: grpc.port,
    adminPort: admin.port,
    identity: servingCert.identity,
    metrics,
    trust: () => reloader.current,
    reloadIssuer: () => reloader.reload(),
    close: async () => {
      clearTimeout(renewTimer);
      reloader.close();
      await grpc.close();
      await admin.close();
      await pool?.close();
      await ledger.close();
    },
  };
}

function recordTrustMetrics(metrics: IdentityMetrics, snapshot: TrustSnapshot): void {
  metrics.issuerExpiry.set(snapshot.issuer.notAfter.getTime() / 1000);
  metrics.anchorExpiry.reset();
  for (const anchor of snapshot.bundle.anchors) {
    metrics.anchorExpiry.set({ fingerprint: anchor.fingerprint }, anchor.notAfter.getTime() / 1000);
  }
}
