import { afterAll, describe, expect, it } from 'vitest';
import { decodePortPolicy, encodePortPolicy, ORIGIN_LABEL } from '../../policy/api/codec.ts';
import { parseServerBytes, serverBytes, type ServerMessage } from '../../policy/api/messages.ts';
import { decidePort } from '../../policy/evaluator/decide-port.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import type { PortPolicy } from '../../policy/evaluator/port-policy.ts';
import { defaultEvaluatorConfig, type EvaluatorConfig } from '../../policy/evaluator/types.ts';
import { loadResources, resourcesFromObjects } from '../../policy/resources/load.ts';
import { DEFAULT_POLICIES, type ResourceSet } from '../../policy/resources/types.ts';
import { FIXTURES, sa } from './support.ts';

/**
 * The codec: a port policy survives Linkerd's Server message (through its bytes) unchanged, and
 * decisions made on the far side of the wire are the decisions the index makes, for every pod
 * port of every fixture and a table of clients.
 */

const FIXTURE_FILES = ['access-policy.yaml', 'authorization-policy.yaml', 'default-policy.yaml', 'identities.yaml', 'named-ports.yaml', 'namespace-target.yaml', 'server-authorization.yaml', 'two-servers.yaml', 'dir'];

/** Through the wire: encode, serialize, parse, decode. */
function viaWire(policy: PortPolicy, config: EvaluatorConfig): PortPolicy {
  const bytes = serverBytes(encodePortPolicy(policy));
  return decodePortPolicy(parseServerBytes(bytes), { pod: policy.pod, port: policy.port, clusterNetworks: config.clusterNetworks });
}

/** Every pod port worth asking about: declared container ports, numeric Server ports, and two no one declares. */
function portsOf(resources: ResourceSet): Map<string, number[]> {
  const serverPorts = resources.servers.map((s) => s.port).filter((p): p is number => typeof p === 'number');
  const out = new Map<string, number[]>();
  for (const pod of resources.pods) {
    const ports = new Set([...pod.ports.map((p) => p.containerPort), ...serverPorts, 1, 4191]);
    out.set(`${pod.meta.namespace}/${pod.meta.name}`, [...ports].sort((a, b) => a - b));
  }
  return out;
}

const IDENTITIES = [
  undefined,
  sa('web', 'demo'),
  sa('api', 'demo'),
  sa('shop', 'frontend'),
  sa('operator', 'demo'),
  sa('grafana', 'monitoring'),
  'EXACT.Demo.serviceaccount.identity.linkerd.cluster.local.',
  'spiffe://cluster.local/ns/edge/sa/gateway',
  'anything.example.org',
];
const ADDRESSES = ['10.1.2.3', '203.0.113.9', '192.168.50.7', '10.20.1.1', '10.20.99.1', '10.20.7.7', 'fd00:20::5', 'fd00:20:0:99::1', '::ffff:10.1.2.3', '127.0.0.1'];

async function fixture(name: string, config: EvaluatorConfig) {
  const { resources } = await loadResources([FIXTURES + name]);
  return { resources, index: PolicyIndex.build(resources, config) };
}

let compared = 0;
afterAll(() => console.log(`[figures] decidePort after a wire round trip agreed with PolicyIndex.evaluate on ${compared} decisions`));

describe('decidePort over a codec round trip decides as PolicyIndex.evaluate', () => {
  const configs: [string, EvaluatorConfig][] = [
    ['cluster default all-unauthenticated', defaultEvaluatorConfig()],
    ['cluster default audit', defaultEvaluatorConfig({ defaultPolicy: 'audit' })],
    ['cluster default cluster-authenticated', defaultEvaluatorConfig({ defaultPolicy: 'cluster-authenticated' })],
  ];
  for (const file of FIXTURE_FILES) {
    for (const [label, config] of configs) {
      it(`${file}, ${label}`, async () => {
        const { resources, index } = await fixture(file, config);
        let decisions = 0;
        for (const [pod, ports] of portsOf(resources)) {
          for (const port of ports) {
            const local = index.portPolicy(pod, port);
            const remote = viaWire(local, config);
            expect(remote, `${pod}:${port}`).toEqual(local);
            for (const clientIdentity of IDENTITIES) {
              for (const clientIp of ADDRESSES) {
                const input = { clientIp, ...(clientIdentity ? { clientIdentity } : {}) };
                expect(decidePort(remote, input), `${pod}:${port} ${clientIdentity ?? 'plaintext'} ${clientIp}`).toEqual(index.evaluate({ pod, port, ...input }));
                decisions++;
              }
            }
          }
        }
        expect(decisions).toBeGreaterThan(0);
        compared += decisions;
      });
    }
  }
});

