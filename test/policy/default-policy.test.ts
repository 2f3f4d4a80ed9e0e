import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../common/errors.ts';
import { networksFromCidrs } from '../../policy/net/cidr.ts';
import type { DefaultPolicyName } from '../../policy/resources/types.ts';
import { decide, IN_CLUSTER, indexOf, OUTSIDE, sa } from './support.ts';

const WEB = sa('web', 'demo');
type Expect = 'allow' | 'deny' | 'audit';

// [meshed from the cluster, plaintext from the cluster, meshed from outside, plaintext from outside]
const TABLE: [DefaultPolicyName, Expect, Expect, Expect, Expect][] = [
  ['all-unauthenticated', 'allow', 'allow', 'allow', 'allow'],
  ['all-authenticated', 'allow', 'deny', 'allow', 'deny'],
  ['cluster-unauthenticated', 'allow', 'allow', 'deny', 'deny'],
  ['cluster-authenticated', 'allow', 'deny', 'deny', 'deny'],
  ['deny', 'deny', 'deny', 'deny', 'deny'],
  ['audit', 'audit', 'audit', 'audit', 'audit'],
];

describe('default inbound policy, cluster-wide (no Server selects the port)', () => {
  it.each(TABLE)('default policy %s', async (policy, meshedIn, plainIn, meshedOut, plainOut) => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: policy });
    const cases: [string | undefined, string, Expect][] = [
      [WEB, IN_CLUSTER, meshedIn],
      [undefined, IN_CLUSTER, plainIn],
      [WEB, OUTSIDE, meshedOut],
      [undefined, OUTSIDE, plainOut],
    ];
    for (const [identity, ip, expected] of cases) {
      const d = decide(index, 'plain/p0', 8080, identity, ip);
      expect(d.decision, `${policy} ${identity ?? 'plaintext'} ${ip}: ${d.reason}`).toBe(expected);
      expect(d.server).toBeNull();
      expect(d.authorization).toBe(expected === 'deny' ? null : policy === 'audit' ? 'default/audit' : `default/${policy}`);
      expect(d.reason).toContain(`no Server selects port 8080 of pod plain/p0; default policy ${policy} (cluster default)`);
    }
  });

  it('a refusal says what the default policy needs', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'cluster-authenticated' });
    expect(decide(index, 'plain/p0', 8080, undefined).reason).toMatch(/does not admit unauthenticated client 10\.1\.2\.3: it needs a mesh identity$/);
    expect(decide(index, 'plain/p0', 8080, WEB, OUTSIDE).reason).toMatch(/it needs an address in the cluster networks$/);
  });

  it('cluster networks default to Linkerd\'s: 10/8, 100.64/10, 172.16/12, 192.168/16, fd00::/8', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'cluster-unauthenticated' });
    for (const ip of ['10.255.0.1', '100.64.0.1', '100.127.255.254', '172.31.255.1', '192.168.7.7', 'fd12::1']) {
      expect(decide(index, 'plain/p0', 8080, undefined, ip).decision, ip).toBe('allow');
    }
    for (const ip of ['100.128.0.1', '172.32.0.1', '192.169.0.1', 'fe80::1', '2001:db8::1', '8.8.8.8']) {
      expect(decide(index, 'plain/p0', 8080, undefined, ip).decision, ip).toBe('deny');
    }
  });

  it('cluster networks are configurable', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'cluster-unauthenticated', clusterNetworks: networksFromCidrs(['203.0.113.0/24']) });
    expect(decide(index, 'plain/p0', 8080, undefined, OUTSIDE).decision).toBe('allow');
    expect(decide(index, 'plain/p0', 8080, undefined, IN_CLUSTER).decision).toBe('deny');
  });

  it('no loopback special case: 127.0.0.1 and ::1 are refused like anyone else', async () => {
    const deny = await indexOf('default-policy.yaml', { defaultPolicy: 'deny' });
    expect(decide(deny, 'plain/p0', 8080, WEB, '127.0.0.1').decision).toBe('deny');
    expect(decide(deny, 'plain/p0', 8080, undefined, '::1').decision).toBe('deny');
    const cluster = await indexOf('default-policy.yaml', { defaultPolicy: 'cluster-unauthenticated' });
    expect(decide(cluster, 'plain/p0', 8080, undefined, '127.0.0.1').decision).toBe('deny');
  });

  it('every port the pod has or not: the default applies to any port without a Server', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'all-authenticated' });
    expect(decide(index, 'plain/p0', 65535, WEB).decision).toBe('allow');
    expect(decide(index, 'plain/p0', 1, undefined).decision).toBe('deny');
  });
});

