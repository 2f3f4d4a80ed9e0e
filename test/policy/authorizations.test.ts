import { describe, expect, it } from 'vitest';
import { decide, IN_CLUSTER, indexOf, OUTSIDE, sa } from './support.ts';

const WEB = sa('web', 'demo');
const POD = 'demo/api-0';

describe('ServerAuthorization', () => {
  it('by Server name: admits its identities, from the cluster networks only when networks are unset', async () => {
    const index = await indexOf('server-authorization.yaml');
    expect(decide(index, POD, 8080, WEB)).toMatchObject({ decision: 'allow', server: 'demo/api-http', authorization: 'ServerAuthorization/demo/api-from-web' });
    const outside = decide(index, POD, 8080, WEB, OUTSIDE);
    expect(outside.decision).toBe('deny');
    expect(outside.reason).toContain('ServerAuthorization demo/api-from-web needs an address in the cluster networks');
    expect(decide(index, POD, 8080, sa('other', 'demo')).decision).toBe('deny');
  });

  it('by Server selector, with ServiceAccounts (namespace defaults to the authorization\'s own)', async () => {
    const index = await indexOf('server-authorization.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-admin', authorization: 'ServerAuthorization/demo/ops-admin' };
    expect(decide(index, POD, 9990, sa('prometheus', 'monitoring'))).toMatchObject(admitted);
    expect(decide(index, POD, 9990, sa('operator', 'demo'))).toMatchObject(admitted);
    expect(decide(index, POD, 9990, sa('operator', 'monitoring')).decision).toBe('deny');
    // The selector matches Server labels: api-http has none, so ops-admin does not reach it.
    expect(decide(index, POD, 8080, sa('prometheus', 'monitoring')).decision).toBe('deny');
  });

  it('unauthenticated: admits plaintext and meshed clients from its networks', async () => {
    const index = await indexOf('server-authorization.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-health', authorization: 'ServerAuthorization/demo/health-probes' };
    expect(decide(index, POD, 8081, undefined, '10.200.0.1')).toMatchObject(admitted);
    expect(decide(index, POD, 8081, WEB, '10.200.0.1')).toMatchObject(admitted);
    expect(decide(index, POD, 8081, undefined, OUTSIDE).decision).toBe('deny');
  });

  it('meshTLS.unauthenticatedTLS: any TLS client, never a plaintext one', async () => {
    const index = await indexOf('server-authorization.yaml');
    expect(decide(index, POD, 8443, sa('anyone', 'anywhere'))).toMatchObject({ decision: 'allow', authorization: 'ServerAuthorization/demo/any-tls' });
    expect(decide(index, POD, 8443, undefined).decision).toBe('deny');
  });
});

describe('AuthorizationPolicy', () => {
  it('targeting a Server, with a ServiceAccount reference: that identity, from anywhere', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-http', authorization: 'AuthorizationPolicy/demo/http-from-web' };
    expect(decide(index, POD, 8080, WEB, OUTSIDE)).toMatchObject(admitted);
    expect(decide(index, POD, 8080, WEB, '2001:db8::1')).toMatchObject(admitted);
    const other = decide(index, POD, 8080, sa('api', 'demo'));
    expect(other).toMatchObject({ decision: 'deny', server: 'demo/api-http', authorization: null });
    expect(other.reason).toBe(
      `no authorization for Server demo/api-http admits ${sa('api', 'demo')} from ${IN_CLUSTER} (checked: AuthorizationPolicy demo/http-from-web needs identity ${WEB}); accessPolicy deny`,
    );
  });

  it('MeshTLSAuthentication identities, referenced in another namespace', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-grpc', authorization: 'AuthorizationPolicy/demo/grpc-from-frontends' };
    expect(decide(index, POD, 9090, sa('shop', 'frontend'))).toMatchObject(admitted);
    expect(decide(index, POD, 9090, 'spiffe://cluster.local/ns/edge/sa/gateway')).toMatchObject(admitted);
    expect(decide(index, POD, 9090, WEB).decision).toBe('deny');
  });

  it('MeshTLSAuthentication identityRefs: a ServiceAccount and a Namespace', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-admin', authorization: 'AuthorizationPolicy/demo/admin-from-ops-net' };
    expect(decide(index, POD, 9990, sa('operator', 'demo'), '10.20.1.1')).toMatchObject(admitted);
    expect(decide(index, POD, 9990, sa('anything', 'monitoring'), '10.20.1.1')).toMatchObject(admitted);
    expect(decide(index, POD, 9990, WEB, '10.20.1.1').decision).toBe('deny');
  });

  it('identity AND network: the right identity from the wrong address is refused', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const op = sa('operator', 'demo');
    expect(decide(index, POD, 9990, op, IN_CLUSTER).decision).toBe('deny');
    expect(decide(index, POD, 9990, op, '10.20.99.5').decision).toBe('deny'); // except 10.20.99.0/24
    expect(decide(index, POD, 9990, op, '10.20.7.7').decision).toBe('deny'); // except a single address
    expect(decide(index, POD, 9990, op, '10.20.7.8').decision).toBe('allow');
    expect(decide(index, POD, 9990, op, 'fd00:20:1::1').decision).toBe('allow');
    expect(decide(index, POD, 9990, op, 'fd00:20:0:99::1').decision).toBe('deny'); // except fd00:20:0:99::/64
    expect(decide(index, POD, 9990, undefined, '10.20.7.8').decision).toBe('deny');
  });

  it('NetworkAuthentication alone: any client, plaintext included, from its networks', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const admitted = { decision: 'allow', server: 'demo/api-metrics', authorization: 'AuthorizationPolicy/demo/metrics-from-scrapers' };
    expect(decide(index, POD, 4191, undefined, '192.168.50.7')).toMatchObject(admitted);
    expect(decide(index, POD, 4191, WEB, '192.168.50.7')).toMatchObject(admitted);
    const d = decide(index, POD, 4191, undefined, '192.168.51.7');
    expect(d.decision).toBe('deny');
    expect(d.reason).toContain('AuthorizationPolicy demo/metrics-from-scrapers needs an address in 192.168.50.0/24');
  });

  it('an empty requiredAuthenticationRefs admits everyone, plaintext included, from anywhere', async () => {
    const index = await indexOf('authorization-policy.yaml');
    for (const [identity, ip] of [[undefined, OUTSIDE], [undefined, '2001:db8::7'], [WEB, IN_CLUSTER]] as const) {
      expect(decide(index, POD, 8443, identity, ip)).toMatchObject({ decision: 'allow', authorization: 'AuthorizationPolicy/demo/public-open' });
    }
  });

  it('a reference to a missing MeshTLSAuthentication voids the policy: it grants nothing, and the deny says so', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const d = decide(index, POD, 7070, WEB);
    expect(d).toMatchObject({ decision: 'deny', server: 'demo/api-legacy', authorization: null });
    expect(d.reason).toContain('; void: AuthorizationPolicy demo/legacy-from-missing (MeshTLSAuthentication demo/nobody does not exist)');
    expect(index.notes).toContain('AuthorizationPolicy demo/legacy-from-missing is void: MeshTLSAuthentication demo/nobody does not exist; it grants nothing');
  });

  it('targeting an HTTPRoute: accepted, noted, and not enforced at the TCP level', async () => {
    const index = await indexOf('authorization-policy.yaml');
    expect(index.notes.some((n) => n.startsWith('AuthorizationPolicy demo/route-only targets HTTPRoute demo/api-route: route-level authorization is not enforced'))).toBe(true);
  });

  it('a ServiceAccount that is not among the resources is noted, and still admitted', async () => {
    const index = await indexOf('authorization-policy.yaml');
    expect(index.notes).toContain('MeshTLSAuthentication demo/ops refers to ServiceAccount demo/operator, which is not among the resources (its identity is still admitted)');
  });
});

