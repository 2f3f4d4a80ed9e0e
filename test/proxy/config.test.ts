import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig, parseProxyConfig, type ProxyFlags } from '../../proxy/config.ts';
import { configErrorOf } from './support/config.ts';

const EXAMPLE = `
identity:
  localName: web.demo.serviceaccount.identity.linkerd.cluster.local
  tokenFile: /var/run/secrets/tokens/identity-token
  trustBundleFile: /var/run/linkerd/trust-roots/ca-bundle.crt
  serviceAddress: linkerd-identity.linkerd.svc.cluster.local:8080
  minRefresh: 10s
inbound:
  app: 127.0.0.1:8080
  opaquePorts: [5432]
outbound:
  routes:
    - listen: 127.0.0.1:4140
      destination: 10.0.0.7:4143
      identity: api.demo.serviceaccount.identity.linkerd.cluster.local
    - listen: 127.0.0.1:5432
      destination: 10.0.0.8:4143
      identity: db.demo.serviceaccount.identity.linkerd.cluster.local
      opaque: true
      targetPort: 5432
`;

type Doc = Record<string, Record<string, unknown>>;
type Route = Record<string, unknown>;
const doc = (): Doc => parseYaml(EXAMPLE) as Doc;
const parse = (flags: ProxyFlags, document: unknown = doc()) => parseProxyConfig(flags, document);
const failure = (flags: ProxyFlags, document: unknown = doc()): string => configErrorOf(() => parse(flags, document));

