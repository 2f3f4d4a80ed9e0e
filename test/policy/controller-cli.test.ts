import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { runCli, startCli } from '../support/cli.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { writeKubeConfig } from '../support/kubeconfig.ts';
import { authorizationPolicyObject, createInboundPolicyClient, podObject, PortWatchReader, serverObject } from '../support/kube-policy.ts';

/** `identity policy-controller` as a real process, against the test API server. */

let api: KubeApiServer;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  api = await KubeApiServer.start();
  dir = await mkdtemp(join(tmpdir(), 'policy-controller-'));
  kubeconfig = await writeKubeConfig(api, dir);
  api.putPod('demo', podObject('api-0', { labels: { app: 'api' } }));
  api.putPolicy('servers', 'demo', serverObject('api', { matchLabels: { app: 'api' }, port: 'http' }));
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe('identity policy-controller', () => {
  it('serves: logs the bound addresses, becomes ready, answers and watches, exports metrics, stops on SIGTERM', async () => {
    const cli = startCli(['policy-controller', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--default-policy', 'deny']);
    try {
      const output = await cli.waitFor(/"event":"serving"/);
      const serving = JSON.parse(output.split('\n').find((l) => l.includes('"event":"serving"'))!) as { listen: string; admin: string; tls: boolean };
      expect(serving.listen).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(serving.tls).toBe(false);
      await cli.waitFor(/"event":"controller.ready"/);
      const ready = await get(`http://${serving.admin}/ready`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toMatchObject({ ready: true, detail: { reachable: true, pods: 1 } });
      expect((await get(`http://${serving.admin}/live`)).status).toBe(200);

      const client = createInboundPolicyClient(serving.listen);
      const answer = await client.getPort({ workload: 'demo:api-0', port: 8080 });
      expect(answer.labels).toMatchObject({ kind: 'server', name: 'api' });
      const byDefault = await client.getPort({ workload: 'demo:api-0', port: 9999 });
      expect(byDefault.labels).toMatchObject({ kind: 'default', name: 'deny' });

      const watch = new PortWatchReader(client, 'demo/api-0', 8080, defaultEvaluatorConfig());
      expect((await watch.next()).authorizations).toEqual([]);
      api.putPolicy('authorizationpolicies', 'demo', authorizationPolicyObject('open', 'api', []));
      expect((await watch.next(2_000)).authorizations.map((a) => (a.ref.kind === 'default' ? '' : a.ref.name))).toEqual(['open']);
      watch.cancel();
      client.close();

      const metrics = await get(`http://${serving.admin}/metrics`);
      expect(metrics.text).toMatch(/^policy_controller_ready 1$/m);
      expect(metrics.text).toMatch(/^policy_controller_objects\{resource="pods"\} 1$/m);
      expect(metrics.text).toMatch(/^policy_api_updates_total \d+$/m);
      expect(metrics.text).toMatch(/^process_resident_memory_bytes /m);
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });

  it('exits with usage (64) for bad flags and no-input (66) for a missing kubeconfig', async () => {
    const bad = await runCli(['policy-controller', '--kubeconfig', kubeconfig, '--cluster-networks', '10.0.0.0/8,not-a-cidr']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--cluster-networks');
    const missing = await runCli(['policy-controller', '--kubeconfig', join(dir, 'nope')]);
    expect(missing.code).toBe(66);
    const context = await runCli(['policy-controller', '--kubeconfig', kubeconfig, '--context', 'elsewhere']);
    expect(context.code).toBe(64);
  });
});
