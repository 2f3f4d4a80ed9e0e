import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../common/errors.ts';
import { runCli } from '../support/cli.ts';
import { FIXTURES, sa } from './support.ts';

const evalArgs = (fixture: string, ...rest: string[]) => ['policy', 'eval', '--resources', join(FIXTURES, fixture), ...rest];

describe('identity policy eval', () => {
  it('-o json prints exactly one object: decision, server, authorization, reason', async () => {
    const r = await runCli(evalArgs('authorization-policy.yaml', '--pod', 'demo/api-0', '--port', '8080', '--client-identity', sa('web', 'demo'), '--client-ip', '10.1.2.3', '-o', 'json'));
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['decision', 'server', 'authorization', 'reason']);
    expect(out).toEqual({
      decision: 'allow',
      server: 'demo/api-http',
      authorization: 'AuthorizationPolicy/demo/http-from-web',
      reason: `AuthorizationPolicy demo/http-from-web admits ${sa('web', 'demo')} from 10.1.2.3 to Server demo/api-http`,
    });
    // Notes about the resources go to standard error, never into the JSON.
    expect(r.stderr).toContain('note: AuthorizationPolicy demo/legacy-from-missing is void');
  });

  it('text prints one readable line; several --resources; --default-policy and --cluster-networks apply', async () => {
    const r = await runCli([
      'policy', 'eval',
      '--resources', join(FIXTURES, 'dir', 'servers.yaml'), join(FIXTURES, 'dir', 'nested'),
      '--pod', 'demo/web-0', '--port', '9000', '--client-ip', '192.0.2.10',
      '--default-policy', 'cluster-unauthenticated', '--cluster-networks', '192.0.2.0/24,fd00::/8',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'allow (server -, authorization default/cluster-unauthenticated): no Server selects port 9000 of pod demo/web-0; default policy cluster-unauthenticated (cluster default) admits unauthenticated client 192.0.2.10\n',
    );
  });

  it('a denied connection is an answer, not an error: exit 0, authorization null', async () => {
    const r = await runCli(evalArgs('access-policy.yaml', '--pod', 'demo/api-0', '--port', '8081', '--client-ip', '10.1.2.3', '-o', 'json'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'deny', server: 'demo/bare', authorization: null });
  });

  it('validation errors exit non-zero with every message, and print no decision', async () => {
    const r = await runCli(evalArgs('invalid', '--pod', 'demo/api-0', '--port', '80', '--client-ip', '10.1.2.3', '-o', 'json'));
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: invalid policy resources (24 problems):');
    expect(r.stderr).toContain('invalid/policy.yaml (document 2): Server demo/api: spec.port: must be a port number 1-65535 or a port name (got 0)');
    expect(r.stderr).toContain('invalid/more.yaml (document 3): MeshTLSAuthentication demo/bad-ids: spec.identities[0]');
  });

  it('bad flags are usage errors; an unknown pod is not found', async () => {
    const badIp = await runCli(evalArgs('access-policy.yaml', '--pod', 'demo/api-0', '--port', '80', '--client-ip', '10.1.2'));
    expect(badIp.code).toBe(ExitCode.USAGE);
    expect(badIp.stderr).toContain('--client-ip "10.1.2" is not an IP address');
    const badPolicy = await runCli(evalArgs('access-policy.yaml', '--pod', 'demo/api-0', '--port', '80', '--client-ip', '10.1.2.3', '--default-policy', 'open'));
    expect(badPolicy.code).toBe(ExitCode.USAGE);
    const noPod = await runCli(evalArgs('access-policy.yaml', '--pod', 'demo/nope', '--port', '80', '--client-ip', '10.1.2.3'));
    expect(noPod.code).toBe(ExitCode.NO_INPUT);
    expect(noPod.stderr).toContain('pod demo/nope is not among the policy resources');
  });
});