describe('parseProxyConfig', () => {
  it('ok: reads the example and fills the defaults', () => {
    const config = parse({});
    expect(config.identity).toEqual({
      localName: 'web.demo.serviceaccount.identity.linkerd.cluster.local',
      tokenFile: '/var/run/secrets/tokens/identity-token',
      trustBundleFile: '/var/run/linkerd/trust-roots/ca-bundle.crt',
      serviceAddress: 'linkerd-identity.linkerd.svc.cluster.local:8080',
      serviceName: 'identity.linkerd.serviceaccount.identity.linkerd.cluster.local',
      minRefreshMs: 10_000,
      bundleReloadIntervalMs: 1_000,
    });
    expect(config.inbound).toEqual({ listen: { host: '127.0.0.1', port: 4143 }, app: { host: '127.0.0.1', port: 8080 }, opaquePorts: [5432], detectTimeoutMs: 10_000 });
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 4191 });
    expect(config.outbound.connectTimeoutMs).toBe(10_000);
    expect(config.outbound.routes[1]).toEqual({
      listen: { host: '127.0.0.1', port: 5432 },
      destination: { host: '10.0.0.8', port: 4143 },
      identity: 'db.demo.serviceaccount.identity.linkerd.cluster.local',
      opaque: true,
      targetPort: 5432,
    });
    expect(config.logLevel).toBe('info');
  });

  it('ok: flags alone are enough, and override the file', () => {
    const flags: ProxyFlags = {
      localIdentity: 'API.demo.serviceaccount.identity.linkerd.cluster.local',
      tokenFile: 't',
      trustBundle: 'b',
      identityAddr: '[::1]:8080',
      app: '127.0.0.1:9000',
      opaquePorts: '3306, 5432',
      detectTimeout: '2s',
      outbound: ['127.0.0.1:0,127.0.0.1:4143,db.demo.serviceaccount.identity.linkerd.cluster.local,opaque=3306'],
      logLevel: 'debug',
    };
    const alone = parse(flags, undefined);
    expect(alone.identity.localName).toBe('api.demo.serviceaccount.identity.linkerd.cluster.local');
    expect(alone.identity.serviceAddress).toBe('[::1]:8080');
    expect(alone.inbound.opaquePorts).toEqual([3306, 5432]);
    expect(alone.inbound.detectTimeoutMs).toBe(2_000);
    expect(alone.outbound.routes).toEqual([
      { listen: { host: '127.0.0.1', port: 0 }, destination: { host: '127.0.0.1', port: 4143 }, identity: 'db.demo.serviceaccount.identity.linkerd.cluster.local', opaque: true, targetPort: 3306 },
    ]);
    const over = parse({ app: '127.0.0.1:9000' });
    expect(over.inbound.app.port).toBe(9000);
    expect(over.outbound.routes).toHaveLength(2); // no --outbound: the file's routes stay
  });

  const cases: [string, ProxyFlags, (d: Doc) => unknown, RegExp][] = [
    ['fail/missing-local-name', {}, (d: Doc) => delete d.identity!.localName, /^identity\.localName: is required/],
    ['fail/unknown-field', {}, (d: Doc) => (d.inbound!.apps = 'x'), /^inbound\.apps: unknown field; known fields here: listen, app/],
    ['fail/bad-destination', {}, (d: Doc) => ((d.outbound!.routes as Route[])[1]!.destination = '10.0.0.8'), /^outbound\.routes\[1\]\.destination: expected host:port/],
    ['fail/opaque-without-port', {}, (d: Doc) => delete (d.outbound!.routes as Route[])[1]!.targetPort, /targetPort: is required when opaque is true/],
    ['fail/port-without-opaque', {}, (d: Doc) => ((d.outbound!.routes as Route[])[0]!.targetPort = 80), /routes\[0\]\.targetPort: is only used with opaque: true/],
    ['fail/duration-without-unit', {}, (d: Doc) => (d.identity!.minRefresh = '10'), /^identity\.minRefresh: .*not a duration/],
    ['fail/bad-identity', {}, (d: Doc) => (d.identity!.localName = 'web demo'), /^identity\.localName: "web demo" is not a DNS name/],
    ['fail/bad-opaque-port', {}, (d: Doc) => (d.inbound!.opaquePorts = [5432, 70000]), /^inbound\.opaquePorts\[1\]: expected a port number/],
    ['fail/same-listener', {}, (d: Doc) => (d.inbound!.listen = '127.0.0.1:4140'), /outbound route 0 listen: 127\.0\.0\.1:4140 is also used by inbound\.listen/],
    ['fail/min-over-max', {}, (d: Doc) => (d.identity!.maxRefresh = '5s'), /minRefresh: must not be longer than identity\.maxRefresh/],
    ['fail/log-level', { logLevel: 'loud' }, () => {}, /^--log-level: expected one of/],
    ['fail/flag-route', { outbound: ['127.0.0.1:1,127.0.0.1:2'] }, () => {}, /^--outbound\[0\]: expected LISTEN,DESTINATION,IDENTITY/],
    ['fail/flag-names-flag', { app: 'nowhere' }, () => {}, /^--app: expected host:port/],
  ];
  it.each(cases)('%s', (_name, flags, mutate, message) => {
    const d = doc();
    mutate(d);
    expect(failure(flags, d)).toMatch(message);
  });
});

describe('loadProxyConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxy-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads YAML and JSON files alike', async () => {
    await writeFile(join(dir, 'proxy.yaml'), EXAMPLE);
    await writeFile(join(dir, 'proxy.json'), JSON.stringify(doc()));
    const fromYaml = await loadProxyConfig({ config: join(dir, 'proxy.yaml') });
    const fromJson = await loadProxyConfig({ config: join(dir, 'proxy.json') });
    expect(fromJson).toEqual(fromYaml);
  });

  it('names the file when it is missing or not YAML', async () => {
    await expect(loadProxyConfig({ config: join(dir, 'missing.yaml') })).rejects.toThrow(/missing\.yaml cannot be read/);
    await writeFile(join(dir, 'bad.yaml'), 'identity: [unclosed');
    await expect(loadProxyConfig({ config: join(dir, 'bad.yaml') })).rejects.toThrow(/bad\.yaml is not valid YAML/);
  });
});
