import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { formatDuration } from '../../common/duration.ts';
import { describeCertificate } from '../../trust-anchors/certificate.ts';
import { HomeLayout, readKeyPairDir } from '../../trust-anchors/directory-store.ts';
import { DEFAULT_ISSUER_LIFETIME_MS } from '../../trust-anchors/home.ts';
import {
  fleetMembers,
  issuedBy,
  loadCaSigner,
  realSleep,
  rotateIssuer,
  RotationInProgressError,
  RotationStateFile,
  shortFingerprint,
  waitForFleet,
} from '../../trust-anchors/rotation/index.ts';
import { durationArg, resolveHome } from '../options.ts';
import { addFleetOptions, addStoreOptions, fleetFrom, httpFleetProbe, printLine, storeFrom, type FleetFlags, type StoreFlags } from './rotation-options.ts';

interface RotateIssuerFlags extends StoreFlags, FleetFlags {
  anchorDir?: string;
  lifetime: number;
  renewNow: boolean;
  dryRun: boolean;
}

export function registerRotateIssuer(program: Command, env: NodeJS.ProcessEnv): void {
  const command = program
    .command('rotate-issuer')
    .description('put a new issuer, signed by the current trust anchor, in the store; the identity service picks it up live');
  addStoreOptions(command)
    .option('--anchor-dir <dir>', 'the anchor key pair (tls.crt, tls.key) to sign with (default: <home>/anchor)')
    .option('--lifetime <duration>', 'the new issuer\'s lifetime (never past the anchor\'s)', durationArg('--lifetime'), DEFAULT_ISSUER_LIFETIME_MS)
    .option('--renew-now', 'ask every proxy to renew at once, and wait until all hold a certificate from the new issuer', false)
    .option('--dry-run', 'print what would be done, change nothing', false);
  addFleetOptions(command).action(async (o: RotateIssuerFlags) => {
    const home = resolveHome(o.home, env);
    const rotation = await new RotationStateFile(home).read();
    if (rotation) {
      throw new RotationInProgressError(
        `an anchor rotation is in progress in ${home} (${rotation.id}); its activate step makes the new issuer. ` +
          'Finish it ("identity rotate-anchor") or abort it first',
      );
    }
    const store = storeFrom(o, home);
    const anchorDir = o.anchorDir ?? join(home, HomeLayout.anchorDir);
    const signer = loadCaSigner(await readKeyPairDir(anchorDir, 'trust anchor'));
    if (o.dryRun) {
      printLine(`would write a new issuer (ECDSA P-256, ${formatDuration(o.lifetime)}) signed by the anchor ${describeCertificate(signer.certificate)} to ${store.description}`);
      if (o.renewNow) printLine(`would ask every proxy of the fleet (${fleetFrom(o, home).description}) to renew, and wait for them`);
      return;
    }
    const fleet = fleetFrom(o, home);
    // Checked first: a fleet that cannot be read would only show up after the issuer is changed.
    if (o.renewNow) await fleetMembers(fleet, 'renew', o.allowEmptyFleet);
    const { issuer, previous } = await rotateIssuer({ store, signer, lifetimeMs: o.lifetime, clock: systemClock });
    const now = Date.now();
    printLine(`new issuer ${describeCertificate(issuer.certificate)}`);
    printLine(`  expires        ${issuer.notAfter.toISOString()} (in ${formatDuration(issuer.notAfter.getTime() - now)})`);
    printLine(`  signed by      ${describeCertificate(issuer.anchor)}`);
    printLine(`  written to     ${store.description}`);
    if (previous) printLine(`  replaces       SHA-256 ${shortFingerprint(previous.certificate.fingerprint)} (valid until ${previous.notAfter.toISOString()})`);
    if (!o.renewNow) {
      printLine('the identity service picks it up live; proxies move to it at their next renewal (or run with --renew-now)');
      return;
    }
    await waitForFleet(
      { fleet, probe: httpFleetProbe(o.probeTimeout), clock: systemClock, sleep: realSleep, progress: printLine },
      issuedBy(issuer.certificate.fingerprint),
      {
        label: 'renew',
        timeoutMs: o.timeout,
        pollIntervalMs: o.pollInterval,
        renewEveryMs: o.renewEvery,
        allowEmptyFleet: o.allowEmptyFleet,
        resumeHint: 'The new issuer is in service; the stragglers will move to it at their next renewal.',
      },
    );
  });
}