describe('what goes on the wire', () => {
  const config = defaultEvaluatorConfig();

  it('IPv6 networks (with except) as two unsigned 64-bit halves, high bit included', async () => {
    const { index } = await fixture('authorization-policy.yaml', config);
    const policy = index.portPolicy('demo/api-0', 9990);
    const message = encodePortPolicy(policy);
    const ipv6 = message.authorizations[0]!.networks[1]!;
    expect(ipv6.net).toEqual({ ip: { ipv6: { first: (0xfd000020n << 32n).toString(), last: '0' } }, prefix_len: 32 });
    expect(ipv6.except).toEqual([{ ip: { ipv6: { first: ((0xfd000020n << 32n) | 0x99n).toString(), last: '0' } }, prefix_len: 64 }]);
    expect(viaWire(policy, config)).toEqual(policy);
  });

  it('identity suffixes as parts, `*` as the empty suffix, exact names as identities', async () => {
    const { index } = await fixture('authorization-policy.yaml', config);
    const grpc = encodePortPolicy(index.portPolicy('demo/api-0', 9090));
    expect(grpc.authorizations[0]!.authentication).toEqual({
      meshTLS: { identities: { identities: [{ name: 'spiffe://cluster.local/ns/edge/sa/gateway' }], suffixes: [{ parts: ['frontend', 'serviceaccount', 'identity', 'linkerd', 'cluster', 'local'] }] } },
    });
    const { resources } = resourcesFromObjects([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n', annotations: { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' } }, spec: { containers: [{ name: 'a' }] } },
    ]);
    const any = encodePortPolicy(PolicyIndex.build(resources, config).portPolicy('n/p', 80));
    expect(any.authorizations[0]!.authentication).toEqual({ meshTLS: { identities: { identities: [], suffixes: [{ parts: [] }] } } });
  });

  it('audit as a last authorization `default: audit` that admits everyone from everywhere', async () => {
    const { index } = await fixture('access-policy.yaml', config);
    const policy = index.portPolicy('demo/api-0', 8080);
    expect(policy.fallback).toBe('audit');
    const message = encodePortPolicy(policy);
    expect(message.authorizations.at(-1)).toMatchObject({
      metadata: { default: 'audit' },
      labels: { group: '', kind: 'default', name: 'audit' },
      authentication: { unauthenticated: {} },
      networks: [{ net: { ip: { ipv4: 0 }, prefix_len: 0 } }, { net: { ip: { ipv6: { first: '0', last: '0' } }, prefix_len: 0 } }],
    });
    expect(message.labels).toMatchObject({ group: 'policy.linkerd.io', kind: 'server', name: 'audited' });
    expect(viaWire(policy, config)).toEqual(policy);
  });

  it('every default policy: Server labels of kind default, its authorization as Linkerd names it', () => {
    for (const name of DEFAULT_POLICIES) {
      const { resources } = resourcesFromObjects([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n', annotations: { 'config.linkerd.io/default-inbound-policy': name } }, spec: { containers: [{ name: 'a' }] } }]);
      const policy = PolicyIndex.build(resources, config).portPolicy('n/p', 8080);
      const message = encodePortPolicy(policy);
      expect(message.labels, name).toEqual({ group: '', kind: 'default', name, [ORIGIN_LABEL]: 'pod annotation' });
      expect(message.protocol, name).toEqual({ detect: { timeout: { seconds: 10, nanos: 0 } } });
      const names = message.authorizations.map((a) => a.metadata?.default);
      expect(names, name).toEqual(name === 'deny' ? [] : [name]);
      expect(viaWire(policy, config), name).toEqual(policy);
    }
  });

  it('protocols: the Server proxyProtocol, and opaque for a default port the opaque-ports annotation names', async () => {
    const { index } = await fixture('authorization-policy.yaml', config);
    expect(encodePortPolicy(index.portPolicy('demo/api-0', 7070)).protocol).toEqual({ opaque: {} });
    expect(encodePortPolicy(index.portPolicy('demo/api-0', 9090)).protocol).toEqual({ grpc: {} });
    expect(encodePortPolicy(index.portPolicy('demo/api-0', 8080)).protocol).toEqual({ http1: {} });
    const { resources } = resourcesFromObjects([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n', annotations: { 'config.linkerd.io/opaque-ports': '3306, 4000-4002, db' } }, spec: { containers: [{ name: 'a', ports: [{ name: 'db', containerPort: 5432 }] }] } },
    ]);
    const built = PolicyIndex.build(resources, config);
    for (const port of [3306, 4001, 5432]) expect(built.portPolicy('n/p', port).protocol, String(port)).toBe('opaque');
    expect(built.portPolicy('n/p', 8080).protocol).toBe('unknown');
  });
});

