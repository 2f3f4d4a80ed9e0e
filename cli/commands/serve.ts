import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadKubeConfig } from '../kube-config.ts';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { NotFoundError, UsageError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { defaultIdentityDomain, type IdentityDomain } from '../../common/names.ts';
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_LEAF_LIFETIME_MS } from '../../identity/authority/authority.ts';
import { startIdentityService, type IdentityServiceConfig, type RunningIdentityService } from '../../identity/service.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { TokenReviewValidator } from '../../identity/validators/token-review.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { readHomeConfig } from '../../trust-anchors/home.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { waitForSignal } from '../signals.ts';
import { addListenOptions, durationArg, homeOption, parseHostPort, resolveHome } from '../options.ts';

export interface ServeOptions {
  home?: string;
  listen: string;
  adminListen: string;
  kubernetes: boolean;
  kubeconfig?: string;
  namespace: string;
  issuerSecret: string;
  trustRootsConfigmap: string;
  trustDomain?: string;
  controlPlaneNamespace?: string;
  ledger?: string;
  leafLifetime: number;
  clockSkew: number;
  /** Worker threads for CSR and token checks; undefined: the service's default (cores - 1). */
  cryptoWorkers?: number;
  logLevel: string;
}

export function registerServe(program: Command, env: NodeJS.ProcessEnv): void {
  const command = program
    .command('serve')
    .description('serve the Certify API over TLS (local home, or --kubernetes)')
    .addOption(homeOption());
  addListenOptions(command)
    .option('--kubernetes', 'issuer in a Secret, bundle in a ConfigMap, tokens checked by TokenReview', false)
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, $KUBECONFIG or ~/.kube/config)')
    .option('--namespace <ns>', 'namespace of the issuer Secret and trust-roots ConfigMap', 'linkerd')
    .option('--issuer-secret <name>', 'issuer Secret (kubernetes.io/tls)', 'linkerd-identity-issuer')
    .option('--trust-roots-configmap <name>', 'trust bundle ConfigMap (key ca-bundle.crt)', 'linkerd-identity-trust-roots')
    .option('--trust-domain <domain>', 'trust domain (--kubernetes; local mode reads the home)')
    .option('--control-plane-namespace <ns>', 'control-plane namespace (--kubernetes; local mode reads the home)')
    .option('--ledger <file>', 'issuance ledger (default: <home>/ledger.jsonl)')
    .option('--leaf-lifetime <duration>', 'lifetime of issued certificates', durationArg('--leaf-lifetime'), DEFAULT_LEAF_LIFETIME_MS)
    .option('--clock-skew <duration>', 'how far notBefore is backdated', durationArg('--clock-skew'), DEFAULT_CLOCK_SKEW_MS)
    .option('--crypto-workers <n>', 'worker threads for CSR and token checks; 0 = in the main thread (default: cores - 1, at least 1)', wholeNumberArg('--crypto-workers'))
    .option('--log-level <level>', 'log level', 'info')
    .action(async (o: ServeOptions) => {
      const logger = createLogger({ name: 'identity', level: o.logLevel });
      const stopped = waitForSignal(); // before start-up, so that a signal during it also stops cleanly
      const service = await startIdentityService(await serveConfig(o, env, logger));
      logger.info({ event: 'serving', listen: `${parseHostPort(o.listen, '--listen').host}:${service.port}`, admin: service.adminPort, identity: service.identity }, 'identity service ready');
      await stopped;
      logger.info({ event: 'stopping' }, 'stopping');
      await service.close();
    });
}

/** Turns flags into the service's explicit configuration; the only place that knows both. */
export async function serveConfig(o: ServeOptions, env: NodeJS.ProcessEnv, logger: Logger): Promise<IdentityServiceConfig> {
  const home = resolveHome(o.home, env);
  const listen = parseHostPort(o.listen, '--listen');
  const adminListen = parseHostPort(o.adminListen, '--admin-listen');
  const common = {
    listen,
    adminListen,
    clock: systemClock,
    logger,
    leafLifetimeMs: o.leafLifetime,
    clockSkewMs: o.clockSkew,
    ledgerPath: o.ledger ?? join(home, HomeLayout.ledger),
    ...(o.cryptoWorkers !== undefined ? { cryptoWorkers: o.cryptoWorkers } : {}),
  };
  if (o.kubernetes) {
    const kubeConfig = loadKubeConfig(o);
    const domain: IdentityDomain = {
      trustDomain: o.trustDomain ?? defaultIdentityDomain.trustDomain,
      controlPlaneNamespace: o.controlPlaneNamespace ?? o.namespace,
    };
    return {
      ...common,
      domain,
      store: new KubernetesTrustStore({
        kubeConfig,
        namespace: o.namespace,
        issuerSecretName: o.issuerSecret,
        bundleConfigMapName: o.trustRootsConfigmap,
        logger,
      }),
      validator: new TokenReviewValidator({ kubeConfig, logger }),
    };
  }
  const config = await readHomeConfig(home);
  const keyPath = join(home, HomeLayout.tokenKey);
  const keyPem = await readFile(keyPath, 'utf8').catch(() => {
    throw new NotFoundError(`token-signing key ${keyPath} is missing; run "identity init --force" to recreate the home`);
  });
  return {
    ...common,
    domain: config,
    store: new DirectoryTrustStore(home),
    validator: new LocalJwtValidator({
      verificationKey: createPublicKey(createPrivateKey(keyPem)),
      trustDomain: config.trustDomain,
      clock: systemClock,
    }),
  };
}

export type { RunningIdentityService };

function wholeNumberArg(what: string) {
  return (value: string): number => {
    if (!/^\d{1,4}$/.test(value)) throw new UsageError(`${what} "${value}" is not a whole number (0 or more)`);
    return Number(value);
  };
}
