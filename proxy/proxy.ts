/**
 * Wires the proxy together: trust bundle file -> credential store <- identity client, and the
 * inbound, outbound and admin listeners that read the store at every handshake. The only place
 * that knows every part; each part knows only its own options.
 */
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { AdminServer } from '../identity/admin.ts';
import { createProxyMetrics, type ProxyMetrics } from './app/admin/metrics.ts';
import { trackPolicyStatus } from './app/admin/policy-status.ts';
import { startProxyAdmin } from './app/admin/server.ts';
import { allowAllPolicy, type InboundPolicy } from './app/inbound/authorize.ts';
import { DecisionLogWriter } from './app/inbound/decision-log.ts';
import { InboundEnforcement } from './app/inbound/enforcement.ts';
import { startInbound } from './app/inbound/server.ts';
import { startOutbound } from './app/outbound/server.ts';
import type { ProxyConfig } from './config.ts';
import { podOfIdentity } from './config-policy.ts';
import { IdentityClient, type IdentityClientOptions } from './identity-client/index.ts';
import type { CredentialsSink } from './identity-client/types.ts';
import type { Listener } from './io/listener.ts';
import { BundleFileWatcher, readBundleFile } from './meshtls/bundle-file.ts';
import { CredentialStore } from './meshtls/store.ts';

/** How long close() waits for closed connections to report their decision records. */
const SETTLE_ON_CLOSE_MS = 2_000;

/** What the identity client looks like from here; tests may pass a fake. */
export interface IdentitySource {
  start(): void;
  stop(): Promise<void>;
  renewNow(): Promise<void>;
}

export interface ProxyRuntime {
  clock: Clock;
  logger: Logger;
  /**
   * Decides every inbound connection, and again on each change; `allowAllPolicy()` by default.
   * The CLI builds one from policy/ (a watched directory, the policy controller). The proxy
   * owns it from here: `close()` closes it.
   */
  policy?: InboundPolicy;
  /** Node process metrics on /metrics; on by default, off in tests that run several proxies. */
  processMetrics?: boolean;
  /** Builds the identity client; the real IdentityClient by default. */
  identitySource?: (options: IdentityClientOptions, sink: CredentialsSink) => IdentitySource;
}

export interface RunningProxy {
  /** Bound ports: the real ones where the configuration asked for port 0. */
  ports: { inbound: number; admin: number; outbound: number[] };
  store: CredentialStore;
  metrics: ProxyMetrics;
  identity: IdentitySource;
  bundleWatcher: BundleFileWatcher;
  policy: InboundPolicy;
  /** Open inbound connections under watch by the policy. */
  enforcement: InboundEnforcement;
  /** The decision log's writer, when the configuration asks for one. */
  decisionLog?: DecisionLogWriter;
  /** Resolves once a certificate is held (the moment /ready turns 200). */
  ready(): Promise<void>;
  /**
   * Stops the identity client, the bundle watch and the policy, closes the listeners and every
   * connection, then writes what the decision log still holds.
   */
  close(): Promise<void>;
}

/**
 * Refuses to start (throws) when the trust bundle file is missing or invalid, or a listener
 * cannot bind. Listeners open before the first certificate arrives: until then meshed
 * connections are refused with `no-identity` and /ready answers 503, as in Linkerd.
 *
 * @example
 * const proxy = await startProxy(await loadProxyConfig(flags), { clock: systemClock, logger });
 * await proxy.ready();
 */
