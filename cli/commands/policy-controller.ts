import { existsSync, readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadKubeConfig } from '../kube-config.ts';
import { Option, type Command } from 'commander';
import { ConfigError, NotFoundError, UnavailableError, UsageError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { isDnsLabel } from '../../common/names.ts';
import { startAdminServer } from '../../identity/admin.ts';
import { startPolicyApiServer } from '../../policy/api/server.ts';
import { createControllerMetrics } from '../../policy/controller/metrics.ts';
import { PolicyController } from '../../policy/controller/policy-controller.ts';
import { defaultEvaluatorConfig, DEFAULT_CLUSTER_NETWORKS, type EvaluatorConfig } from '../../policy/evaluator/types.ts';
import { networksFromCidrs } from '../../policy/net/cidr.ts';
import { DEFAULT_POLICIES, type DefaultPolicyName } from '../../policy/resources/types.ts';
import { parseHostPort } from '../options.ts';
import { waitForSignal } from '../signals.ts';

interface PolicyControllerOptions {
  kubeconfig?: string;
  context?: string;
  listen: string;
  adminListen: string;
  trustDomain: string;
  controlPlaneNamespace: string;
  clusterNetworks?: string;
  defaultPolicy: DefaultPolicyName;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
}

export function registerPolicyController(program: Command, _env: NodeJS.ProcessEnv): void {
  program
    .command('policy-controller')
    .description("watch Linkerd's policy resources in Kubernetes and serve them to proxies (InboundServerPolicies over gRPC)")
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current context)')
    .option('--listen <host:port>', 'gRPC API address (plaintext unless --tls-cert; Linkerd puts its own proxy in front)', '127.0.0.1:8090')
    .option('--admin-listen <host:port>', 'metrics, /ready and /live', '127.0.0.1:9990')
    .option('--trust-domain <domain>', 'identity trust domain', 'cluster.local')
    .option('--control-plane-namespace <ns>', 'control-plane namespace (part of every identity)', 'linkerd')
    .option('--cluster-networks <cidrs>', `comma-separated cluster networks (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})`)
    .addOption(new Option('--default-policy <policy>', 'cluster-wide default inbound policy').choices(DEFAULT_POLICIES).default('all-unauthenticated'))
    .option('--tls-cert <file>', 'serve the gRPC API over TLS with this certificate chain (PEM); needs --tls-key')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (o: PolicyControllerOptions) => {
      const logger = createLogger({ name: 'policy-controller', level: o.logLevel });
      const stopped = waitForSignal(); // before start-up, so that a signal during it also stops cleanly
      const listen = parseHostPort(o.listen, '--listen');
      const adminListen = parseHostPort(o.adminListen, '--admin-listen');
      const config = evaluatorConfig(o);
      const credentials = serverCredentials(o);
      const kubeConfig = loadKubeConfig(o);

      const metrics = createControllerMetrics();
      const controller = new PolicyController({ kubeConfig, config, logger, metrics });
      controller.start();
      const closers: Array<() => Promise<void>> = [() => controller.close()];
      try {
        const api = await listenOr(startPolicyApiServer({ host: listen.host, port: listen.port, source: controller, logger, metrics, ...(credentials ? { credentials } : {}) }), '--listen', o.listen);
        closers.unshift(() => api.close());
        const admin = await listenOr(
          startAdminServer({ host: adminListen.host, port: adminListen.port, registry: metrics.registry, logger, ready: () => ({ ready: controller.ready, detail: controller.status() }) }),
          '--admin-listen',
          o.adminListen,
        );
        closers.unshift(() => admin.close());
        logger.info({ event: 'serving', listen: `${listen.host}:${api.port}`, admin: `${adminListen.host}:${admin.port}`, tls: credentials !== undefined }, 'policy controller serving (ready once every collection is listed)');
        await stopped;
        logger.info({ event: 'stopping' }, 'stopping');
      } finally {
        await closeAll(closers, logger);
      }
    });
}

function evaluatorConfig(o: PolicyControllerOptions): EvaluatorConfig {
  if (!isDnsLabel(o.controlPlaneNamespace)) throw new UsageError(`--control-plane-namespace "${o.controlPlaneNamespace}" is not a namespace name`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.trustDomain)) throw new UsageError(`--trust-domain "${o.trustDomain}" is not a DNS name`);
  let clusterNetworks;
  try {
    clusterNetworks = networksFromCidrs(o.clusterNetworks === undefined ? DEFAULT_CLUSTER_NETWORKS : o.clusterNetworks.split(',').filter((s) => s.trim() !== ''));
  } catch (err) {
    throw new UsageError(`--cluster-networks: ${(err as Error).message}`);
  }
  const domain = { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace };
  return defaultEvaluatorConfig({ domain, clusterNetworks, defaultPolicy: o.defaultPolicy });
}

function serverCredentials(o: PolicyControllerOptions): grpc.ServerCredentials | undefined {
  if (!o.tlsCert && !o.tlsKey) return undefined;
  if (!o.tlsCert || !o.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (file: string, flag: string) => {
    if (!existsSync(file)) throw new NotFoundError(`${flag}: no file at ${file}`);
    return readFileSync(file);
  };
  const [cert, key] = [read(o.tlsCert, '--tls-cert'), read(o.tlsKey, '--tls-key')];
  try {
    return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  } catch (err) {
    throw new ConfigError(`--tls-cert/--tls-key: ${(err as Error).message}`);
  }
}

async function listenOr<T>(starting: Promise<T>, flag: string, value: string): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    throw new UnavailableError(`${flag} ${value}: cannot listen: ${(err as Error).message}`);
  }
}

async function closeAll(closers: Array<() => Promise<void>>, logger: Logger): Promise<void> {
  for (const close of closers) {
    try {
      await close();
    } catch (err) {
      logger.warn({ event: 'close_failed', err }, 'closing failed');
    }
  }
}
