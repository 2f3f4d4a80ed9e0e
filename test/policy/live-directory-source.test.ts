/**
 * The local policy-directory source: what it applies, what an invalid edit does (nothing, said
 * loudly), a directory that is missing at start (the default policy decides) and that appears
 * later, a pod the files do not describe, a file replaced by rename, and closing.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { watchPolicyDirectory, type PolicyDirectoryOptions } from '../../policy/live/directory-source.ts';
import type { LivePodPolicy } from '../../policy/live/pod-policy.ts';
import { idOf } from '../proxy/support/mesh.ts';
import { API_POD, apiPolicyYaml, capturingLogger, type CapturedLogs } from '../proxy/support/policy.ts';

const WEB = idOf('web');
const OTHER = idOf('other');
const PORT = 8080;

let dir: string;
let logs: CapturedLogs;
const policies: LivePodPolicy[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-dir-'));
  logs = capturingLogger();
});

afterEach(async () => {
  await Promise.all(policies.splice(0).map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

async function watchDir(o: Partial<PolicyDirectoryOptions> & { defaultPolicy?: 'deny' | 'all-unauthenticated' | 'all-authenticated' } = {}): Promise<LivePodPolicy> {
  const policy = await watchPolicyDirectory({
    paths: o.paths ?? [dir],
    pod: o.pod ?? API_POD,
    config: defaultEvaluatorConfig({ defaultPolicy: o.defaultPolicy ?? 'deny' }),
    logger: logs.logger,
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
  });
  policies.push(policy);
  return policy;
}

const decide = (policy: LivePodPolicy, clientIdentity?: string) =>
  policy.decide({ clientIp: '127.0.0.1', targetPort: PORT, ...(clientIdentity ? { clientIdentity } : {}) });

/** Polls (5 s bound) until `check` holds; returns the time it took, for the test output. */
async function until(what: string, check: () => boolean): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > 5_000) throw new Error(`not within 5 s: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Math.round(performance.now() - start);
}

describe('watchPolicyDirectory', () => {
  it('applies the files: the pod\'s Server and authorization decide', async () => {
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir();
    expect(policy.status()).toMatchObject({ source: `directory ${dir}`, state: 'current', generation: 1, detail: expect.stringMatching(/pod demo\/api-0 found/) });
    expect(decide(policy, WEB)).toMatchObject({ decision: 'allow', server: { kind: 'server', name: 'demo/api' }, authorization: { kind: 'authorizationpolicy', name: 'demo/api-from-web' } });
    expect(decide(policy, OTHER)).toMatchObject({ decision: 'deny', server: { kind: 'server', name: 'demo/api' }, authorization: null });
    expect(decide(policy)).toMatchObject({ decision: 'deny' });
    expect(logs.events('policy.applied')).toHaveLength(1);
  });

  it('applies an edit, and notifies subscribers', async () => {
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir();
    let notified = 0;
    policy.subscribe(() => notified++);
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT, admit: [OTHER] }));
    const ms = await until('the edit applies', () => decide(policy, WEB).decision === 'deny');
    console.log(`policy edit applied after ${ms} ms`);
    expect(decide(policy, OTHER).decision).toBe('allow');
    expect(policy.status()).toMatchObject({ state: 'current', generation: 2 });
    expect(notified).toBeGreaterThanOrEqual(1);
  });

  it('keeps the last policy on an invalid edit, logs every problem, and turns stale until fixed', async () => {
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir();
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT, admit: [OTHER], accessPolicy: 'sometimes' }));
    await until('the source turns stale', () => policy.status().state === 'stale');
    expect(policy.status()).toMatchObject({ generation: 1, detail: expect.stringMatching(/invalid policy .*accessPolicy.*keeping the last policy received/) });
    expect(decide(policy, WEB).decision).toBe('allow'); // the last good policy, not the edit
    expect(decide(policy, OTHER).decision).toBe('deny');
    const [invalid] = logs.events('policy.invalid');
    expect(invalid).toMatchObject({ level: 50, problems: [expect.stringMatching(/api\.yaml \(document 3\): Server demo\/api: spec\.accessPolicy: /)] });

    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT, admit: [OTHER] }));
    await until('the fixed file applies', () => policy.status().state === 'current');
    expect(policy.status().generation).toBe(2);
    expect(decide(policy, OTHER).decision).toBe('allow');
  });

  it('fails closed when the directory is missing, and applies it once it appears', async () => {
    const missing = join(dir, 'later');
    const policy = await watchDir({ paths: [missing] });
    expect(policy.status()).toMatchObject({ state: 'default', generation: 0, detail: expect.stringMatching(/no file or directory at .*later/) });
    expect(decide(policy, WEB)).toMatchObject({ decision: 'deny', server: { kind: 'default', name: 'deny' } });
    expect(logs.events('policy.missing')).toHaveLength(1);

    await mkdir(missing);
    await writeFile(join(missing, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    // (The empty directory may apply first: the pod is then not among the resources, still deny.)
    const ms = await until('the new directory applies', () => decide(policy, WEB).decision === 'allow');
    console.log(`policy directory picked up ${ms} ms after it appeared`);
    expect(policy.status().state).toBe('current');
  });

  it('lets the default policy decide for a pod the files do not describe, and says so', async () => {
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir({ pod: 'demo/db-0', defaultPolicy: 'all-authenticated' });
    expect(policy.status()).toMatchObject({ state: 'current', detail: expect.stringMatching(/pod demo\/db-0 is not among them, so default policy all-authenticated decides/) });
    expect(decide(policy, OTHER)).toMatchObject({ decision: 'allow', server: { kind: 'default', name: 'all-authenticated' } });
    expect(decide(policy)).toMatchObject({ decision: 'deny', server: { kind: 'default', name: 'all-authenticated' } });
  });

  it('follows a single file replaced by rename, as editors and ConfigMap updates do', async () => {
    const file = join(dir, 'api.yaml');
    await writeFile(file, apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir({ paths: [file] });
    await writeFile(join(dir, '.api.yaml.tmp'), apiPolicyYaml({ appPort: PORT, admit: [OTHER] }));
    await rename(join(dir, '.api.yaml.tmp'), file);
    await until('the replaced file applies', () => decide(policy, OTHER).decision === 'allow');
    expect(decide(policy, WEB).decision).toBe('deny');
  });

  it('stops watching when closed', async () => {
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT }));
    const policy = await watchDir({ pollIntervalMs: 20 });
    await policy.close();
    await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: PORT, admit: [OTHER] }));
    await new Promise((r) => setTimeout(r, 300));
    expect(policy.status().generation).toBe(1);
    expect(logs.events('policy.applied')).toHaveLength(1);
  });
});
