import { createPrivateKey } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { formatDuration } from '../../common/duration.ts';
import { createLogger } from '../../common/log.ts';
import { defaultIdentityDomain, identityName } from '../../common/names.ts';
import { generateP256KeyPair, spkiDer } from '../../trust-anchors/keys.ts';
import { createCertifyClient } from '../../identity/grpc/client.ts';
import { startIdentityService } from '../../identity/service.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { DEFAULT_ANCHOR_LIFETIME_MS, DEFAULT_ISSUER_LIFETIME_MS, initHome } from '../../trust-anchors/home.ts';
import { parseCertificate, verifyPath } from '../../trust-anchors/certificate.ts';
import { validateBundle } from '../../trust-anchors/trust.ts';
import { buildCsr } from '../../identity/csr-builder.ts';
import { addListenOptions, homeOption, resolveHome } from '../options.ts';
import { serveConfig, waitForSignal, type ServeOptions } from './serve.ts';
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_LEAF_LIFETIME_MS } from '../../identity/authority/authority.ts';
import { signLocalServiceAccountToken } from '../../identity/validators/local-token.ts';

/**
 * `npm start`: the system on one machine with no cluster. Creates the home if it is missing,
 * starts the identity service, certifies a sample workload over real TLS gRPC, and prints what
 * happened. `--once` exits after that account; otherwise it serves until Ctrl-C.
 */
export function registerUp(program: Command, env: NodeJS.ProcessEnv): void {
  const command = program
    .command('up')
    .description('run the local system: init the home if missing, serve, and certify a sample workload')
    .addOption(homeOption());
  addListenOptions(command)
    .option('--once', 'exit after the account (for tests and CI)', false)
    .option('--log-level <level>', 'log level', 'warn')
    .action(async (o: { home?: string; listen: string; adminListen: string; once: boolean; logLevel: string }) => {
      const home = resolveHome(o.home, env);
      const out = (line = '') => process.stdout.write(`${line}\n`);
      const exists = await access(join(home, HomeLayout.config)).then(() => true, () => false);
      if (!exists) {
        await initHome({
          home,
          domain: defaultIdentityDomain,
          anchorLifetimeMs: DEFAULT_ANCHOR_LIFETIME_MS,
          issuerLifetimeMs: DEFAULT_ISSUER_LIFETIME_MS,
          force: false,
          clock: systemClock,
        });
        out(`created a new trust anchor and issuer in ${home}`);
      }
      const logger = createLogger({ name: 'identity', level: o.logLevel });
      const options: ServeOptions = {
        home,
        listen: o.listen,
        adminListen: o.adminListen,
        kubernetes: false,
        namespace: 'linkerd',
        issuerSecret: '',
        trustRootsConfigmap: '',
        leafLifetime: DEFAULT_LEAF_LIFETIME_MS,
        clockSkew: DEFAULT_CLOCK_SKEW_MS,
        logLevel: o.logLevel,
      };
      const stopped = waitForSignal();
      const config = await serveConfig(options, env, logger);
      const service = await startIdentityService(config);
      try {
        const { domain } = config;
        const bundle = validateBundle(await new DirectoryTrustStore(home).readBundle(), new Date());
        const issuer = service.trust().issuer;
        const now = Date.now();
        out(`identity service  ${service.identity}`);
        out(`  Certify API     https://${o.listen.split(':')[0]}:${service.port} (TLS, verified against the trust bundle)`);
        out(`  metrics         http://${o.adminListen.split(':')[0]}:${service.adminPort}/metrics   ready: /ready`);
        out(`  trust anchors   ${bundle.anchors.length}, bundle SHA-256 ${bundle.fingerprint.slice(0, 16)}…`);
        out(`  issuer          ${issuer.certificate.subject}, expires in ${formatDuration(issuer.notAfter.getTime() - now)}`);

        // A sample workload proves the whole path: token, CSR with a key that never leaves it, Certify.
        const sa = { namespace: 'demo', name: 'web' };
        const identity = identityName(sa, domain);
        const keys = generateP256KeyPair();
        const tokenKey = createPrivateKey(await readFile(join(home, HomeLayout.tokenKey), 'utf8'));
        const token = await signLocalServiceAccountToken({ signingKey: tokenKey, serviceAccount: sa, trustDomain: domain.trustDomain, ttlMs: 600_000, clock: systemClock });
        const client = createCertifyClient({ address: `127.0.0.1:${service.port}`, serverIdentity: service.identity, trustBundlePem: bundle.pem });
        try {
          const result = await client.certify({ identity, token: Buffer.from(token), csr: buildCsr(keys, identity) });
          const leaf = parseCertificate(result.leafDer, 'issued certificate');
          const chain = result.intermediatesDer.map((d, i) => parseCertificate(d, `intermediate ${i + 1}`));
          verifyPath(leaf, chain, bundle.anchors, new Date(), 'issued certificate');
          if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiDer(keys.publicKey))) throw new Error('the certificate is not for the workload key');
          out(`sample workload   demo/web`);
          out(`  identity        ${identity}`);
          out(`  SPIFFE ID       ${leaf.uris[0]}`);
          out(`  certificate     serial ${leaf.serialHex}, expires ${leaf.notAfter.toISOString()} (in ${formatDuration(leaf.notAfter.getTime() - Date.now())})`);
          out(`  verified        chains to the trust anchor; private key never left the workload`);
        } finally {
          client.close();
        }
        out(`ledger            ${config.ledgerPath}`);
        if (!o.once) {
          out('');
          out(`serving; try: identity check --home ${home} --addr 127.0.0.1:${service.port}   (Ctrl-C to stop)`);
          await stopped;
        }
      } finally {
        await service.close();
      }
    });
}