export async function startProxy(config: ProxyConfig, runtime: ProxyRuntime): Promise<RunningProxy> {
  const { clock } = runtime;
  const logger = runtime.logger.child({ proxy: config.identity.localName });
  const policy = runtime.policy ?? allowAllPolicy();
  // The proxy owns the policy from the start: a proxy that cannot start closes it too.
  const initial = await readBundleFile(config.identity.trustBundleFile, clock.now()).catch(async (err: unknown) => {
    await policy.close();
    throw err;
  });
  const store = new CredentialStore({ localIdentity: config.identity.localName, bundle: initial.bundle, clock, logger: logger.child({ component: 'meshtls' }) });
  const metrics = createProxyMetrics({ processMetrics: runtime.processMetrics ?? true });
  const untrackPolicyStatus = trackPolicyStatus(policy, metrics);
  const decisionLog = config.decisionLog
    ? new DecisionLogWriter({
        ...config.decisionLog,
        logger: logger.child({ component: 'decision-log' }),
        onWritten: (n) => metrics.decisionLogRecords.inc(n),
        onDropped: (reason, n) => metrics.decisionLogDropped.inc({ reason }, n),
      })
    : undefined;
  // Reports an unwritable path now (a warn line); the proxy runs on and counts what it drops.
  await decisionLog?.start();
  const enforcement = new InboundEnforcement({
    policy,
    metrics,
    logger,
    ...(config.policy.pod !== undefined ? { pod: config.policy.pod } : {}),
    ...(decisionLog ? { decisionLog: { sink: decisionLog, pod: config.policy.pod ?? podOfIdentity(config.identity.localName) } } : {}),
  });

  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  store.onChange(({ snapshot }) => {
    if (!snapshot.tls) return;
    metrics.certExpiry.set(snapshot.tls.leaf.notAfter.getTime() / 1000);
    markReady();
  });

  const identityOptions: IdentityClientOptions = {
    localIdentity: config.identity.localName,
    tokenFile: config.identity.tokenFile,
    service: { address: config.identity.serviceAddress, serverIdentity: config.identity.serviceName },
    trustBundlePem: () => store.bundle().pem,
    clock,
    logger: logger.child({ component: 'identity-client' }),
    ...(config.identity.minRefreshMs !== undefined ? { minRefreshMs: config.identity.minRefreshMs } : {}),
    ...(config.identity.maxRefreshMs !== undefined ? { maxRefreshMs: config.identity.maxRefreshMs } : {}),
    onRenewed: () => metrics.renewals.inc(),
    onFailure: () => metrics.renewalFailures.inc(),
  };
  const identity = (runtime.identitySource ?? ((o, sink) => new IdentityClient(o, sink)))(identityOptions, store.sink);

  const bundleWatcher = new BundleFileWatcher({
    path: config.identity.trustBundleFile,
    initialText: initial.text,
    store,
    clock,
    logger: logger.child({ component: 'meshtls' }),
    intervalMs: config.identity.bundleReloadIntervalMs,
    onResult: (result) => {
      metrics.bundleReloads.inc({ result });
      // New anchors usually come with a new issuer: ask for a certificate from it now, through a
      // channel that trusts the new bundle, rather than at the next scheduled renewal.
      if (result === 'applied') identity.renewNow().catch(() => {});
    },
  });

  const listeners: Listener[] = [];
  let admin: AdminServer | undefined;
  const closeAll = async () => {
    bundleWatcher.close();
    enforcement.close();
    untrackPolicyStatus();
    await identity.stop();
    await Promise.all([...listeners.map((l) => l.close()), admin?.close(), policy.close()]);
    if (decisionLog) {
      // The connections just closed write their records as their pumps wind down (a dial in
      // progress may take up to its timeout: not waited for beyond this).
      await enforcement.settled(SETTLE_ON_CLOSE_MS);
      await decisionLog.close();
    }
  };
  try {
    admin = await startProxyAdmin({
      listen: config.admin.listen,
      store,
      metrics,
      policy,
      renewNow: () => identity.renewNow(),
      now: () => clock.now(),
      logger: logger.child({ component: 'admin' }),
    });
    const inbound = await startInbound({
      listen: config.inbound.listen,
      app: config.inbound.app,
      allowedTargetPorts: new Set([config.inbound.app.port, ...config.inbound.opaquePorts]),
      detectTimeoutMs: config.inbound.detectTimeoutMs,
      connectTimeoutMs: config.outbound.connectTimeoutMs,
      store,
      enforcement,
      metrics,
      logger,
    });
    listeners.push(inbound);
    for (const route of config.outbound.routes) {
      listeners.push(await startOutbound({ route, connectTimeoutMs: config.outbound.connectTimeoutMs, store, metrics, logger }));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  identity.start();
  bundleWatcher.start();
  const ports = { inbound: listeners[0]!.address.port, admin: admin.port, outbound: listeners.slice(1).map((l) => l.address.port) };
  logger.info({ event: 'proxy.started', ports, bundle: initial.bundle.fingerprint, policy: policy.status() }, 'proxy listening; waiting for a certificate');

  let closing: Promise<void> | undefined;
  return {
    ports,
    store,
    metrics,
    identity,
    bundleWatcher,
    policy,
    enforcement,
    ...(decisionLog ? { decisionLog } : {}),
    ready: () => ready,
    close: () => (closing ??= closeAll()),
  };
}
