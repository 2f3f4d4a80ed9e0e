import { describe, expect, it } from 'vitest';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { resourcesFromObjects } from '../../policy/resources/load.ts';
import { decide, IN_CLUSTER, indexOf, OUTSIDE, sa } from './support.ts';

const WEB = sa('web', 'demo');
const OTHER = sa('intruder', 'demo');

describe('named ports', () => {
  it('a named port selects every TCP container port of that name, across containers', async () => {
    const index = await indexOf('named-ports.yaml');
    for (const port of [8080, 8081]) {
      const d = decide(index, 'demo/web-0', port, WEB);
      expect(d, `port ${port}`).toMatchObject({ decision: 'deny', server: 'demo/web-http', authorization: null });
    }
  });

  it('a UDP container port of that name is not selected', async () => {
    const index = await indexOf('named-ports.yaml');
    expect(decide(index, 'demo/web-0', 5353, WEB)).toMatchObject({ decision: 'allow', server: null, authorization: 'default/all-unauthenticated' });
  });

  it('a pod without the named port keeps the default policy on that port', async () => {
    const index = await indexOf('named-ports.yaml');
    const d = decide(index, 'demo/web-nohttp', 8080, undefined);
    expect(d).toMatchObject({ decision: 'allow', server: null });
    expect(d.reason).toContain('no Server selects port 8080 of pod demo/web-nohttp');
  });

  it('a numeric port applies even when no container declares it', async () => {
    const index = await indexOf('named-ports.yaml');
    expect(decide(index, 'demo/web-0', 7000, WEB)).toMatchObject({ decision: 'deny', server: 'demo/web-undeclared' });
    expect(decide(index, 'demo/web-nohttp', 7000, WEB)).toMatchObject({ decision: 'deny', server: 'demo/web-undeclared' });
  });
});

describe('two Servers on one pod port', () => {
  it('the oldest Server wins (matchExpressions selector, v1beta2), and the conflict is reported', async () => {
    const index = await indexOf('two-servers.yaml');
    const d = decide(index, 'demo/api-0', 8080, WEB);
    expect(d).toMatchObject({ decision: 'deny', server: 'demo/z-older', authorization: null });
    expect(d.reason).toContain('; conflict: Server demo/a-newer also selects this port, ignored (Server demo/z-older applies: oldest first, then by name)');
    expect(index.conflicts).toContainEqual({ pod: 'demo/api-0', port: 8080, server: 'demo/z-older', ignored: ['demo/a-newer'] });
  });

  it('without creation times, the first by name wins', async () => {
    const index = await indexOf('two-servers.yaml');
    expect(decide(index, 'demo/api-0', 9990, WEB)).toMatchObject({ decision: 'audit', server: 'demo/admin-x', authorization: 'default/audit' });
    expect(index.conflicts).toContainEqual({ pod: 'demo/api-0', port: 9990, server: 'demo/admin-x', ignored: ['demo/admin-y'] });
    expect(index.conflicts).toHaveLength(2);
  });
});

describe('a Server without any authorization', () => {
  it('denies everyone: accessPolicy deny is the default', async () => {
    const index = await indexOf('access-policy.yaml');
    const d = decide(index, 'demo/api-0', 8081, WEB);
    expect(d).toMatchObject({ decision: 'deny', server: 'demo/bare', authorization: null });
    expect(d.reason).toBe(`no authorization for Server demo/bare admits ${WEB} from ${IN_CLUSTER} (the Server has no authorizations); accessPolicy deny`);
    expect(decide(index, 'demo/api-0', 8081, undefined).decision).toBe('deny');
  });
});

describe('audit accessPolicy', () => {
  it('real authorizations first: an admitted client is reported as allowed by its policy', async () => {
    const index = await indexOf('access-policy.yaml');
    expect(decide(index, 'demo/api-0', 8080, WEB)).toMatchObject({ decision: 'allow', server: 'demo/audited', authorization: 'AuthorizationPolicy/demo/audited-from-web' });
  });

  it('then audit: anyone else is admitted as `audit`, with authorization default/audit', async () => {
    const index = await indexOf('access-policy.yaml');
    for (const [identity, ip] of [[OTHER, IN_CLUSTER], [undefined, OUTSIDE]] as const) {
      const d = decide(index, 'demo/api-0', 8080, identity, ip);
      expect(d).toMatchObject({ decision: 'audit', server: 'demo/audited', authorization: 'default/audit' });
      expect(d.reason).toContain('accessPolicy audit admits it in audit mode and records that it would have been denied');
      expect(d.reason).toContain(`AuthorizationPolicy demo/audited-from-web needs identity ${WEB}`);
    }
  });
});

describe('other accessPolicy values', () => {
  it('cluster-authenticated admits meshed clients from the cluster networks only', async () => {
    const index = await indexOf('access-policy.yaml');
    expect(decide(index, 'demo/api-0', 8082, OTHER)).toMatchObject({ decision: 'allow', authorization: 'default/cluster-authenticated' });
    const plain = decide(index, 'demo/api-0', 8082, undefined);
    expect(plain.decision).toBe('deny');
    expect(plain.reason).toContain('accessPolicy cluster-authenticated does not admit it either (needs a mesh identity)');
    expect(decide(index, 'demo/api-0', 8082, OTHER, OUTSIDE).decision).toBe('deny');
  });

  it('all-unauthenticated admits everyone', async () => {
    const index = await indexOf('access-policy.yaml');
    expect(decide(index, 'demo/api-0', 8083, undefined, OUTSIDE)).toMatchObject({ decision: 'allow', server: 'demo/open', authorization: 'default/all-unauthenticated' });
  });
});

describe('Servers that select no pod', () => {
  it('an externalWorkloadSelector Server never applies to pods; the default policy does', () => {
    const { resources } = resourcesFromObjects([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'vm-0', namespace: 'demo', labels: { app: 'vm' } }, spec: { containers: [{ name: 'app' }] } },
      {
        apiVersion: 'policy.linkerd.io/v1beta2',
        kind: 'Server',
        metadata: { name: 'vm', namespace: 'demo' },
        spec: { externalWorkloadSelector: { matchLabels: { app: 'vm' } }, port: 8080 },
      },
    ]);
    const index = PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' }));
    expect(decide(index, 'demo/vm-0', 8080, WEB)).toMatchObject({ decision: 'deny', server: null });
  });
});
