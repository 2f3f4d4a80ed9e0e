import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { bundleFingerprintOfPem } from '../../trust-anchors/rotation/index.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor, writeKubeConfig } from '../support/kubeconfig.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { anchorsOf, hashTree, opensslVerifies, writeFleetFile, type FakeProxy } from '../trust-anchors/rotation-fakes.ts';
import { exists, homeWithFleet, putHomeTrustInCluster, startFleetIn, stopFleetAndHome } from '../trust-anchors/rotation-setup.ts';

let home: TestHome;
let fleet: FakeProxy[] = [];

afterEach(() => stopFleetAndHome(fleet, home));

async function setUp() {
  ({ home, fleet } = await homeWithFleet());
}

const rotate = (...args: string[]) => ['rotate-anchor', ...args, '--home', home.home, '--poll-interval', '50ms', '--renew-every', '100ms'];

async function expectRotated(): Promise<void> {
  const status = await runCli(rotate('status', '-o', 'json'));
  expect(status.code).toBe(0);
  const json = JSON.parse(status.stdout);
  expect(json).toMatchObject({ inProgress: false, rotation: null, last: { outcome: 'completed' } });
  const bundle = (await home.store.readBundle()).pem;
  expect(anchorsOf(bundle)).toEqual([json.last.newAnchor.fingerprint]);
  expect(anchorsOf(bundle)).not.toContain(home.bundle.anchors[0]!.fingerprint);
  expect(await opensslVerifies(bundle, (await home.store.readIssuer()).certificatePem)).toBe(true);
  expect(fleet.every((p) => p.bundleFingerprint === bundleFingerprintOfPem(bundle) && p.refusedBundles === 0)).toBe(true);
  expect(await exists(join(home.home, HomeLayout.rotationState))).toBe(false);
}

