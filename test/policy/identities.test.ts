import { describe, expect, it } from 'vitest';
import { compileIdentities, identityMatches, normalizeIdentity } from '../../policy/evaluator/identity.ts';
import { decide, indexOf, sa } from './support.ts';

const POD = 'demo/svc-0';

describe('identity wildcards', () => {
  it('exact, and without regard to case or a trailing dot (DNS form)', async () => {
    const index = await indexOf('identities.yaml');
    expect(decide(index, POD, 8001, sa('exact', 'demo'))).toMatchObject({ decision: 'allow', authorization: 'AuthorizationPolicy/demo/patterns' });
    expect(decide(index, POD, 8001, 'EXACT.Demo.serviceaccount.identity.linkerd.cluster.local.').decision).toBe('allow');
    expect(decide(index, POD, 8001, sa('exact2', 'demo')).decision).toBe('deny');
  });

  it('*.suffix matches on a label boundary, at any depth, and never the bare suffix', async () => {
    const index = await indexOf('identities.yaml');
    const cases: [string, 'allow' | 'deny'][] = [
      [sa('shop', 'frontend'), 'allow'],
      ['a.b.frontend.serviceaccount.identity.linkerd.cluster.local', 'allow'],
      ['frontend.serviceaccount.identity.linkerd.cluster.local', 'deny'],
      ['notfrontend.serviceaccount.identity.linkerd.cluster.local', 'deny'],
      [sa('shop', 'notfrontend'), 'deny'],
      ['shop.frontend.serviceaccount.identity.linkerd.cluster.local.evil.example', 'deny'],
    ];
    for (const [identity, expected] of cases) expect(decide(index, POD, 8001, identity).decision, identity).toBe(expected);
  });

  it('SPIFFE IDs match exactly only: no suffix, no case folding', async () => {
    const index = await indexOf('identities.yaml');
    expect(decide(index, POD, 8001, 'spiffe://cluster.local/ns/edge/sa/gateway').decision).toBe('allow');
    expect(decide(index, POD, 8001, 'spiffe://cluster.local/ns/edge/sa/GATEWAY').decision).toBe('deny');
    expect(decide(index, POD, 8001, 'spiffe://cluster.local/ns/edge/sa/gateway2').decision).toBe('deny');
    expect(decide(index, POD, 8001, 'spiffe://shop.frontend.serviceaccount.identity.linkerd.cluster.local').decision).toBe('deny');
  });

  it('* admits any verified identity, SPIFFE included, and no plaintext client', async () => {
    const index = await indexOf('identities.yaml');
    expect(decide(index, POD, 8002, 'anything.example.org').decision).toBe('allow');
    expect(decide(index, POD, 8002, 'spiffe://other.domain/workload').decision).toBe('allow');
    expect(decide(index, POD, 8002, undefined).decision).toBe('deny');
  });

  it('compiled matchers, directly', () => {
    const m = compileIdentities(['*.b.c', 'x.y', 'spiffe://td/A']);
    expect(identityMatches(m, 'a.b.c')).toBe(true);
    expect(identityMatches(m, 'b.c')).toBe(false);
    expect(identityMatches(m, 'ab.c')).toBe(false);
    expect(identityMatches(m, 'x.y')).toBe(true);
    expect(identityMatches(m, normalizeIdentity('X.Y.'))).toBe(true);
    expect(identityMatches(m, normalizeIdentity('spiffe://td/A'))).toBe(true);
    expect(identityMatches(m, normalizeIdentity('spiffe://td/a'))).toBe(false);
    expect(m.text).toBe('*.b.c or x.y or spiffe://td/A');
  });
});

describe('ServiceAccount refs', () => {
  it('a Namespace identityRef admits every ServiceAccount of that namespace; a ServiceAccount one, exactly that', async () => {
    const index = await indexOf('identities.yaml');
    expect(decide(index, POD, 8003, sa('api', 'frontend')).decision).toBe('allow');
    expect(decide(index, POD, 8003, sa('batch', 'jobs')).decision).toBe('allow');
    expect(decide(index, POD, 8003, sa('other', 'jobs')).decision).toBe('deny');
    expect(decide(index, POD, 8003, 'frontend.serviceaccount.identity.linkerd.cluster.local').decision).toBe('deny');
  });

  it('a Namespace identityRef named * admits every ServiceAccount of the trust domain, and nothing else', async () => {
    const index = await indexOf('identities.yaml');
    expect(decide(index, POD, 8004, sa('web', 'demo')).decision).toBe('allow');
    expect(decide(index, POD, 8004, 'web.demo.serviceaccount.identity.linkerd.other.domain').decision).toBe('deny');
    expect(decide(index, POD, 8004, 'spiffe://cluster.local/ns/demo/sa/web').decision).toBe('deny');
  });

  it('stand for SA.NS.serviceaccount.identity.CP-NS.TRUST-DOMAIN, with the configured domain', async () => {
    const index = await indexOf('authorization-policy.yaml', { domain: { trustDomain: 'example.org', controlPlaneNamespace: 'mesh' } });
    expect(decide(index, 'demo/api-0', 8080, 'web.demo.serviceaccount.identity.mesh.example.org').decision).toBe('allow');
    expect(decide(index, 'demo/api-0', 8080, sa('web', 'demo')).decision).toBe('deny');
    const legacy = await indexOf('server-authorization.yaml', { domain: { trustDomain: 'example.org', controlPlaneNamespace: 'mesh' } });
    expect(decide(legacy, 'demo/api-0', 9990, 'prometheus.monitoring.serviceaccount.identity.mesh.example.org').decision).toBe('allow');
  });
});
