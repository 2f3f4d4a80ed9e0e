/**
 * The proxy's configuration, read once at start-up from flags and/or a YAML or JSON file
 * (`--config FILE`), validated in one pass into plain typed data. A flag given on the command line
 * overrides the same setting in the file; `--outbound` flags, when given, replace the file's routes.
 * See proxy/README.md for the format with an example.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError, NotFoundError } from '../common/errors.ts';
import type { HostPort } from './io/listener.ts';
import type { OutboundRoute } from './app/outbound/server.ts';
import * as f from './config-fields.ts';
import { DECISION_LOG_FIELDS, parseDecisionLogConfig, type DecisionLogConfig, type DecisionLogFlags } from './config-decision-log.ts';
import { parsePolicyConfig, POLICY_FIELDS, type PolicyConfig, type PolicyFlags } from './config-policy.ts';

export const DEFAULT_IDENTITY_SERVICE_NAME = 'identity.linkerd.serviceaccount.identity.linkerd.cluster.local';
export const DEFAULT_INBOUND_LISTEN = '127.0.0.1:4143';
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:4191';
export const DEFAULT_DETECT_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_BUNDLE_RELOAD_INTERVAL_MS = 1_000;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const HOUR = 3_600_000;

export interface ProxyConfig {
  identity: {
    /** This workload's identity: the only name its certificate may carry. */
    localName: string;
    tokenFile: string;
    trustBundleFile: string;
    /** `host:port` of the identity service. */
    serviceAddress: string;
    /** The identity the service's certificate must carry. */
    serviceName: string;
    minRefreshMs?: number;
    maxRefreshMs?: number;
    bundleReloadIntervalMs: number;
  };
  inbound: {
    listen: HostPort;
    /** Where connections without a transport header go. */
    app: HostPort;
    /** Application ports that a transport header may name (the application port is always allowed). */
    opaquePorts: number[];
    /** Detection, handshake and transport header must all finish within this. */
    detectTimeoutMs: number;
  };
  outbound: { connectTimeoutMs: number; routes: OutboundRoute[] };
  admin: { listen: HostPort };
  /** Where the inbound policy comes from (config-policy.ts); the CLI builds it. */
  policy: PolicyConfig;
  /** The decision log (config-decision-log.ts); absent: none is written. */
  decisionLog?: DecisionLogConfig;
  logLevel: string;
}

/** The command-line flags, as commander hands them over (strings, unparsed). */
export interface ProxyFlags extends PolicyFlags, DecisionLogFlags {
  config?: string;
  localIdentity?: string;
  tokenFile?: string;
  trustBundle?: string;
  identityAddr?: string;
  identityName?: string;
  minRefresh?: string;
  maxRefresh?: string;
  bundleReloadInterval?: string;
  inboundListen?: string;
  app?: string;
  opaquePorts?: string;
  detectTimeout?: string;
  outbound?: string[];
  outboundConnectTimeout?: string;
  adminListen?: string;
  logLevel?: string;
}

