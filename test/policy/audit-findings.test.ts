import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { auditResources } from '../../policy/audit/audit-resources.ts';
import type { Finding } from '../../policy/audit/finding.ts';
import { defaultEvaluatorConfig, type EvaluatorConfig } from '../../policy/evaluator/types.ts';
import { networksFromCidrs } from '../../policy/net/cidr.ts';
import { loadResources } from '../../policy/resources/load.ts';

const AUDIT = fileURLToPath(new URL('./fixtures/audit/', import.meta.url));

/** Audits one fixture; the cluster default is deny unless said, so that it adds no finding of its own. */
async function audit(fixture: string, config: Partial<EvaluatorConfig> = {}): Promise<Finding[]> {
  const { resources } = await loadResources([AUDIT + fixture]);
  return auditResources(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny', ...config }));
}

/** The findings of one code as `severity resource @document`, in the audit's order. */
function found(findings: readonly Finding[], code: string): string[] {
  return findings
    .filter((f) => f.code === code)
    .map((f) => {
      const r = f.resources[0];
      return `${f.severity} ${r?.resource ?? '-'}${r?.document !== undefined ? ` @${r.document}` : ''}`;
    });
}

function only(findings: readonly Finding[], code: string): Finding {
  const list = findings.filter((f) => f.code === code);
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe('identity audit: findings on resources', () => {
  it('port-without-server: rated by what the default policy admits', async () => {
    const findings = await audit('port-without-server.yaml', { defaultPolicy: 'all-unauthenticated' });
    // web-0:8080 has a Server; port 53 is UDP, which the proxy never sees.
    expect(found(findings, 'port-without-server')).toEqual(['high Pod/shop/web-0 @1', 'medium Pod/shop/cu-0 @3', 'low Pod/shop/aa-0 @4', 'info Pod/shop/dn-0 @5']);
    const high = findings.find((f) => f.code === 'port-without-server' && f.severity === 'high')!;
    expect(high.message).toBe('port 9100 (metrics) of Pod shop/web-0 has no Server: the default policy all-unauthenticated (cluster default) admits every client, plaintext included, from any address');
    expect(high.resources[0]!.file).toBe(`${AUDIT}port-without-server.yaml`);
    expect(high.fix).toContain('create a Server for port metrics');
    const low = findings.find((f) => f.code === 'port-without-server' && f.severity === 'low')!;
    expect(low.message).toContain('default policy all-authenticated (pod annotation)');
  });

  it('pods-not-provided: policy files alone; no Server is said to select no pod', async () => {
    const findings = await audit('no-pods.yaml');
    expect(found(findings, 'pods-not-provided')).toEqual(['info -']);
    expect(found(findings, 'server-selects-no-pod')).toEqual([]);
  });

  it('default-policy-audit: the namespace once (not its pods that copy it), a pod on its own, the cluster', async () => {
    expect(found(await audit('default-policy-audit.yaml'), 'default-policy-audit')).toEqual(['medium Namespace/dry @1', 'medium Pod/wet/solo-0 @4']);
    const cluster = only(await audit('no-pods.yaml', { defaultPolicy: 'audit' }), 'default-policy-audit');
    expect(cluster).toMatchObject({ severity: 'medium', resources: [] });
    expect(cluster.message).toContain('the cluster default inbound policy (--default-policy) is audit');
  });

  it('default-policy-unauthenticated: all-unauthenticated medium, cluster-unauthenticated low', async () => {
    expect(found(await audit('default-policy-unauthenticated.yaml'), 'default-policy-unauthenticated')).toEqual(['low Namespace/legacy @1']);
    expect(found(await audit('no-pods.yaml', { defaultPolicy: 'all-unauthenticated' }), 'default-policy-unauthenticated')).toEqual(['medium -']);
  });

  it('invalid-default-policy-annotation: the cluster default applies instead', async () => {
    const f = only(await audit('invalid-default-policy-annotation.yaml'), 'invalid-default-policy-annotation');
    expect(found([f], f.code)).toEqual(['low Namespace/typo @1']);
    expect(f.message).toContain('"denied" is not a policy; Linkerd ignores it and the cluster default deny applies');
  });

  it('server-selects-no-pod', async () => {
    expect(found(await audit('server-selects-no-pod.yaml'), 'server-selects-no-pod')).toEqual(['low Server/demo/stale @3']);
  });

  it('server-port-name-not-found: the pod stays on the default policy', async () => {
    const findings = await audit('server-port-name-not-found.yaml');
    expect(found(findings, 'server-port-name-not-found')).toEqual(['low Server/demo/api-web @2']);
    expect(only(findings, 'server-port-name-not-found').resources.map((r) => r.resource)).toEqual(['Server/demo/api-web', 'Pod/demo/api-0']);
    expect(found(findings, 'port-without-server')).toEqual(['info Pod/demo/api-0 @1']);
  });

  it('server-port-conflict: one finding per colliding Servers and port, naming the pods', async () => {
    const f = only(await audit('server-port-conflict.yaml'), 'server-port-conflict');
    expect(f.severity).toBe('medium');
    expect(f.resources.map((r) => `${r.resource} @${r.document}`)).toEqual(['Server/demo/api-old @3', 'Server/demo/api-new @4']);
    expect(f.message).toContain('select port 8080 of 2 pod(s) (demo/api-0, demo/api-1); only Server demo/api-old applies');
  });

  it('server-audit-mode', async () => {
    expect(found(await audit('server-audit-mode.yaml'), 'server-audit-mode')).toEqual(['medium Server/demo/api @1']);
  });

  it('server-access-policy-open: rated by what the accessPolicy admits', async () => {
    expect(found(await audit('server-access-policy-open.yaml'), 'server-access-policy-open')).toEqual([
      'high Server/demo/open @1',
      'medium Server/demo/cluster-open @2',
      'low Server/demo/meshed @3',
    ]);
  });

  it('server-without-authorization: none at all, or only void ones; a granted Server is not reported', async () => {
    const findings = await audit('server-without-authorization.yaml');
    expect(found(findings, 'server-without-authorization')).toEqual(['medium Server/demo/forgotten @1', 'medium Server/demo/voided @2']);
    expect(findings.find((f) => f.resources[0]?.resource === 'Server/demo/voided')!.message).toContain('void policies target it: AuthorizationPolicy demo/voided-from-nobody');
    // accessPolicy audit: everything goes to audit, which its own finding rates.
    expect(found(await audit('server-audit-mode.yaml'), 'server-without-authorization')).toEqual(['low Server/demo/api @1']);
  });

  it('missing-server: by AuthorizationPolicy targetRef and by ServerAuthorization name', async () => {
    const findings = await audit('missing-server.yaml');
    expect(found(findings, 'missing-server')).toEqual(['medium AuthorizationPolicy/demo/to-nowhere @1', 'medium ServerAuthorization/demo/legacy-to-nowhere @2']);
    expect(findings[0]!.resources[1]).toEqual({ resource: 'Server/demo/api' });
  });

  it('authorization-selects-no-server: a selector matching no Server, a namespace without Servers', async () => {
    expect(found(await audit('authorization-selects-no-server.yaml'), 'authorization-selects-no-server')).toEqual([
      'low AuthorizationPolicy/empty/whole-namespace @4',
      'low ServerAuthorization/demo/frontends @3',
    ]);
  });

  // A reference to something missing: the title starts with the finding's code, which is also its fixture's name;
  // one finding, naming the referrer first and then what is missing.
  it.each([
    ['missing-mesh-tls-authentication: the policy is void', 'medium AuthorizationPolicy/demo/api-from-frontends @2', 'MeshTLSAuthentication/shared/frontends', 'the policy is void and grants nothing'],
    ['missing-network-authentication: the policy is void', 'medium AuthorizationPolicy/demo/api-from-office @2', 'NetworkAuthentication/demo/office', undefined],
    ['missing-service-account: only where ServiceAccounts were read', 'low AuthorizationPolicy/demo/api-from-webb @3', 'ServiceAccount/demo/webb', undefined],
    ['missing-namespace: only when Namespaces were read', 'low MeshTLSAuthentication/demo/ops @2', 'Namespace/monitoring', undefined],
  ])('%s', async (name, referrer, missing, message) => {
    const code = name.slice(0, name.indexOf(':'));
    const f = only(await audit(`${code}.yaml`), code);
    expect(found([f], f.code)).toEqual([referrer]);
    expect(f.resources[1]).toEqual({ resource: missing });
    if (message !== undefined) expect(f.message).toContain(message);
  });

  it('route-authorization-not-enforced', async () => {
    expect(found(await audit('route-authorization-not-enforced.yaml'), 'route-authorization-not-enforced')).toEqual(['info AuthorizationPolicy/demo/route-only @1']);
  });

  it('unauthenticated-authorization: high from anywhere, medium from some networks', async () => {
    const findings = await audit('unauthenticated-authorization.yaml');
    expect(found(findings, 'unauthenticated-authorization')).toEqual([
      'high AuthorizationPolicy/demo/open @2',
      'high ServerAuthorization/demo/legacy-internet @6',
      'medium AuthorizationPolicy/demo/office @3',
      'medium ServerAuthorization/demo/legacy-plaintext @5',
    ]);
    const legacy = findings.find((f) => f.resources[0]?.resource === 'ServerAuthorization/demo/legacy-plaintext')!;
    expect(legacy.message).toContain('from the cluster networks, to Server demo/api');
  });

  it('identity-wildcard: "*", a suffix covering the trust domain, unauthenticatedTLS', async () => {
    expect(found(await audit('identity-wildcard.yaml'), 'identity-wildcard')).toEqual([
      'medium MeshTLSAuthentication/demo/anyone @1',
      'medium MeshTLSAuthentication/demo/trust-domain @2',
      'medium ServerAuthorization/demo/any-tls @4',
    ]);
  });

  it('identity-namespace-wide: *.NS..., Namespace identityRefs, ServiceAccount "*"', async () => {
    const findings = await audit('identity-namespace-wide.yaml');
    expect(found(findings, 'identity-namespace-wide')).toEqual([
      'low MeshTLSAuthentication/demo/frontends @1',
      'low MeshTLSAuthentication/demo/monitoring @2',
      'low MeshTLSAuthentication/demo/monitoring @2',
    ]);
    expect(findings.filter((f) => f.code === 'identity-namespace-wide').map((f) => f.message)).toEqual([
      'MeshTLSAuthentication demo/frontends: identity "*.frontend.serviceaccount.identity.linkerd.cluster.local" admits every ServiceAccount of namespace frontend',
      'MeshTLSAuthentication demo/monitoring: identityRef Namespace monitoring admits every ServiceAccount of namespace monitoring',
      'MeshTLSAuthentication demo/monitoring: identityRef ServiceAccount "*" admits every ServiceAccount of namespace ops',
    ]);
  });

  it('network-all-addresses: in resources, and in the cluster networks', async () => {
    expect(found(await audit('network-all-addresses.yaml'), 'network-all-addresses')).toEqual([
      'medium NetworkAuthentication/demo/internet @1',
      'low NetworkAuthentication/demo/internet6-but-lab @2',
    ]);
    expect(found(await audit('unauthenticated-authorization.yaml'), 'network-all-addresses')).toEqual(['medium ServerAuthorization/demo/legacy-internet @6']);
    const cluster = await audit('no-pods.yaml', { clusterNetworks: networksFromCidrs(['10.0.0.0/8', '::/0']) });
    expect(found(cluster, 'network-all-addresses')).toEqual(['medium -']);
  });
});

describe('identity audit: negative cases', () => {
  it('a clean namespace yields no finding at all', async () => {
    expect(await audit('clean.yaml')).toEqual([]);
  });

  it('the clean namespace under the installed default has nothing high, and one medium: that default', async () => {
    const findings = await audit('clean.yaml', { defaultPolicy: 'all-unauthenticated' });
    expect(findings.filter((f) => f.severity === 'high')).toEqual([]);
    expect(findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['medium default-policy-unauthenticated']);
  });

  it('findings come most severe first', async () => {
    const findings = await audit('unauthenticated-authorization.yaml');
    const ranks = findings.map((f) => ['high', 'medium', 'low', 'info'].indexOf(f.severity));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });
});
