import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import { identityName } from '../../common/names.ts';
import { createCertifyClient } from '../../identity/grpc/client.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeCsr } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

// `identity serve` as a process (bin/identity.mjs registers tsx through its API): the crypto
// workers must load their TypeScript there too, and stop with the service.

const web = { namespace: 'demo', name: 'web' };
const webId = identityName(web, testDomain);
const serviceId = identityName({ namespace: 'linkerd', name: 'identity' }, testDomain);

let t: TestHome;
beforeAll(async () => {
  t = await makeTestHome();
});
afterAll(() => t.cleanup());

const serveArgs = (extra: string[]) => ['serve', '--home', t.home, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...extra];

describe('identity serve --crypto-workers', () => {
  for (const [workers, started] of [['2', true], ['0', false]] as const) {
    it(`--crypto-workers ${workers}: serves Certify, ${started ? 'with' : 'without'} workers, and stops cleanly`, async () => {
      const server = startCli(serveArgs(['--crypto-workers', workers]));
      try {
        const out = await server.waitFor(/"event":"serving"[^\n]*"listen":"127\.0\.0\.1:(\d+)"/);
        const port = /"listen":"127\.0\.0\.1:(\d+)"/.exec(out)![1]!;
        expect(out.includes(`"event":"crypto_workers.started","workers":${workers}`)).toBe(started);
        const client = createCertifyClient({ address: `127.0.0.1:${port}`, serverIdentity: serviceId, trustBundlePem: t.bundle.pem });
        try {
          const results = await Promise.all(
            Array.from({ length: 6 }, async () =>
              client.certify({ identity: webId, token: Buffer.from(await t.token(web)), csr: await makeCsr({ dns: [webId] }) }),
            ),
          );
          expect(results.every((r) => r.leafDer.length > 0)).toBe(true);
          const refused = await client
            .certify({ identity: webId, token: Buffer.from(await t.token(web)), csr: await makeCsr({ dns: [webId], corruptSignature: true }) })
            .catch((e: { grpcStatus?: string }) => e.grpcStatus);
          expect(refused).toBe('INVALID_ARGUMENT');
        } finally {
          client.close();
        }
      } finally {
        expect(await server.stop()).toBe(0);
      }
    });
  }

  it('fail/--crypto-workers that is not a whole number is a usage error', async () => {
    const r = await runCli(serveArgs(['--crypto-workers', 'many']));
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('--crypto-workers "many" is not a whole number');
  });
});
