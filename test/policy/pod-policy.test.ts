import { describe, expect, it } from 'vitest';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { defaultDecider, indexDecider, LivePodPolicy, toLiveDecision } from '../../policy/live/pod-policy.ts';
import { resourcesFromObjects } from '../../policy/resources/load.ts';

const config = defaultEvaluatorConfig();
const WEB = 'web.demo.serviceaccount.identity.linkerd.cluster.local';

const objects = [
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', namespace: 'demo', labels: { app: 'api' } }, spec: { containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }] }] } },
  { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'api', namespace: 'demo' }, spec: { podSelector: { matchLabels: { app: 'api' } }, port: 'http' } },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'api-from-web', namespace: 'demo' },
    spec: { targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'api' }, requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: 'web' }] },
  },
];

function index() {
  const { resources } = resourcesFromObjects(objects);
  return PolicyIndex.build(resources, config);
}

describe('LivePodPolicy', () => {
  it('decides with the fallback (the default policy) until a policy is applied, then with the policy', () => {
    let now = 1_000;
    const live = new LivePodPolicy({ source: 'test', fallback: defaultDecider('deny', config, 'demo/api-0'), fallbackDetail: 'waiting', now: () => now });
    const facts = { clientIdentity: WEB, clientIp: '10.0.0.1', targetPort: 8080 };
    const before = live.decide(facts);
    expect(before.decision).toBe('deny');
    expect(before.server).toEqual({ kind: 'default', name: 'deny' });
    expect(live.status()).toMatchObject({ state: 'default', generation: 0, detail: 'waiting', sinceMs: 1_000 });

    const seen: string[] = [];
    live.subscribe(() => seen.push(live.status().state));
    now = 2_000;
    live.apply(indexDecider(index(), 'demo/api-0'), 'v1');
    const after = live.decide(facts);
    expect(after).toMatchObject({ decision: 'allow', server: { kind: 'server', name: 'demo/api' }, authorization: { kind: 'authorizationpolicy', name: 'demo/api-from-web' } });
    expect(live.status()).toMatchObject({ state: 'current', generation: 1, sinceMs: 2_000 });

    now = 3_000;
    live.unreachable('source gone');
    expect(live.status()).toMatchObject({ state: 'stale', sinceMs: 3_000 });
    expect(live.status().detail).toContain('keeping the last policy received');
    // The last policy stays in force while stale.
    expect(live.decide(facts).decision).toBe('allow');
    expect(live.decide({ ...facts, clientIdentity: 'other.demo.serviceaccount.identity.linkerd.cluster.local' }).decision).toBe('deny');
    expect(seen).toEqual(['current', 'stale']);
  });

  it('stays on the default policy when the source is unreachable before the first policy', () => {
    const live = new LivePodPolicy({ source: 'test', fallback: defaultDecider('all-authenticated', config, 'demo/api-0'), fallbackDetail: 'waiting' });
    live.unreachable('cannot connect');
    expect(live.status().state).toBe('default');
    expect(live.status().detail).toContain('cannot connect');
    expect(live.decide({ clientIp: '10.0.0.1', targetPort: 1 }).decision).toBe('deny');
    expect(live.decide({ clientIdentity: WEB, clientIp: '10.0.0.1', targetPort: 1 })).toMatchObject({ decision: 'allow', authorization: { kind: 'default', name: 'all-authenticated' } });
  });

  it('denies, with the error as reason, when the decider throws', () => {
    const live = new LivePodPolicy({ source: 'test', fallback: defaultDecider('all-unauthenticated', config, 'demo/api-0'), fallbackDetail: 'waiting' });
    const d = live.decide({ clientIp: 'not-an-ip', targetPort: 80 });
    expect(d.decision).toBe('deny');
    expect(d.reason).toContain('not an IP address');
  });

  it('labels audit decisions as Linkerd does (authz default/audit)', () => {
    const d = toLiveDecision({ decision: 'audit', server: null, authorization: 'default/audit', defaultPolicy: 'audit', reason: 'r' });
    expect(d).toEqual({ decision: 'audit', server: { kind: 'default', name: 'audit' }, authorization: { kind: 'default', name: 'audit' }, reason: 'r' });
  });
});
