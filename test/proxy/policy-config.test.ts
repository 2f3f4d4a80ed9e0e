/**
 * The proxy configuration's `policy` section and its flags: defaults, sources, and the errors
 * that name the field at fault.
 */
import { describe, expect, it } from 'vitest';
import { parseProxyConfig, type ProxyFlags } from '../../proxy/config.ts';
import { DEFAULT_CLUSTER_NETWORKS } from '../../proxy/config-policy.ts';
import { configErrorOf } from './support/config.ts';

const BASE: ProxyFlags = {
  localIdentity: 'api.demo.serviceaccount.identity.linkerd.cluster.local',
  tokenFile: 't',
  trustBundle: 'b',
  identityAddr: '127.0.0.1:8080',
  app: '127.0.0.1:9000',
};
const parse = (flags: ProxyFlags, document?: unknown) => parseProxyConfig({ ...BASE, ...flags }, document).policy;
const failure = (flags: ProxyFlags, document?: unknown): string => configErrorOf(() => parse(flags, document));

describe('policy configuration', () => {
  it('ok: no source by default, with the domain of the local identity and Linkerd\'s cluster networks', () => {
    expect(parse({})).toEqual({ source: { kind: 'none' }, clusterNetworks: [...DEFAULT_CLUSTER_NETWORKS], trustDomain: 'cluster.local', controlPlaneNamespace: 'linkerd' });
    const other = parseProxyConfig({ ...BASE, localIdentity: 'api.demo.serviceaccount.identity.mesh.example.org' }, undefined).policy;
    expect(other).toMatchObject({ trustDomain: 'example.org', controlPlaneNamespace: 'mesh' });
  });

  it('ok: --policy-dir, repeatable and comma-separated, with --pod and every setting', () => {
    const policy = parse({
      pod: 'demo/api-0',
      policyDir: ['/etc/policy,/etc/more', '/srv/policy.yaml'],
      defaultPolicy: 'deny',
      clusterNetworks: '10.0.0.0/8, fd00::/8',
      trustDomain: 'example.org',
      controlPlaneNamespace: 'mesh',
    });
    expect(policy).toEqual({
      source: { kind: 'directory', paths: ['/etc/policy', '/etc/more', '/srv/policy.yaml'] },
      pod: 'demo/api-0',
      defaultPolicy: 'deny',
      clusterNetworks: ['10.0.0.0/8', 'fd00::/8'],
      trustDomain: 'example.org',
      controlPlaneNamespace: 'mesh',
    });
  });

  it('ok: --policy-addr, and the file\'s policy section (flags override it)', () => {
    expect(parse({ pod: 'demo/api-0', policyAddr: '[::1]:8090' }).source).toEqual({ kind: 'controller', address: '[::1]:8090' });
    const file = { policy: { pod: 'demo/api-0', paths: ['/etc/policy'], defaultPolicy: 'audit', clusterNetworks: ['192.168.0.0/16'] } };
    expect(parse({}, file)).toMatchObject({ source: { kind: 'directory', paths: ['/etc/policy'] }, pod: 'demo/api-0', defaultPolicy: 'audit', clusterNetworks: ['192.168.0.0/16'] });
    expect(parse({ defaultPolicy: 'deny', pod: 'demo/api-1' }, file)).toMatchObject({ pod: 'demo/api-1', defaultPolicy: 'deny' });
  });

  it('ok: --default-policy without a source', () => {
    expect(parse({ defaultPolicy: 'cluster-authenticated' })).toMatchObject({ source: { kind: 'none' }, defaultPolicy: 'cluster-authenticated' });
  });

  const cases: [string, ProxyFlags, unknown, RegExp][] = [
    ['fail/dir-without-pod', { policyDir: ['/etc/policy'] }, undefined, /^--pod: is required with --policy-dir/],
    ['fail/addr-without-pod', { policyAddr: '127.0.0.1:8090' }, undefined, /^--pod: is required with --policy-addr/],
    ['fail/file-dir-without-pod', {}, { policy: { paths: ['/etc/policy'] } }, /^policy\.pod: is required with policy\.paths/],
    ['fail/both-sources', { pod: 'demo/a', policyDir: ['/p'], policyAddr: '127.0.0.1:8090' }, undefined, /^--policy-addr: cannot be combined with --policy-dir/],
    ['fail/pod-without-namespace', { pod: 'api-0' }, undefined, /^--pod: expected NS\/NAME of a pod/],
    ['fail/pod-bad-namespace', { pod: 'Demo/api-0' }, undefined, /^--pod: expected NS\/NAME/],
    ['fail/default-policy', { defaultPolicy: 'allow' }, undefined, /^--default-policy: expected one of all-unauthenticated, .*deny, audit, found "allow"/],
    ['fail/cidr', { clusterNetworks: '10.0.0.0/8,10.0.0.0/33' }, undefined, /^--cluster-networks\[1\]: expected a CIDR/],
    ['fail/cidr-not-ip', { clusterNetworks: 'cluster/8' }, undefined, /^--cluster-networks\[0\]: expected a CIDR/],
    ['fail/empty-networks', { clusterNetworks: ',' }, undefined, /^--cluster-networks: expected a list of CIDRs/],
    ['fail/addr', { pod: 'demo/a', policyAddr: 'controller' }, undefined, /^--policy-addr: expected host:port/],
    ['fail/trust-domain', { trustDomain: 'not a domain' }, undefined, /^--trust-domain: "not a domain" is not a DNS name/],
    ['fail/control-plane-namespace', { controlPlaneNamespace: 'a.b' }, undefined, /^--control-plane-namespace: "a\.b" is not a DNS label/],
    ['fail/unknown-field', {}, { policy: { directory: '/p' } }, /^policy\.directory: unknown field; known fields here: pod, paths/],
  ];
  it.each(cases)('%s', (_name, flags, document, message) => {
    expect(failure(flags, document)).toMatch(message);
  });
});
