/**
 * Acceptance, identity service outage, with real processes. The identity service is SIGKILLed
 * (a crash, not a shutdown) for 30 s while traffic keeps running on the certificates the proxies
 * hold; then it is started again on the same port, and renewals resume without touching the
 * proxies.
 *
 * Settings: `--leaf-lifetime 2m`, so that the certificates outlive the outage by far, and
 * `--min-refresh 1s --max-refresh 2s` on the proxies, so that they renew every ~2 s (max-refresh
 * caps the 70%-of-lifetime delay) and retry every second while the service is gone: renewal
 * attempts really happen, and fail, during the outage. The service listens on a fixed port below
 * the ephemeral range, so that the thousands of connections the traffic makes meanwhile cannot
 * take it (see freePortBelowEphemeralRange).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessMesh, type ProcessMesh } from './support/process-mesh.ts';
import { freePortBelowEphemeralRange, kill, sleep, startIdentityProcess, waitUntil } from './support/processes.ts';
import { echo, startServer, type TestServer } from './support/sockets.ts';
import { startTraffic, type Traffic } from './support/traffic.ts';

const OUTAGE_MS = 30_000;

let mesh: ProcessMesh;
let app: TestServer;
let traffic: Traffic | undefined;
let port: number;

beforeAll(async () => {
  app = await startServer((s) => echo(s));
  port = await freePortBelowEphemeralRange();
  mesh = await startProcessMesh({
    appPort: app.port,
    identityListen: `127.0.0.1:${port}`,
    leafLifetime: '2m',
    proxyFlags: ['--min-refresh', '1s', '--max-refresh', '2s'],
  });
}, 180_000);

afterAll(async () => {
  await traffic?.stop().catch(() => undefined);
  await mesh?.close();
  await app?.close();
}, 90_000);

describe('acceptance: the identity service is down for 30 s', () => {
  it('traffic continues with 0 failures, failed renewals are counted, and renewals resume after a restart on the same port', async () => {
    const proxies = [mesh.web, mesh.api];
    const metric = (name: string) => Promise.all(proxies.map((p) => p.metric(name)));
    const renewals = () => metric('proxy_identity_renewals_total');
    const failures = () => metric('proxy_identity_renewal_failures_total');

    traffic = await startTraffic({ port: mesh.outboundPort });
    // Renewals are happening before the outage (every ~2 s).
    const initial = await renewals();
    await waitUntil('two renewals on each proxy before the outage', async () => (await renewals()).every((n, i) => n >= initial[i]! + 2), 30_000);

    await kill(mesh.identity.process);
    await sleep(1_000); // lets an answer that was already on its way before the kill be counted first
    const [renewalsAtKill, failuresAtKill] = [await renewals(), await failures()];
    const expiry = await Promise.all(proxies.map(async (p) => Date.parse((await p.identityDocument()).notAfter)));
    await sleep(OUTAGE_MS);

    const [renewalsAfterOutage, failuresAfterOutage] = [await renewals(), await failures()];
    const during = traffic.progress();
    console.log(
      `outage: renewal failures during the outage web ${failuresAfterOutage[0]! - failuresAtKill[0]!}, api ${failuresAfterOutage[1]! - failuresAtKill[1]!}; ` +
        `${during.connections} connections so far, ${during.failed} failed`,
    );
    expect(renewalsAfterOutage).toEqual(renewalsAtKill); // nobody to renew from
    for (const [i, p] of proxies.entries()) {
      expect(failuresAfterOutage[i]! - failuresAtKill[i]!, `${p.name}'s proxy renewal failures during the outage`).toBeGreaterThanOrEqual(5);
      // Still ready, on the same certificate, which is still valid.
      expect((await fetch(`http://127.0.0.1:${p.ports.admin}/ready`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
      expect(Date.parse((await p.identityDocument()).notAfter)).toBe(expiry[i]);
      expect(expiry[i]!).toBeGreaterThan(Date.now());
    }
    expect(during.failed).toBe(0);

    // Back on the same address: the proxies need no restart and no new configuration.
    const restarted = await startIdentityProcess(mesh.processes, { home: mesh.home.home, name: 'identity-restarted', listen: `127.0.0.1:${port}`, leafLifetime: '2m' });
    expect(restarted.port).toBe(port);
    await waitUntil('renewals to resume on both proxies', async () => (await renewals()).every((n, i) => n >= renewalsAtKill[i]! + 2), 60_000);

    const report = await traffic.stop();
    traffic = undefined;
    console.log(`outage: ${report.connections} connections in all, ${report.failed} failed; long-lived stream ${report.stream.received} bytes echoed, ${report.stream.corrupted} corrupted`);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.stream).toEqual({ sent: report.stream.sent, received: report.stream.sent, corrupted: 0, ending: 'end' });
    expect(report.stream.sent).toBeGreaterThan(0);
    expect(report.connections).toBeGreaterThanOrEqual(50);
    for (const [i, p] of proxies.entries()) {
      expect(Date.parse((await p.identityDocument()).notAfter), `${p.name}'s proxy holds a new certificate`).toBeGreaterThan(expiry[i]!);
    }
  }, 240_000);
});
