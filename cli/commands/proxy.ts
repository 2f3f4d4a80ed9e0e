import { Option, type Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { createLogger } from '../../common/log.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_IDENTITY_SERVICE_NAME, DEFAULT_INBOUND_LISTEN, loadProxyConfig, type ProxyFlags } from '../../proxy/config.ts';
import { startProxy } from '../../proxy/proxy.ts';
import { waitForSignal } from '../signals.ts';

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
    .addOption(
      new Option('--outbound <route>', 'LISTEN,DESTINATION,IDENTITY[,opaque=TARGET_PORT]; repeatable; replaces the file\'s routes')
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option('--outbound-connect-timeout <duration>', 'connect + handshake limit to a server proxy (default 10s)')
    .option('--admin-listen <host:port>', `metrics, /ready, /live, /identity (default ${DEFAULT_ADMIN_LISTEN})`)
    .option('--log-level <level>', 'log level (default info)')
    .action(async (flags: ProxyFlags) => {
      const config = await loadProxyConfig(flags);
      const logger = createLogger({ name: 'proxy', level: config.logLevel });
      const stopped = waitForSignal();
      const proxy = await startProxy(config, { clock: systemClock, logger });
      void proxy.ready().then(() => logger.info({ event: 'proxy.ready', ports: proxy.ports }, 'proxy ready'));
      await stopped;
      logger.info({ event: 'stopping' }, 'stopping');
      await proxy.close();
    });
}
