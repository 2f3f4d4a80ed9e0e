/**
 * Acceptance, the whole local mesh as `npm start -- --once` runs it: `identity mesh --once` creates
 * a home, starts the identity service, the sample api and web applications and their two proxies
 * as real processes, sends one request web -> api, prints the account and exits 0 when the request
 * went over mutual TLS with both identities verified. Ephemeral ports, a temporary home; and no
 * process of this run may be left behind.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endMarkedRun, markedRunDir, processesMarked, runMeshOnce } from './support/mesh-once.ts';
import { API, WEB } from './support/process-mesh.ts';

let dir: string;
/** Set in the environment of the mesh command, and so inherited by every process it starts. */
let marker: string;

beforeAll(async () => {
  ({ dir, marker } = await markedRunDir('acceptance-mesh-', 'ACCEPTANCE_MESH_RUN'));
});

// Whatever the outcome, nothing started for this home survives the test.
afterAll(() => endMarkedRun(dir, marker));

describe('acceptance: npm start -- --once', () => {
  it('exits 0 after web -> api answered over mutual TLS, with both identities verified, and leaves no process behind', async () => {
    const home = join(dir, 'home');
    const result = await runMeshOnce(home, marker);
    const context = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    expect(result.code, context).toBe(0);
    expect(result.stdout).toContain(`created a trust anchor and an issuer in ${home}`);
    expect(result.stdout).toContain('web -> api: answered over mutual TLS');
    expect(result.stdout).toMatch(new RegExp(`api's proxy verified the client as ${WEB.replace(/\./g, '\\.')} \\([1-9]\\d* connection\\(s\\)\\)`));
    expect(result.stdout).toMatch(new RegExp(`web's proxy verified the server as ${API.replace(/\./g, '\\.')} \\([1-9]\\d* connection\\(s\\)\\)`));
    expect(result.stdout).toMatch(new RegExp(`workload web\\s+${WEB.replace(/\./g, '\\.')}`));
    expect(result.stdout).toMatch(new RegExp(`workload api\\s+${API.replace(/\./g, '\\.')}`));
    // api's policy (written by the mesh, enforced by api's proxy) admits web only: a third meshed
    // client with its own identity, on the same 127.0.0.1, is refused and the account says why.
    expect(result.stdout).toMatch(/api's policy admitted it: AuthorizationPolicy demo\/api-from-web \([1-9]\d* connection\(s\)\)/);
    expect(result.stdout).toContain('intruder -> api: refused by policy');
    expect(result.stdout).toMatch(/api's proxy denied intruder\.demo\.serviceaccount\.identity\.linkerd\.cluster\.local \([1-9]\d* connection\(s\)\)/);
    expect(result.stdout).toContain('reason: no authorization for Server demo/api admits intruder.demo.serviceaccount.identity.linkerd.cluster.local from 127.0.0.1');
    expect(result.stdout).toMatch(/decision id [0-9a-f-]{36}/);
    const policy = await readFile(join(home, 'mesh', 'policy', 'api-policy.yaml'), 'utf8');
    expect(policy).toContain('kind: AuthorizationPolicy');
    // When it stops, the mesh leaves a compliance report built from its proxies' decision logs.
    expect(result.stdout).toMatch(new RegExp(`compliance report: ${join(home, 'mesh', 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(controls: \\d+ pass, 0 fail`));
    const report = await readFile(join(home, 'mesh', 'report.html'), 'utf8');
    expect(report).toContain('<svg');
    expect(report).toContain('intruder.demo.serviceaccount.identity.linkerd.cluster.local');
    expect(result.stdout).not.toContain('FAILED');
    expect(await processesMarked(marker)).toEqual([]);
  }, 180_000);
});
