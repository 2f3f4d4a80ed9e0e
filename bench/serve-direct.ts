/**
 * The identity service in local mode, started without the CLI: the same configuration that
 * `identity serve --home DIR` builds (cli/commands/serve.ts, serveConfig), for when the CLI does
 * not load (it imports the Kubernetes modules too). The benchmark runs it as a separate process:
 *
 *   node bin/run-ts.mjs bench/serve-direct.ts --home DIR --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0
 *
 * Logs like the CLI (pino JSON on stderr), including the `serving` line with the bound ports.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.ts';
import { createLogger } from '../common/log.ts';
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_LEAF_LIFETIME_MS } from '../identity/authority/authority.ts';
import { startIdentityService } from '../identity/service.ts';
import { LocalJwtValidator } from '../identity/validators/local-jwt-validator.ts';
import { DirectoryTrustStore, HomeLayout } from '../trust-anchors/directory-store.ts';
import { readHomeConfig } from '../trust-anchors/home.ts';

function hostPort(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`"${value}" is not host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

const { values } = parseArgs({
  options: {
    home: { type: 'string' },
    listen: { type: 'string', default: '127.0.0.1:0' },
    'admin-listen': { type: 'string', default: '127.0.0.1:0' },
    'log-level': { type: 'string', default: 'info' },
  },
});
if (!values.home) throw new Error('--home is required');
const home = values.home;
const logger = createLogger({ name: 'identity', level: values['log-level'] });
const config = await readHomeConfig(home);
const keyPem = await readFile(join(home, HomeLayout.tokenKey), 'utf8');
const listen = hostPort(values.listen);
const service = await startIdentityService({
  listen,
  adminListen: hostPort(values['admin-listen']),
  clock: systemClock,
  logger,
  leafLifetimeMs: DEFAULT_LEAF_LIFETIME_MS,
  clockSkewMs: DEFAULT_CLOCK_SKEW_MS,
  ledgerPath: join(home, HomeLayout.ledger),
  domain: config,
  store: new DirectoryTrustStore(home),
  validator: new LocalJwtValidator({
    verificationKey: createPublicKey(createPrivateKey(keyPem)),
    trustDomain: config.trustDomain,
    clock: systemClock,
  }),
});
logger.info(
  { event: 'serving', listen: `${listen.host}:${service.port}`, admin: service.adminPort, identity: service.identity },
  'identity service ready',
);
const signal = await new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
logger.info({ event: 'stopping', signal }, 'stopping');
await service.close();
