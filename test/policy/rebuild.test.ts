import { describe, expect, it } from 'vitest';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig, type EvaluationInput } from '../../policy/evaluator/types.ts';
import { loadResources, parseManifest } from '../../policy/resources/load.ts';
import type { AuthorizationPolicy, MeshTLSAuthentication, ResourceSet } from '../../policy/resources/types.ts';
import { FIXTURES, sa } from './support.ts';

const CASES: EvaluationInput[] = [
  { pod: 'demo/api-0', port: 8080, clientIdentity: sa('web', 'demo'), clientIp: '10.1.2.3' },
  { pod: 'demo/api-0', port: 8080, clientIdentity: sa('api', 'demo'), clientIp: '10.1.2.3' },
  { pod: 'demo/api-0', port: 9090, clientIdentity: sa('shop', 'frontend'), clientIp: '10.1.2.3' },
  { pod: 'demo/api-0', port: 9090, clientIdentity: sa('shop', 'backend'), clientIp: '10.1.2.3' },
];

function parseOne<T>(yaml: string): T {
  const parsed = parseManifest(yaml, 'edit.yaml');
  expect(parsed.problems).toEqual([]);
  return parsed.resources[0] as T;
}

describe('rebuilding the index after a change of one resource', () => {
  it('reuses unchanged namespaces and decides exactly as a full build', async () => {
    const { resources } = await loadResources([FIXTURES + 'authorization-policy.yaml']);
    const config = defaultEvaluatorConfig();
    const first = PolicyIndex.build(resources, config);
    expect(first.evaluate(CASES[1]!).decision).toBe('deny');

    const edited = parseOne<AuthorizationPolicy>(`apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: http-from-web, namespace: demo }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: api-http }
  requiredAuthenticationRefs: [{ kind: ServiceAccount, name: api }]
`);
    const next: ResourceSet = { ...resources, authorizationPolicies: resources.authorizationPolicies.map((ap) => (ap.meta.name === 'http-from-web' ? edited : ap)) };
    const incremental = PolicyIndex.build(next, config, first);
    const full = PolicyIndex.build(next, config);
    for (const input of CASES) expect(incremental.evaluate(input)).toEqual(full.evaluate(input));
    expect(incremental.evaluate(CASES[0]!).decision).toBe('deny');
    expect(incremental.evaluate(CASES[1]!).decision).toBe('allow');
    expect(incremental.notes).toEqual(full.notes);
  });

  it('an edited MeshTLSAuthentication in another namespace reaches the policies that refer to it', async () => {
    const { resources } = await loadResources([FIXTURES + 'authorization-policy.yaml']);
    const config = defaultEvaluatorConfig();
    const first = PolicyIndex.build(resources, config);
    expect(first.evaluate(CASES[3]!).decision).toBe('deny');
    const edited = parseOne<MeshTLSAuthentication>(`apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: frontends, namespace: shared }
spec:
  identities: ["*.backend.serviceaccount.identity.linkerd.cluster.local"]
`);
    const next: ResourceSet = { ...resources, meshTLSAuthentications: resources.meshTLSAuthentications.map((m) => (m.meta.name === 'frontends' ? edited : m)) };
    const incremental = PolicyIndex.build(next, config, first);
    expect(incremental.evaluate(CASES[3]!).decision).toBe('allow');
    expect(incremental.evaluate(CASES[2]!).decision).toBe('deny');
  });

  it('a different configuration rebuilds everything', async () => {
    const { resources } = await loadResources([FIXTURES + 'default-policy.yaml']);
    const open = PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'all-unauthenticated' }));
    const closed = PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' }), open);
    expect(closed.evaluate({ pod: 'plain/p0', port: 80, clientIp: '10.1.2.3' }).decision).toBe('deny');
  });
});
