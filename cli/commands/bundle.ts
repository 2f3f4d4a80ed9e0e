import type { Command } from 'commander';
import { DirectoryTrustStore } from '../../trust-anchors/directory-store.ts';
import { validateBundle } from '../../trust-anchors/trust.ts';
import { homeOption, resolveHome } from '../options.ts';

export function registerBundle(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('bundle')
    .description('print the trust bundle (PEM) to standard output')
    .addOption(homeOption())
    .action(async (o: { home?: string }) => {
      const stored = await new DirectoryTrustStore(resolveHome(o.home, env)).readBundle();
      // Validate before printing, so that nobody distributes a broken bundle.
      validateBundle(stored, new Date());
      process.stdout.write(stored.pem.endsWith('\n') ? stored.pem : `${stored.pem}\n`);
    });
}