describe('reading what a Linkerd controller sends', () => {
  const config = defaultEvaluatorConfig();
  const everywhere = [{ net: { ip: { ipv4: 0 }, prefix_len: 0 }, except: [] }, { net: { ip: { ipv6: { first: '0', last: '0' } }, prefix_len: 0 }, except: [] }];
  const context = { pod: 'demo/api-0', port: 8080, clusterNetworks: config.clusterNetworks };
  const decode = (m: ServerMessage) => decodePortPolicy(parseServerBytes(serverBytes(m)), context);

  it('labels without metadata, authorizations in any order, audit anywhere', () => {
    const policy = decode({
      protocol: { http2: {} },
      server_ips: [],
      labels: { group: 'policy.linkerd.io', kind: 'server', name: 'api' },
      authorizations: [
        { networks: everywhere, authentication: { unauthenticated: {} }, labels: { group: '', kind: 'default', name: 'audit' }, metadata: null },
        { networks: everywhere, authentication: { meshTLS: { identities: { identities: [{ name: sa('web', 'demo') }], suffixes: [] } } }, labels: { group: 'policy.linkerd.io', kind: 'authorizationpolicy', name: 'web' }, metadata: null },
      ],
    });
    expect(policy).toMatchObject({ governor: { kind: 'server', server: 'demo/api' }, protocol: 'HTTP/2', fallback: 'audit' });
    expect(policy.authorizations).toHaveLength(1);
    expect(decidePort(policy, { clientIdentity: sa('web', 'demo'), clientIp: '10.1.2.3' })).toMatchObject({ decision: 'allow', authorization: 'AuthorizationPolicy/demo/web' });
    expect(decidePort(policy, { clientIp: '10.1.2.3' })).toMatchObject({ decision: 'audit', authorization: 'default/audit' });
  });

  it('an older controller: `default:deny` as the Server name, no kind label', () => {
    const policy = decode({ protocol: { detect: { timeout: { seconds: 10, nanos: 0 } } }, server_ips: [], labels: { name: 'default:deny' }, authorizations: [] });
    expect(policy.governor).toMatchObject({ kind: 'default', policy: 'deny' });
    expect(decidePort(policy, { clientIp: '10.1.2.3' }).decision).toBe('deny');
  });

  it('refuses what Linkerd proxies refuse: an authorization without networks or authentication, a Server without a name', () => {
    const base: ServerMessage = { protocol: null, server_ips: [], labels: { name: 'api', kind: 'server', group: 'policy.linkerd.io' }, authorizations: [] };
    const authz = { networks: everywhere, authentication: { unauthenticated: {} }, labels: {}, metadata: { default: 'all-unauthenticated' } };
    expect(() => decode({ ...base, authorizations: [{ ...authz, networks: [] }] })).toThrow(/no networks/);
    expect(() => decode({ ...base, authorizations: [{ ...authz, authentication: null }] })).toThrow(/no authentication/);
    expect(() => decode({ ...base, labels: {} })).toThrow(/no "name" label/);
    expect(() => decode({ ...base, authorizations: [{ ...authz, metadata: { resource: { group: 'x', kind: 'httproute', name: 'r', namespace: '', section: '', port: 0 } } }] })).toThrow(/unsupported authorization kind/);
  });
});
