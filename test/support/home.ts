import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { IdentityDomain, ServiceAccountRef } from '../../common/names.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { initHome } from '../../trust-anchors/home.ts';
import type { Issuer, TrustBundle } from '../../trust-anchors/trust.ts';
import { signLocalServiceAccountToken } from '../../identity/validators/local-token.ts';

export const testDomain: IdentityDomain = { trustDomain: 'cluster.local', controlPlaneNamespace: 'linkerd' };

export interface TestHome {
  home: string;
  store: DirectoryTrustStore;
  bundle: TrustBundle;
  issuer: Issuer;
  tokenKey: KeyObject;
  tokenPublicKey: KeyObject;
  token(sa: ServiceAccountRef, options?: { audience?: string; ttlMs?: number; clock?: Clock }): Promise<string>;
  cleanup(): Promise<void>;
}

/** A fresh home in a temporary directory, made by the real `init` code. */
export async function makeTestHome(options: { issuerLifetimeMs?: number; anchorLifetimeMs?: number; clock?: Clock } = {}): Promise<TestHome> {
  const home = await mkdtemp(join(tmpdir(), 'identity-test-'));
  const clock = options.clock ?? systemClock;
  const { bundle, issuer } = await initHome({
    home,
    domain: testDomain,
    anchorLifetimeMs: options.anchorLifetimeMs ?? 365 * 86_400_000,
    issuerLifetimeMs: options.issuerLifetimeMs ?? 180 * 86_400_000,
    force: false,
    clock,
  });
  const tokenKey = createPrivateKey(await readFile(join(home, HomeLayout.tokenKey), 'utf8'));
  return {
    home,
    store: new DirectoryTrustStore(home),
    bundle,
    issuer,
    tokenKey,
    tokenPublicKey: createPublicKey(tokenKey),
    token: (sa, o = {}) =>
      signLocalServiceAccountToken({
        signingKey: tokenKey,
        serviceAccount: sa,
        trustDomain: testDomain.trustDomain,
        ttlMs: o.ttlMs ?? 3_600_000,
        clock: o.clock ?? clock,
        ...(o.audience ? { audience: o.audience } : {}),
      }),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
