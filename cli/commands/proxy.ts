import { Option, type Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import type { InboundPolicy } from '../../proxy/app/inbound/authorize.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_IDENTITY_SERVICE_NAME, DEFAULT_INBOUND_LISTEN, loadProxyConfig, type ProxyConfig, type ProxyFlags } from '../../proxy/config.ts';
import { DEFAULT_CLUSTER_NETWORKS, DEFAULT_POLICY_NAMES, podOfIdentity } from '../../proxy/config-policy.ts';
import { startProxy } from '../../proxy/proxy.ts';
import { waitForSignal } from '../signals.ts';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/**
 * `identity proxy`: the sidecar. Flags and `--config FILE` are only collected here; defaults
 * and validation live in proxy/config.ts, so that a flag and a file field behave the same.
 */
export function registerProxy(program: Command, _env: NodeJS.ProcessEnv): void {
  program
    .command('proxy')
    .description('run the sidecar proxy: mutual TLS between workloads with certificates from the identity service')
    .option('--config <file>', 'YAML or JSON configuration; flags override its fields')
    .option('--local-identity <name>', "this workload's identity, e.g. web.demo.serviceaccount.identity.linkerd.cluster.local")
    .option('--token-file <file>', 'ServiceAccount token file (re-read at every renewal)')
    .option('--trust-bundle <file>', 'trust anchors (PEM); watched, and reloaded when it changes')
    .option('--identity-addr <host:port>', 'identity service address')
    .option('--identity-name <name>', `identity service's identity (default ${DEFAULT_IDENTITY_SERVICE_NAME})`)
    .option('--min-refresh <duration>', 'shortest renewal delay (default 10s)')
    .option('--max-refresh <duration>', 'longest renewal delay (default 24h)')
    .option('--bundle-reload-interval <duration>', 'how often the trust bundle file is checked (default 1s)')
    .option('--inbound-listen <host:port>', `inbound listener (default ${DEFAULT_INBOUND_LISTEN})`)
    .option('--app <host:port>', 'the application, where inbound connections go')
    .option('--opaque-ports <ports>', 'application ports a transport header may name, comma-separated')
    .option('--detect-timeout <duration>', 'detection + handshake + transport header limit (default 10s)')
    .addOption(new Option('--outbound <route>', 'LISTEN,DESTINATION,IDENTITY[,opaque=TARGET_PORT]; repeatable; replaces the file\'s routes').argParser(collect))
    .option('--outbound-connect-timeout <duration>', 'connect + handshake limit to a server proxy (default 10s)')
    .option('--admin-listen <host:port>', `metrics, /ready, /live, /identity, /policy (default ${DEFAULT_ADMIN_LISTEN})`)
    .option('--pod <ns/name>', "this workload's pod, whose policy applies (required with --policy-dir or --policy-addr)")
    .addOption(new Option('--policy-dir <path>', 'policy YAML: a file or directory (repeatable, or comma-separated); watched').argParser(collect))
    .option('--policy-addr <host:port>', "the policy controller's gRPC address (instead of --policy-dir)")
    .option('--default-policy <name>', `default inbound policy: ${DEFAULT_POLICY_NAMES.join(', ')} (default all-unauthenticated)`)
    .option('--cluster-networks <cidrs>', `networks the cluster-* policies admit (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})`)
    .option('--trust-domain <domain>', "of the identities policies name (default: the local identity's)")
    .option('--control-plane-namespace <ns>', "of the identities policies name (default: the local identity's)")
    .option('--decision-log <file>', 'write every inbound connection decision to FILE (JSON lines, v1; off by default)')
    .option('--decision-log-max-size <size>', 'rotate the decision log before it exceeds this (default 10MiB; 512KiB, or bytes)')
    .option('--decision-log-max-files <n>', 'rotated decision log files kept: FILE.1 (newest) ... FILE.N (default 5)')
    .option('--log-level <level>', 'log level (default info)')
    .action(async (flags: ProxyFlags) => {
      const config = await loadProxyConfig(flags);
      const logger = createLogger({ name: 'proxy', level: config.logLevel });
      const stopped = waitForSignal();
      const policy = await inboundPolicy(config, logger.child({ proxy: config.identity.localName, component: 'policy' }));
      const proxy = await startProxy(config, { clock: systemClock, logger, ...(policy ? { policy } : {}) });
      void proxy.ready().then(() => logger.info({ event: 'proxy.ready', ports: proxy.ports }, 'proxy ready'));
      await stopped;
      logger.info({ event: 'stopping' }, 'stopping');
      await proxy.close();
    });
}

/**
 * The inbound policy the configuration asks for; undefined for none (the proxy then admits every
 * connection). policy/ is loaded only when used: a proxy without policy does not carry it.
 */
async function inboundPolicy(config: ProxyConfig, logger: Logger): Promise<InboundPolicy | undefined> {
  const p = config.policy;
  if (p.source.kind === 'none' && p.defaultPolicy === undefined) return undefined;
  const [{ defaultEvaluatorConfig }, { networksFromCidrs }, live] = await Promise.all([
    import('../../policy/evaluator/types.ts'),
    import('../../policy/net/cidr.ts'),
    import('../../policy/live/pod-policy.ts'),
  ]);
  const evaluator = defaultEvaluatorConfig({
    domain: { trustDomain: p.trustDomain, controlPlaneNamespace: p.controlPlaneNamespace },
    clusterNetworks: networksFromCidrs(p.clusterNetworks),
    defaultPolicy: p.defaultPolicy ?? 'all-unauthenticated',
  });
  switch (p.source.kind) {
    case 'directory': {
      const { watchPolicyDirectory } = await import('../../policy/live/directory-source.ts');
      return watchPolicyDirectory({ paths: p.source.paths, pod: requiredPod(p.pod), config: evaluator, logger });
    }
    case 'controller': {
      // One watch per port a connection can be for: the application's, and the opaque ones.
      const { watchPodPolicyFromController } = await import('../../policy/api/client-source.ts');
      const ports = [config.inbound.app.port, ...config.inbound.opaquePorts];
      return watchPodPolicyFromController({ address: p.source.address, pod: requiredPod(p.pod), ports, config: evaluator, logger });
    }
    case 'none': {
      // Only the default policy: `--pod` (or else the local identity's NS/SA) just names the pod in reasons.
      const pod = p.pod ?? podOfIdentity(config.identity.localName);
      return new live.LivePodPolicy({
        source: 'none',
        fallback: live.defaultDecider(evaluator.defaultPolicy, evaluator, pod),
        fallbackDetail: `no policy source configured; default policy ${evaluator.defaultPolicy} decides`,
      });
    }
  }
}

function requiredPod(pod: string | undefined): string {
  if (pod === undefined) throw new ConfigError('--pod: is required with a policy source'); // config.ts checks it first
  return pod;
}
