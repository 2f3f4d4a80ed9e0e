import type { Command } from 'commander';
import { runLocalMesh } from '../../mesh/local-mesh.ts';
import { homeOption, resolveHome } from '../options.ts';
import { waitForSignal } from '../signals.ts';

export function registerMesh(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('mesh')
    .description('run a whole local mesh: identity service, and web -> api each behind its own proxy (what npm start runs)')
    .addOption(homeOption())
    .option('--identity-listen <host:port>', 'identity service Certify address', '127.0.0.1:8080')
    .option('--identity-admin-listen <host:port>', 'identity service metrics address', '127.0.0.1:9990')
    .option('--once', 'print the account and exit (0 when web -> api went over mutual TLS)', false)
    .action(async (o: { home?: string; identityListen: string; identityAdminListen: string; once: boolean }) => {
      const stopSignal = waitForSignal();
      process.exitCode = await runLocalMesh({
        home: resolveHome(o.home, env),
        identityListen: o.identityListen,
        identityAdminListen: o.identityAdminListen,
        once: o.once,
        out: (line = '') => process.stdout.write(`${line}\n`),
        stopSignal,
      });
    });
}
