/**
 * Acceptance: `identity rotate-issuer` under certify load, with real processes. `identity serve`
 * runs on its own; eight clients call Certify without pause while the command writes a new issuer
 * into the home. The service must pick it up live and fail none of the requests meanwhile; the
 * certificates that follow come from the new issuer, and the ledger still verifies.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityName } from '../../common/names.ts';
import { createCertifyClient, type CertifyClient } from '../../identity/grpc/client.ts';
import { verifyLedger } from '../../identity/ledger/index.ts';
import { certificateFingerprint } from '../../trust-anchors/rotation/fingerprints.ts';
import { parseCertificate } from '../../trust-anchors/certificate.ts';
import { runCli } from '../support/cli.ts';
import { makeCsr } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';
import { ProcessSet, startIdentityProcess, type IdentityProcess } from '../proxy/support/processes.ts';

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);

let home: TestHome;
let processes: ProcessSet;
let identity: IdentityProcess;

beforeAll(async () => {
  home = await makeTestHome();
  processes = new ProcessSet(join(home.home, 'logs'));
  identity = await startIdentityProcess(processes, { home: home.home });
}, 120_000);

afterAll(async () => {
  await processes?.stopAll();
  await home?.cleanup();
}, 60_000);

describe('acceptance: rotate-issuer under certify load', () => {
  it('fails 0 certify requests while the issuer is replaced, and later certificates come from the new one', async () => {
    const oldIssuer = certificateFingerprint((await home.store.readIssuer()).certificatePem);
    const clients: CertifyClient[] = Array.from({ length: 8 }, () =>
      createCertifyClient({ address: identity.listen, serverIdentity: identity.identity, trustBundlePem: home.bundle.pem }),
    );
    // Tokens and CSRs are made ahead, so that the loops spend their time in Certify.
    const token = Buffer.from(await home.token(web));
    const csrs = await Promise.all(Array.from({ length: 8 }, () => makeCsr({ dns: [webId] })));
    let stop = false;
    let ok = 0;
    let fromNew = 0;
    let newIssuer: string | undefined;
    const failures: string[] = [];
    const loops = clients.map(async (client, i) => {
      while (!stop) {
        try {
          const out = await client.certify({ identity: webId, token, csr: csrs[i]! });
          ok++;
          if (newIssuer && parseCertificate(out.intermediatesDer[0]!, 'issuer').fingerprint === newIssuer) fromNew++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    try {
      while (ok < 50) await new Promise((r) => setTimeout(r, 20));
      const okBefore = ok;
      const rotated = await runCli(['rotate-issuer', '--home', home.home, '--lifetime', '30d'], { timeoutMs: 120_000 });
      expect(rotated.code, `${rotated.stdout}\n${rotated.stderr}`).toBe(0);
      newIssuer = certificateFingerprint((await home.store.readIssuer()).certificatePem);
      expect(newIssuer).not.toBe(oldIssuer);
      // The load goes on until the service has switched and answered from the new issuer a while.
      const until = Date.now() + 60_000;
      while (fromNew < 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await Promise.all(loops);
      console.log(`rotate-issuer under load: ${ok} certificates (${okBefore} before the command), ${fromNew} from the new issuer, ${failures.length} failures`);
      expect(failures).toEqual([]);
      expect(fromNew).toBeGreaterThanOrEqual(50);
    } finally {
      stop = true;
      await Promise.all(loops);
      for (const c of clients) c.close();
    }
    const ledger = await verifyLedger(join(home.home, 'ledger.jsonl'));
    expect(ledger.errors).toEqual([]);
    expect(ledger.count).toBeGreaterThanOrEqual(ok);
  }, 240_000);
});
