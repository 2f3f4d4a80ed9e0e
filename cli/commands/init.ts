/**
 * `identity init`: a new home. The Kubernetes half (`--kubernetes`, init-kubernetes.ts) is
 * loaded only when asked for, so that a local init does not load the Kubernetes client.
 */
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { formatDuration } from '../../common/duration.ts';
import { UsageError } from '../../common/errors.ts';
import { defaultIdentityDomain } from '../../common/names.ts';
import { DEFAULT_ANCHOR_LIFETIME_MS, DEFAULT_ISSUER_LIFETIME_MS, initHome, type HomeTrust } from '../../trust-anchors/home.ts';
import { durationArg, resolveHome } from '../options.ts';
import { addStoreOptions, type StoreFlags } from '../store-options.ts';

export interface InitFlags extends StoreFlags {
  context?: string;
  trustDomain: string;
  controlPlaneNamespace: string;
  anchorLifetime: number;
  issuerLifetime: number;
  force: boolean;
  publishOnly: boolean;
}

export const printLine = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerInit(program: Command, env: NodeJS.ProcessEnv): void {
  const command = program
    .command('init')
    .description('create a trust anchor, an issuer, the trust bundle and a token-signing key in the home (--kubernetes: and publish the issuer and bundle to the cluster)');
  // --home, --kubernetes, --kubeconfig, --namespace, --issuer-secret, --trust-roots-configmap: as the rotations (and serve) take them.
  addStoreOptions(command)
    .option('--context <name>', 'kubeconfig context (--kubernetes; default: its current context)')
    .option('--trust-domain <domain>', 'trust domain', defaultIdentityDomain.trustDomain)
    .option('--control-plane-namespace <ns>', 'control-plane namespace', defaultIdentityDomain.controlPlaneNamespace)
    .option('--anchor-lifetime <duration>', 'trust anchor lifetime (e.g. 365d)', durationArg('--anchor-lifetime'), DEFAULT_ANCHOR_LIFETIME_MS)
    .option('--issuer-lifetime <duration>', 'issuer lifetime (e.g. 180d)', durationArg('--issuer-lifetime'), DEFAULT_ISSUER_LIFETIME_MS)
    .option('--force', 'replace an existing home (with --kubernetes: and the issuer Secret and trust-roots ConfigMap)', false)
    .option('--publish-only', 'with --kubernetes: publish the issuer and bundle of the existing home, creating no new anchor', false)
    .action(async (o: InitFlags, cmd: Command) => {
      const home = resolveHome(o.home, env);
      if (!o.kubernetes) {
        checkLocalFlags(o, cmd);
        const { bundle, issuer } = await initHome({
          home,
          domain: { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace },
          anchorLifetimeMs: o.anchorLifetime,
          issuerLifetimeMs: o.issuerLifetime,
          force: o.force,
          clock: systemClock,
        });
        printHome(`created identity home ${home}`, { config: { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace }, bundle, issuer });
        printLine(`next: identity serve --home ${home}`);
        return;
      }
      const { initKubernetes } = await import('./init-kubernetes.ts');
      await initKubernetes(o, cmd, home);
    });
}

/** Kubernetes flags without --kubernetes are a usage error, before anything is touched. */
function checkLocalFlags(o: InitFlags, cmd: Command): void {
  const given = (key: string) => cmd.getOptionValueSource(key) === 'cli';
  const kubeOnly = (['kubeconfig', 'context', 'namespace', 'issuerSecret', 'trustRootsConfigmap', 'publishOnly'] as const).filter(given);
  if (kubeOnly.length > 0) {
    throw new UsageError(`${kubeOnly.map(flagName).join(', ')} ${kubeOnly.length > 1 ? 'apply' : 'applies'} to --kubernetes; add --kubernetes, or leave ${kubeOnly.length > 1 ? 'them' : 'it'} out`);
  }
}

export const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The home's trust material, as `init` prints it: subjects, expiries and fingerprints, never a key. */
export function printHome(title: string, trust: Pick<HomeTrust, 'bundle' | 'issuer'> & { config: { trustDomain: string; controlPlaneNamespace: string } }): void {
  const now = Date.now();
  const { bundle, issuer, config } = trust;
  const expires = (cert: { notAfter: Date }) => `expires ${cert.notAfter.toISOString()} (in ${formatDuration(cert.notAfter.getTime() - now)})`;
  printLine(title);
  printLine(`  trust domain     ${config.trustDomain} (control plane namespace ${config.controlPlaneNamespace})`);
  for (const anchor of bundle.anchors) printLine(`  trust anchor     ${anchor.subject}  ${expires(anchor)}  SHA-256 ${anchor.fingerprint}`);
  printLine(`  issuer           ${issuer.certificate.subject}  ${expires(issuer)}  SHA-256 ${issuer.certificate.fingerprint}`);
  printLine(`  bundle           SHA-256 ${bundle.fingerprint}`);
}