describe('default-inbound-policy annotation on namespace and on pod', () => {
  it('the namespace annotation applies to pods without their own', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'all-unauthenticated' });
    const d = decide(index, 'locked/p0', 8080, WEB);
    expect(d).toMatchObject({ decision: 'deny', server: null, authorization: null });
    expect(d.reason).toBe('no Server selects port 8080 of pod locked/p0; default policy deny (namespace annotation) admits no one; web.demo.serviceaccount.identity.linkerd.cluster.local from 10.1.2.3 is refused');
  });

  it('the pod annotation wins over the namespace annotation', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'deny' });
    const d = decide(index, 'locked/p-open', 8080, undefined, OUTSIDE);
    expect(d).toMatchObject({ decision: 'allow', authorization: 'default/all-unauthenticated' });
    expect(d.reason).toContain('default policy all-unauthenticated (pod annotation)');
  });

  it('the pod annotation wins over the cluster default', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'all-unauthenticated' });
    expect(decide(index, 'plain/p-authenticated', 8080, undefined).decision).toBe('deny');
    expect(decide(index, 'plain/p-authenticated', 8080, WEB, OUTSIDE)).toMatchObject({ decision: 'allow', authorization: 'default/all-authenticated' });
  });

  it('an invalid pod annotation falls back to the cluster default, not to the namespace', async () => {
    const open = await indexOf('default-policy.yaml', { defaultPolicy: 'all-unauthenticated' });
    const d = decide(open, 'locked/p-bad', 8080, undefined);
    expect(d.decision).toBe('allow'); // the namespace says deny, but Linkerd reads only the pod's (invalid) value
    expect(d.reason).toContain(`default policy all-unauthenticated (cluster default; the pod's annotation "bogus" is not a policy)`);
    expect(open.notes).toContain('Pod locked/p-bad: config.linkerd.io/default-inbound-policy "bogus" is not a policy; the cluster default all-unauthenticated applies');
    const closed = await indexOf('default-policy.yaml', { defaultPolicy: 'cluster-authenticated' });
    expect(decide(closed, 'locked/p-bad', 8080, undefined).decision).toBe('deny');
  });

  it('an invalid namespace annotation falls back to the cluster default', async () => {
    const index = await indexOf('default-policy.yaml', { defaultPolicy: 'audit' });
    expect(decide(index, 'typo/p0', 8080, undefined)).toMatchObject({ decision: 'audit', authorization: 'default/audit' });
    expect(index.notes.some((n) => n.startsWith('Namespace typo: config.linkerd.io/default-inbound-policy "sometimes" is not a policy'))).toBe(true);
  });
});

describe('evaluate() input', () => {
  it('an unknown pod is NotFoundError; a bad port or address is InvalidArgumentError', async () => {
    const index = await indexOf('default-policy.yaml');
    expect(() => decide(index, 'plain/nope', 8080, undefined)).toThrow(NotFoundError);
    expect(() => decide(index, 'plain/p0', 0, undefined)).toThrow(InvalidArgumentError);
    expect(() => decide(index, 'plain/p0', 65536, undefined)).toThrow(InvalidArgumentError);
    expect(() => decide(index, 'plain/p0', 8080, undefined, '10.1.2')).toThrow(InvalidArgumentError);
  });
});
