/**
 * `identity proxy --pod --policy-dir --default-policy` as a real process: the CLI wires the
 * watched directory into the proxy; a meshed client the policy admits gets through, a plaintext
 * client is refused and the process logs the denial; `/policy` shows the source. `--policy-addr`
 * with no controller to be found: the default policy decides. And the flags' errors exit with 78.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../../proxy/proxy.ts';
import { runCli, startCli, type RunningCli } from '../support/cli.ts';
import { idOf, startMesh, type Mesh } from './support/mesh.ts';
import { API_POD, apiPolicyYaml, tryOnce } from './support/policy.ts';
import { echo, startServer, type TestServer } from './support/sockets.ts';

const API = idOf('api');

let mesh: Mesh;
let app: TestServer;
let dir: string;
let apiCli: RunningCli;
let ports: { inbound: number; admin: number };
let web: RunningProxy;
let baseArgs: string[];

beforeAll(async () => {
  [mesh, app] = await Promise.all([startMesh(), startServer((s) => echo(s))]);
  dir = join(mesh.home.home, 'policy');
  await mkdir(dir);
  await writeFile(join(dir, 'api.yaml'), apiPolicyYaml({ appPort: app.port }));
  const tokenFile = join(mesh.home.home, 'api.token');
  await writeFile(tokenFile, await mesh.home.token({ namespace: 'demo', name: 'api' }));
  baseArgs = [
    'proxy', '--local-identity', API, '--token-file', tokenFile, '--trust-bundle', join(mesh.home.home, 'bundle.crt'),
    '--identity-addr', `127.0.0.1:${mesh.service.port}`, '--inbound-listen', '127.0.0.1:0', '--app', `127.0.0.1:${app.port}`,
    '--admin-listen', '127.0.0.1:0',
  ];
  apiCli = startCli([...baseArgs, '--pod', API_POD, '--policy-dir', dir, '--default-policy', 'deny']);
  const output = await apiCli.waitFor(/"event":"proxy\.ready"/, 60_000);
  ({ ports } = JSON.parse(output.split('\n').find((l) => l.includes('"proxy.started"'))!) as { ports: { inbound: number; admin: number } });
  web = await mesh.proxy({ sa: 'web', routes: [{ destination: { host: '127.0.0.1', port: ports.inbound }, identity: API, opaque: false }] });
  await web.ready();
}, 90_000);

afterAll(async () => {
  if (apiCli) expect(await apiCli.stop()).toBe(0);
  await mesh?.close();
  await app?.close();
});

describe('identity proxy --policy-dir', () => {
  it('enforces the directory\'s policy and logs the denial', async () => {
    expect(await tryOnce(web.ports.outbound[0]!)).toBe('allowed');
    expect(await tryOnce(ports.inbound)).toBe('ECONNRESET');
    const output = await apiCli.waitFor(/"event":"inbound\.denied"/, 10_000);
    const denied = JSON.parse(output.split('\n').find((l) => l.includes('"inbound.denied"'))!) as Record<string, unknown>;
    expect(denied).toMatchObject({ level: 'info', pod: API_POD, port: app.port, tls: false, server: { kind: 'server', name: 'demo/api' }, decisionId: expect.any(String) });

    const policy = (await (await fetch(`http://127.0.0.1:${ports.admin}/policy`)).json()) as Record<string, unknown>;
    expect(policy).toMatchObject({ source: `directory ${dir}`, state: 'current', generation: 1 });
  });

  it('--policy-addr: with the controller unreachable, the default policy decides (fail closed)', async () => {
    const closedPort = await startServer(() => {}).then(async (s) => (await s.close(), s.port));
    const cli = startCli([...baseArgs, '--pod', API_POD, '--policy-addr', `127.0.0.1:${closedPort}`, '--default-policy', 'deny']);
    try {
      const output = await cli.waitFor(/"event":"proxy\.ready"/, 60_000);
      const started = JSON.parse(output.split('\n').find((l) => l.includes('"proxy.started"'))!) as { ports: { inbound: number; admin: number } };
      const policy = (await (await fetch(`http://127.0.0.1:${started.ports.admin}/policy`)).json()) as Record<string, unknown>;
      expect(policy).toMatchObject({ source: `policy controller 127.0.0.1:${closedPort}`, state: 'default', generation: 0 });
      expect(await tryOnce(started.ports.inbound)).toBe('ECONNRESET');
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });

  const failures: [string, string[], RegExp][] = [
    ['fail/policy-dir-without-pod', ['--policy-dir', '/nonexistent'], /--pod: is required with --policy-dir/],
    ['fail/bad-default-policy', ['--default-policy', 'open'], /--default-policy: expected one of/],
  ];
  it.each(failures)('%s exits 78 naming the flag', async (_name, extra, message) => {
    const result = await runCli([...baseArgs, ...extra]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(message);
  });
});
