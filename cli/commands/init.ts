import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { formatDuration } from '../../common/duration.ts';
import { defaultIdentityDomain } from '../../common/names.ts';
import { DEFAULT_ANCHOR_LIFETIME_MS, DEFAULT_ISSUER_LIFETIME_MS, initHome } from '../../trust-anchors/home.ts';
import { durationArg, homeOption, resolveHome } from '../options.ts';

export function registerInit(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('init')
    .description('create a trust anchor, an issuer, the trust bundle and a token-signing key in the home')
    .addOption(homeOption())
    .option('--trust-domain <domain>', 'trust domain', defaultIdentityDomain.trustDomain)
    .option('--control-plane-namespace <ns>', 'control-plane namespace', defaultIdentityDomain.controlPlaneNamespace)
    .option('--anchor-lifetime <duration>', 'trust anchor lifetime (e.g. 365d)', durationArg('--anchor-lifetime'), DEFAULT_ANCHOR_LIFETIME_MS)
    .option('--issuer-lifetime <duration>', 'issuer lifetime (e.g. 180d)', durationArg('--issuer-lifetime'), DEFAULT_ISSUER_LIFETIME_MS)
    .option('--force', 'replace an existing home', false)
    .action(async (o: { home?: string; trustDomain: string; controlPlaneNamespace: string; anchorLifetime: number; issuerLifetime: number; force: boolean }) => {
      const home = resolveHome(o.home, env);
      const { bundle, issuer } = await initHome({
        home,
        domain: { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace },
        anchorLifetimeMs: o.anchorLifetime,
        issuerLifetimeMs: o.issuerLifetime,
        force: o.force,
        clock: systemClock,
      });
      const now = Date.now();
      const anchor = bundle.anchors[0]!;
      process.stdout.write(
        [
          `created identity home ${home}`,
          `  trust domain     ${o.trustDomain} (control plane namespace ${o.controlPlaneNamespace})`,
          `  trust anchor     ${anchor.subject}  expires ${anchor.notAfter.toISOString()} (in ${formatDuration(anchor.notAfter.getTime() - now)})`,
          `  issuer           ${issuer.certificate.subject}  expires ${issuer.notAfter.toISOString()} (in ${formatDuration(issuer.notAfter.getTime() - now)})`,
          `  bundle           SHA-256 ${bundle.fingerprint}`,
          `next: identity serve --home ${home}`,
          '',
        ].join('\n'),
      );
    });
}
