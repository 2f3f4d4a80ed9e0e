/**
 * `identity proxy` started without the CLI: the same flags, the same configuration parsing
 * (proxy/config.ts) and the same startProxy as cli/commands/proxy.ts, but without the CLI's
 * other commands (the identity service, the Kubernetes client, policy...). The proxy benchmark
 * falls back to it when the CLI does not load, and runs it on request (--proxy-entry direct) to
 * show how much of a proxy's memory is the CLI's imports rather than the proxy.
 *
 *   node bin/run-ts.mjs bench/proxy-direct.ts --local-identity NAME --token-file F --trust-bundle F \
 *     --identity-addr HOST:PORT --app HOST:PORT [--outbound L,D,ID] ...
 *
 * Logs like the CLI (pino JSON on stderr), including the `proxy.ready` line with the bound ports.
 */
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.ts';
import { createLogger } from '../common/log.ts';
import { loadProxyConfig, type ProxyFlags } from '../proxy/config.ts';
import { startProxy } from '../proxy/proxy.ts';

const FLAGS: Record<string, keyof ProxyFlags> = {
  config: 'config',
  'local-identity': 'localIdentity',
  'token-file': 'tokenFile',
  'trust-bundle': 'trustBundle',
  'identity-addr': 'identityAddr',
  'identity-name': 'identityName',
  'min-refresh': 'minRefresh',
  'max-refresh': 'maxRefresh',
  'bundle-reload-interval': 'bundleReloadInterval',
  'inbound-listen': 'inboundListen',
  app: 'app',
  'opaque-ports': 'opaquePorts',
  'detect-timeout': 'detectTimeout',
  'outbound-connect-timeout': 'outboundConnectTimeout',
  'admin-listen': 'adminListen',
  'log-level': 'logLevel',
};

const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }])),
    outbound: { type: 'string', multiple: true },
  },
});
const flags: ProxyFlags = {};
for (const [name, key] of Object.entries(FLAGS)) {
  const value = (values as Record<string, string | undefined>)[name];
  if (value !== undefined) (flags as Record<string, string>)[key] = value;
}
if (values.outbound) flags.outbound = values.outbound;

const config = await loadProxyConfig(flags);
const logger = createLogger({ name: 'proxy', level: config.logLevel });
const stopped = new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
const proxy = await startProxy(config, { clock: systemClock, logger });
void proxy.ready().then(() => logger.info({ event: 'proxy.ready', ports: proxy.ports }, 'proxy ready'));
const signal = await stopped;
logger.info({ event: 'stopping', signal }, 'stopping');
await proxy.close();
