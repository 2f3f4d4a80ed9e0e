import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { NotFoundError } from '../../common/errors.ts';
import { signLocalServiceAccountToken } from '../../identity/validators/local-token.ts';
import { IDENTITY_AUDIENCE } from '../../identity/validators/token-validator.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { readHomeConfig } from '../../trust-anchors/home.ts';
import { durationArg, homeOption, resolveHome } from '../options.ts';

export function registerToken(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('token')
    .description('print a local-mode ServiceAccount token (a JWT signed by the home token key)')
    .addOption(homeOption())
    .requiredOption('--namespace <ns>', 'the ServiceAccount namespace')
    .requiredOption('--service-account <name>', 'the ServiceAccount name')
    .option('--audience <aud>', 'token audience', IDENTITY_AUDIENCE)
    .option('--ttl <duration>', 'token lifetime', durationArg('--ttl'), 3_600_000)
    .action(async (o: { home?: string; namespace: string; serviceAccount: string; audience: string; ttl: number }) => {
      const home = resolveHome(o.home, env);
      const config = await readHomeConfig(home);
      const keyPath = join(home, HomeLayout.tokenKey);
      const pem = await readFile(keyPath, 'utf8').catch(() => {
        throw new NotFoundError(`token-signing key ${keyPath} is missing; run "identity init" to create the home`);
      });
      const token = await signLocalServiceAccountToken({
        signingKey: createPrivateKey(pem),
        serviceAccount: { namespace: o.namespace, name: o.serviceAccount },
        trustDomain: config.trustDomain,
        audience: o.audience,
        ttlMs: o.ttl,
        clock: systemClock,
      });
      process.stdout.write(`${token}\n`);
    });
}
