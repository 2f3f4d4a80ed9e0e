/**
 * A small mesh on loopback for end to end tests: a real identity service over a test home, and
 * proxies started in-process with real identity clients, each with its own token and bundle file.
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../../common/clock.ts';
import { silentLogger, type Logger } from '../../../common/log.ts';
import { identityName } from '../../../common/names.ts';
import { startIdentityService, type RunningIdentityService } from '../../../identity/service.ts';
import { LocalJwtValidator } from '../../../identity/validators/local-jwt-validator.ts';
import type { InboundPolicy } from '../../../proxy/app/inbound/authorize.ts';
import type { OutboundRoute } from '../../../proxy/app/outbound/server.ts';
import { DEFAULT_IDENTITY_SERVICE_NAME, type ProxyConfig } from '../../../proxy/config.ts';
import type { DecisionLogConfig } from '../../../proxy/config-decision-log.ts';
import { startProxy, type RunningProxy } from '../../../proxy/proxy.ts';
import { makeTestHome, testDomain, type TestHome } from '../../support/home.ts';

export const idOf = (name: string) => identityName({ namespace: 'demo', name }, testDomain);

export interface Mesh {
  home: TestHome;
  service: RunningIdentityService;
  /** Starts a proxy for ServiceAccount `demo/<sa>`; closed with the mesh. */
  proxy(options: MeshProxyOptions): Promise<RunningProxy & { bundleFile: string }>;
  close(): Promise<void>;
}

export interface MeshProxyOptions {
  sa: string;
  /** The identity the proxy claims; default that of `sa` (a different one makes Certify fail). */
  localName?: string;
  appPort?: number;
  opaquePorts?: number[];
  routes?: Omit<OutboundRoute, 'listen'>[];
  detectTimeoutMs?: number;
  /** The inbound policy (allow-all by default); the proxy closes it. */
  policy?: InboundPolicy;
  /** `NS/NAME` of the proxy's pod, for its decision log lines. */
  pod?: string;
  /** Write the decision log there (none by default). */
  decisionLog?: DecisionLogConfig;
  logger?: Logger;
}

export async function startMesh(): Promise<Mesh> {
  const home = await makeTestHome();
  const service = await startIdentityService({
    store: home.store,
    domain: testDomain,
    validator: new LocalJwtValidator({ verificationKey: home.tokenPublicKey, trustDomain: testDomain.trustDomain, clock: systemClock }),
    ledgerPath: join(home.home, 'ledger.jsonl'),
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    clock: systemClock,
    logger: silentLogger,
  });
  const proxies: RunningProxy[] = [];
  let count = 0;
  return {
    home,
    service,
    async proxy(o) {
      const n = ++count;
      const tokenFile = join(home.home, `proxy-${n}.token`);
      const bundleFile = join(home.home, `proxy-${n}-bundle.crt`);
      await writeFile(tokenFile, await home.token({ namespace: 'demo', name: o.sa }));
      await copyFile(join(home.home, 'bundle.crt'), bundleFile);
      const config: ProxyConfig = {
        identity: {
          localName: o.localName ?? idOf(o.sa),
          tokenFile,
          trustBundleFile: bundleFile,
          serviceAddress: `127.0.0.1:${service.port}`,
          serviceName: DEFAULT_IDENTITY_SERVICE_NAME,
          bundleReloadIntervalMs: 3_600_000, // tests call checkNow()
        },
        inbound: {
          listen: { host: '127.0.0.1', port: 0 },
          app: { host: '127.0.0.1', port: o.appPort ?? 9 },
          opaquePorts: o.opaquePorts ?? [],
          detectTimeoutMs: o.detectTimeoutMs ?? 10_000,
        },
        outbound: {
          connectTimeoutMs: 10_000,
          routes: (o.routes ?? []).map((r) => ({ ...r, listen: { host: '127.0.0.1', port: 0 } })),
        },
        admin: { listen: { host: '127.0.0.1', port: 0 } },
        policy: {
          source: { kind: 'none' },
          ...(o.pod ? { pod: o.pod } : {}),
          clusterNetworks: [],
          trustDomain: testDomain.trustDomain,
          controlPlaneNamespace: testDomain.controlPlaneNamespace,
        },
        ...(o.decisionLog ? { decisionLog: o.decisionLog } : {}),
        logLevel: 'silent',
      };
      const proxy = await startProxy(config, {
        clock: systemClock,
        logger: o.logger ?? silentLogger,
        processMetrics: false,
        ...(o.policy ? { policy: o.policy } : {}),
      });
      proxies.push(proxy);
      return Object.assign(proxy, { bundleFile });
    },
    async close() {
      await Promise.all(proxies.map((p) => p.close()));
      await service.close();
      await home.cleanup();
    },
  };
}

/** The value of one series in a proxy's /metrics text, e.g. `metric(p, 'proxy_tcp_open_total', { direction: 'inbound' })`. */
export async function metric(proxy: RunningProxy, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await proxy.metrics.registry.metrics();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

/** Polls `check` until it is true (or fails after `timeoutMs`): for counters that move after a close. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