/** Reads `flags.config` when given, then parses everything. */
export async function loadProxyConfig(flags: ProxyFlags): Promise<ProxyConfig> {
  if (!flags.config) return parseProxyConfig(flags, undefined);
  const text = await readFile(flags.config, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new NotFoundError(`config file ${flags.config} cannot be read (${err.code ?? 'error'})`);
  });
  let document: unknown;
  try {
    document = parseYaml(text); // YAML 1.2 is a superset of JSON: one parser for both
  } catch (err) {
    throw new ConfigError(`config file ${flags.config} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  return parseProxyConfig(flags, document);
}

/** Validates flags over a parsed file document; pure, for tests. */
export function parseProxyConfig(flags: ProxyFlags, document: unknown): ProxyConfig {
  const file = f.object(document, '', ['identity', 'inbound', 'outbound', 'admin', 'policy', 'decisionLog', 'logLevel']);
  const id = f.object(file.identity, 'identity', ['localName', 'tokenFile', 'trustBundleFile', 'serviceAddress', 'serviceName', 'minRefresh', 'maxRefresh', 'bundleReloadInterval']);
  const inb = f.object(file.inbound, 'inbound', ['listen', 'app', 'opaquePorts', 'detectTimeout']);
  const out = f.object(file.outbound, 'outbound', ['connectTimeout', 'routes']);
  const adm = f.object(file.admin, 'admin', ['listen']);
  const pol = f.object(file.policy, 'policy', POLICY_FIELDS);
  const dlog = f.object(file.decisionLog, 'decisionLog', DECISION_LOG_FIELDS);
  // The value and the name to blame: the flag when given, else the file's field.
  const pick = (flag: unknown, flagName: string, section: f.Raw, sectionName: string, key: string): [unknown, string] =>
    flag !== undefined ? [flag, flagName] : [section[key], `${sectionName}.${key}`];

  const minRefreshMs = f.duration(...pick(flags.minRefresh, '--min-refresh', id, 'identity', 'minRefresh'), undefined, 1_000, 24 * HOUR);
  const maxRefreshMs = f.duration(...pick(flags.maxRefresh, '--max-refresh', id, 'identity', 'maxRefresh'), undefined, 1_000, 30 * 24 * HOUR);
  if (minRefreshMs !== undefined && maxRefreshMs !== undefined && minRefreshMs > maxRefreshMs) {
    f.fail('identity.minRefresh', 'must not be longer than identity.maxRefresh');
  }
  const identity: ProxyConfig['identity'] = {
    localName: f.identityName(...pick(flags.localIdentity, '--local-identity', id, 'identity', 'localName')),
    tokenFile: f.string(...pick(flags.tokenFile, '--token-file', id, 'identity', 'tokenFile')),
    trustBundleFile: f.string(...pick(flags.trustBundle, '--trust-bundle', id, 'identity', 'trustBundleFile')),
    serviceAddress: hostPortText(...pick(flags.identityAddr, '--identity-addr', id, 'identity', 'serviceAddress')),
    serviceName: f.identityName(...pick(flags.identityName, '--identity-name', id, 'identity', 'serviceName'), DEFAULT_IDENTITY_SERVICE_NAME),
    ...(minRefreshMs !== undefined ? { minRefreshMs } : {}),
    ...(maxRefreshMs !== undefined ? { maxRefreshMs } : {}),
    bundleReloadIntervalMs: f.duration(...pick(flags.bundleReloadInterval, '--bundle-reload-interval', id, 'identity', 'bundleReloadInterval'), DEFAULT_BUNDLE_RELOAD_INTERVAL_MS, 10, HOUR)!,
  };
  const inbound: ProxyConfig['inbound'] = {
    listen: f.hostPort(...pick(flags.inboundListen, '--inbound-listen', inb, 'inbound', 'listen'), { fallback: DEFAULT_INBOUND_LISTEN, allowZero: true }),
    app: f.hostPort(...pick(flags.app, '--app', inb, 'inbound', 'app')),
    opaquePorts: f.portList(...pick(flags.opaquePorts, '--opaque-ports', inb, 'inbound', 'opaquePorts')),
    detectTimeoutMs: f.duration(...pick(flags.detectTimeout, '--detect-timeout', inb, 'inbound', 'detectTimeout'), DEFAULT_DETECT_TIMEOUT_MS, 10, HOUR)!,
  };
  const routes = flags.outbound?.length
    ? flags.outbound.map((text, i) => route(routeFromFlag(text, `--outbound[${i}]`), `--outbound[${i}] "${text}"`))
    : f.list(out.routes, 'outbound.routes').map((raw, i) => route(raw, `outbound.routes[${i}]`));
  const outbound: ProxyConfig['outbound'] = {
    connectTimeoutMs: f.duration(...pick(flags.outboundConnectTimeout, '--outbound-connect-timeout', out, 'outbound', 'connectTimeout'), DEFAULT_CONNECT_TIMEOUT_MS, 10, HOUR)!,
    routes,
  };
  const admin = { listen: f.hostPort(...pick(flags.adminListen, '--admin-listen', adm, 'admin', 'listen'), { fallback: DEFAULT_ADMIN_LISTEN, allowZero: true }) };
  const policy = parsePolicyConfig(flags, pol, identity.localName);
  const decisionLog = parseDecisionLogConfig(flags, dlog);
  const [levelValue, levelPath] = flags.logLevel !== undefined ? [flags.logLevel, '--log-level'] : [file.logLevel, 'logLevel'];
  const logLevel = f.string(levelValue, levelPath, 'info');
  if (!LOG_LEVELS.includes(logLevel)) f.fail(levelPath, `expected one of ${LOG_LEVELS.join(', ')}, found "${logLevel}"`);

  assertDistinctListeners([
    ['inbound.listen', inbound.listen],
    ['admin.listen', admin.listen],
    ...routes.map((r, i): [string, HostPort] => [`outbound route ${i} listen`, r.listen]),
  ]);
  return { identity, inbound, outbound, admin, policy, ...(decisionLog ? { decisionLog } : {}), logLevel };
}

function route(value: unknown, path: string): OutboundRoute {
  const raw = f.object(value, path, ['listen', 'destination', 'identity', 'opaque', 'targetPort']);
  const opaque = f.boolean(raw.opaque, `${path}.opaque`, false);
  if (opaque && f.isAbsent(raw.targetPort)) f.fail(`${path}.targetPort`, "is required when opaque is true: the server application's port, sent in the transport header");
  if (!opaque && !f.isAbsent(raw.targetPort)) f.fail(`${path}.targetPort`, 'is only used with opaque: true (a plain route goes to the server proxy\'s application address)');
  return {
    listen: f.hostPort(raw.listen, `${path}.listen`, { allowZero: true }),
    destination: f.hostPort(raw.destination, `${path}.destination`),
    identity: f.identityName(raw.identity, `${path}.identity`),
    opaque,
    ...(opaque ? { targetPort: f.port(raw.targetPort, `${path}.targetPort`) } : {}),
  };
}

/** `--outbound LISTEN,DESTINATION,IDENTITY[,opaque=TARGET_PORT]` */
function routeFromFlag(text: string, path: string): f.Raw {
  const [listen, destination, identity, ...rest] = text.split(',').map((s) => s.trim());
  if (!listen || !destination || !identity || rest.length > 1) {
    f.fail(path, `expected LISTEN,DESTINATION,IDENTITY[,opaque=TARGET_PORT], found "${text}"`);
  }
  const opaque = rest[0];
  if (opaque !== undefined && !/^opaque=\d+$/.test(opaque)) f.fail(path, `the fourth part must be opaque=TARGET_PORT, found "${opaque}"`);
  return { listen, destination, identity, ...(opaque ? { opaque: true, targetPort: opaque.slice('opaque='.length) } : {}) };
}

function hostPortText(value: unknown, path: string): string {
  const { host, port } = f.hostPort(value, path);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function assertDistinctListeners(listeners: [string, HostPort][]): void {
  const seen = new Map<string, string>();
  for (const [name, { host, port }] of listeners) {
    if (port === 0) continue; // ephemeral ports never collide
    const key = `${host}:${port}`;
    const other = seen.get(key);
    if (other) f.fail(name, `${key} is also used by ${other}`);
    seen.set(key, name);
  }
}
