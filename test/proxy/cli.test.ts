/**
 * `identity proxy` as a real process: configured by a YAML file plus flags, certified by an
 * in-process identity service, serving its admin endpoints, and stopping cleanly on SIGTERM.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.ts';
import { idOf, startMesh, type Mesh } from './support/mesh.ts';

let mesh: Mesh;
let configFile: string;

beforeAll(async () => {
  mesh = await startMesh();
  const tokenFile = join(mesh.home.home, 'web.token');
  await writeFile(tokenFile, await mesh.home.token({ namespace: 'demo', name: 'web' }));
  configFile = join(mesh.home.home, 'proxy.yaml');
  await writeFile(
    configFile,
    [
      'identity:',
      `  localName: ${idOf('web')}`,
      `  tokenFile: ${tokenFile}`,
      `  trustBundleFile: ${join(mesh.home.home, 'bundle.crt')}`,
      `  serviceAddress: 127.0.0.1:${mesh.service.port}`,
      'inbound:',
      '  listen: 127.0.0.1:0',
      '  app: 127.0.0.1:9',
      'admin:',
      '  listen: 127.0.0.1:0',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await mesh?.close();
});

describe('identity proxy', () => {
  it('starts from --config, becomes ready, serves /identity, and stops on SIGTERM', async () => {
    const proxy = startCli(['proxy', '--config', configFile, '--outbound', `127.0.0.1:0,127.0.0.1:4143,${idOf('api')}`]);
    try {
      const output = await proxy.waitFor(/"event":"proxy\.ready"/);
      const started = JSON.parse(output.split('\n').find((l) => l.includes('"proxy.started"'))!) as { ports: { admin: number; outbound: number[] } };
      expect(started.ports.outbound).toHaveLength(1);
      const admin = `http://127.0.0.1:${started.ports.admin}`;
      expect((await fetch(`${admin}/ready`)).status).toBe(200);
      const identity = (await (await fetch(`${admin}/identity`)).json()) as { identity: string; serial: string };
      expect(identity.identity).toBe(idOf('web'));
      expect(identity.serial).toMatch(/^[0-9a-f]+$/);
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });

  it('refuses a bad configuration with exit code 78, naming the field', async () => {
    const result = await runCli(['proxy', '--config', configFile, '--app', 'not-an-address']);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('--app: expected host:port');
  });
});