describe('identity rotate-anchor', () => {
  it('runs every step with progress, and status tells where it stands', async () => {
    await setUp();
    const r = await runCli(rotate('--timeout', '20s'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const step of ['prepare', 'wait-bundle', 'activate', 'wait-reissue', 'retire']) expect(r.stdout).toContain(`== ${step}\n`);
    expect(r.stdout).toMatch(/wait-bundle: 3 of 3 proxies hold bundle [0-9a-f]{16}… \(old \+ new anchors\)/);
    expect(r.stdout).toMatch(/rotation \S+ completed in [\d.]+s: prepare [\d.]+s, wait-bundle [\d.]+s, activate [\d.]+s, wait-reissue [\d.]+s, retire [\d.]+s\n$/);
    expect(r.stdout).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    await expectRotated();
    const text = await runCli(rotate('status'));
    expect(text.stdout).toMatch(/^no anchor rotation in progress\nlast rotation \S+: completed at /);
  });

  it('a straggler holds it at wait-bundle, named, exit 75; status shows it; resumed once it picks up the bundle', async () => {
    await setUp();
    fleet[1]!.following = false;
    const held = await runCli(rotate('--timeout', '1s'));
    expect(held.code).toBe(ExitCode.TEMP_FAILURE);
    expect(held.stderr).toMatch(/^error: wait-bundle: after \d+s, 2 of 3 proxies hold bundle .*; stragglers: api: holds bundle [0-9a-f]{16}… \(the old one\)\. The rotation is paused at wait-bundle/);
    expect(held.stdout).toMatch(/wait-bundle: 2 of 3 proxies hold bundle .*; waiting for api: holds bundle/);
    const status = await runCli(rotate('status'));
    expect(status.stdout).toMatch(/anchor rotation \S+ in progress\n/);
    expect(status.stdout).toMatch(/√ prepare +[\d.]+s\n +… wait-bundle +begun .*, not finished\n +- activate\n/);
    expect(status.stdout).toContain('next: identity rotate-anchor wait-bundle');
    const json = JSON.parse((await runCli(rotate('status', '-o', 'json'))).stdout);
    expect(json).toMatchObject({ inProgress: true, rotation: { completed: 'prepare', running: { step: 'wait-bundle' }, next: 'wait-bundle' } });
    expect(JSON.stringify(json)).not.toContain('BEGIN CERTIFICATE');
    const again = await runCli(rotate('prepare'));
    expect(again.code).toBe(ExitCode.CANT_CREATE);
    expect(again.stderr).toContain('an anchor rotation is already in progress');
    fleet[1]!.following = true;
    const resumed = await runCli(rotate('--timeout', '20s'));
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resuming rotation \S+ at wait-bundle\n/);
    await expectRotated();
  });

  it('killed with SIGKILL while waiting on the fleet (wait-bundle, then wait-reissue), re-run completes', async () => {
    await setUp();
    fleet[2]!.following = false;
    const first = startCli(rotate('--timeout', '60s'));
    await first.waitFor(/wait-bundle: 2 of 3 proxies/);
    first.child.kill('SIGKILL');
    await first.stop();
    fleet[2]!.following = true;
    // second run: let the bundle through, then hold db's renewal and kill during wait-reissue
    const second = startCli(rotate('--timeout', '60s'));
    await second.waitFor(/== activate/);
    fleet[2]!.following = false;
    await second.waitFor(/wait-reissue: 2 of 3 proxies/);
    second.child.kill('SIGKILL');
    await second.stop();
    const status = JSON.parse((await runCli(rotate('status', '-o', 'json'))).stdout);
    expect(status.rotation).toMatchObject({ completed: 'activate', running: { step: 'wait-reissue' } });
    fleet[2]!.following = true;
    const last = await runCli(rotate('--timeout', '20s'));
    expect(last.code).toBe(0);
    await expectRotated();
  });

  it('--dry-run changes nothing, before and during a rotation; abort goes back', async () => {
    await setUp();
    const before = await hashTree(home.home);
    const dry = await runCli(rotate('--dry-run'));
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: nothing will be changed\nno rotation in progress; it would start one\nprepare:\n {2}would create a new trust anchor/);
    expect(await hashTree(home.home)).toEqual(before);
    expect((await runCli(rotate('prepare'))).code).toBe(0);
    const during = await hashTree(home.home);
    for (const verb of ['activate', 'wait-bundle', 'abort']) {
      const r = await runCli(rotate(verb, '--dry-run'));
      expect(r.code, `${verb}: ${r.stderr}`).toBe(verb === 'activate' ? ExitCode.USAGE : 0);
    }
    expect(await hashTree(home.home)).toEqual(during);
    const aborted = await runCli(rotate('abort', '--timeout', '20s'));
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toContain('abort: done');
    expect((await home.store.readBundle()).pem).toBe(home.bundle.pem);
  });

  it('refuses an unknown step and an empty fleet', async () => {
    await setUp();
    const bad = await runCli(rotate('rollback'));
    expect(bad.code).toBe(ExitCode.USAGE);
    expect(bad.stderr).toContain('"rollback" is not a rotate-anchor step');
    await writeFleetFile(home.home, []);
    const empty = await runCli(rotate());
    expect(empty.code).toBe(ExitCode.CONFIG);
    expect(empty.stderr).toContain('--allow-empty-fleet');
  });

  it('--kubernetes: publishes to the ConfigMap and the Secret; the anchor keys stay in the home', async () => {
    home = await makeTestHome();
    const api = await KubeApiServer.start();
    try {
      await putHomeTrustInCluster(api, home);
      const store = new KubernetesTrustStore({ kubeConfig: kubeConfigFor(api) });
      fleet = await startFleetIn(home, store, ['web', 'api']);
      const kubeconfig = await writeKubeConfig(api, home.home);
      // The fleet is the home's registry file here (the pods-based fleet has its own test).
      const r = await runCli(rotate('--kubernetes', '--kubeconfig', kubeconfig, '--fleet', 'file', '--timeout', '20s'));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('to Kubernetes Secret linkerd/linkerd-identity-issuer, ConfigMap linkerd/linkerd-identity-trust-roots');
      const bundle = validateBundle(await store.readBundle(), new Date());
      const last = JSON.parse((await runCli(rotate('status', '-o', 'json'))).stdout).last;
      expect(anchorsOf(bundle.pem)).toEqual([last.newAnchor.fingerprint]);
      expect(validateIssuer(await store.readIssuer(), bundle, new Date()).anchor.fingerprint).toBe(last.newAnchor.fingerprint);
      expect(anchorsOf((await home.store.readAnchor()).certificatePem)).toEqual([last.newAnchor.fingerprint]);
      expect((await home.store.readBundle()).pem).toBe(home.bundle.pem); // the home's own files were not the store
    } finally {
      await api.close();
    }
  });
});