describe('AuthorizationPolicy targeting a Namespace', () => {
  it('covers every Server of that namespace', async () => {
    const index = await indexOf('namespace-target.yaml');
    expect(decide(index, 'demo/app-0', 8080, WEB)).toMatchObject({ decision: 'allow', server: 'demo/http', authorization: 'AuthorizationPolicy/demo/meshed-only' });
    expect(decide(index, 'demo/app-0', 9090, sa('x', 'elsewhere'))).toMatchObject({ decision: 'allow', server: 'demo/grpc', authorization: 'AuthorizationPolicy/demo/meshed-only' });
    expect(decide(index, 'demo/app-0', 9090, undefined).decision).toBe('deny');
  });

  it('does not cover Servers of another namespace', async () => {
    const index = await indexOf('namespace-target.yaml');
    expect(decide(index, 'other/app-0', 8080, WEB)).toMatchObject({ decision: 'deny', server: 'other/http' });
  });

  it('leaves ports without a Server to the default policy', async () => {
    const index = await indexOf('namespace-target.yaml', { defaultPolicy: 'all-unauthenticated' });
    expect(decide(index, 'demo/app-0', 7000, undefined, OUTSIDE)).toMatchObject({ decision: 'allow', server: null, authorization: 'default/all-unauthenticated' });
  });
});

describe('authorizations combine as a union', () => {
  it('one admitting authorization is enough, whichever kind it is', async () => {
    const index = await indexOf('namespace-target.yaml');
    expect(decide(index, 'demo/app-0', 8080, WEB, OUTSIDE)).toMatchObject({ decision: 'allow', authorization: 'AuthorizationPolicy/demo/meshed-only' });
    expect(decide(index, 'demo/app-0', 8080, undefined, '192.168.3.4')).toMatchObject({ decision: 'allow', authorization: 'ServerAuthorization/demo/http-from-lan' });
    const d = decide(index, 'demo/app-0', 8080, undefined, IN_CLUSTER);
    expect(d.decision).toBe('deny');
    expect(d.reason).toContain('(checked: AuthorizationPolicy demo/meshed-only needs a mesh identity, ServerAuthorization demo/http-from-lan needs an address in 192.168.0.0/16)');
  });
});

describe('unauthenticated clients', () => {
  it('a plaintext client has no identity: only rules that need none can admit it', async () => {
    const index = await indexOf('authorization-policy.yaml');
    const d = decide(index, POD, 9090, undefined);
    expect(d.decision).toBe('deny');
    expect(d.reason).toContain('admits unauthenticated client 10.1.2.3');
    expect(d.reason).toContain('needs identity *.frontend.serviceaccount.identity.linkerd.cluster.local or spiffe://cluster.local/ns/edge/sa/gateway');
    expect(decide(index, POD, 4191, undefined, '192.168.50.1').decision).toBe('allow');
  });

  it('an empty clientIdentity is a plaintext client', async () => {
    const index = await indexOf('authorization-policy.yaml');
    expect(index.evaluate({ pod: POD, port: 8080, clientIdentity: '', clientIp: IN_CLUSTER }).reason).toContain('unauthenticated client');
  });
});
