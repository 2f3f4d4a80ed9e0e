/**
 * Acceptance, certificate renewal under load, with real processes: `identity serve --leaf-lifetime
 * 10s`, and both proxies with `--min-refresh 1s` (they renew at ~70% of the lifetime, about every
 * 7 s; the default 10 s minimum would be longer than the certificate itself). For 60 s, traffic
 * runs without a pause: new connections one after the other from several workers, and one
 * long-lived stream opened before the first renewal and still open after the last. Every byte is
 * checked. Renewal must be invisible to the traffic: no failed connection, no corrupted byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessMesh, type ProcessMesh } from './support/process-mesh.ts';
import { sleep } from './support/processes.ts';
import { echo, startServer, type TestServer } from './support/sockets.ts';
import { startTraffic } from './support/traffic.ts';

const TRAFFIC_MS = 60_000;

let mesh: ProcessMesh;
let app: TestServer;

beforeAll(async () => {
  app = await startServer((s) => echo(s));
  mesh = await startProcessMesh({ appPort: app.port, leafLifetime: '10s', proxyFlags: ['--min-refresh', '1s'] });
}, 180_000);

afterAll(async () => {
  await mesh?.close();
  await app?.close();
}, 60_000);

describe('acceptance: renewal with 10 s certificates under continuous traffic', () => {
  it('renews at least 5 times in 60 s on each proxy with 0 failed connections and 0 corrupted bytes', async () => {
    const proxies = [mesh.web, mesh.api];
    const renewals = () => Promise.all(proxies.map((p) => p.metric('proxy_identity_renewals_total')));
    const serials = () => Promise.all(proxies.map(async (p) => (await p.identityDocument()).serial));
    const [renewalsBefore, serialsBefore] = [await renewals(), await serials()];

    const traffic = await startTraffic({ port: mesh.outboundPort });
    await sleep(TRAFFIC_MS);
    const report = await traffic.stop();

    const [renewalsAfter, serialsAfter] = [await renewals(), await serials()];
    const failures = await Promise.all(proxies.map((p) => p.metric('proxy_identity_renewal_failures_total')));
    console.log(
      `renewal: ${report.connections} connections, ${report.failed} failed; long-lived stream ${report.stream.received} of ${report.stream.sent} bytes echoed, ` +
        `${report.stream.corrupted} corrupted; renewals web ${renewalsAfter[0]! - renewalsBefore[0]!}, api ${renewalsAfter[1]! - renewalsBefore[1]!}; ` +
        `renewal failures web ${failures[0]}, api ${failures[1]}`,
    );
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.stream).toEqual({ sent: report.stream.sent, received: report.stream.sent, corrupted: 0, ending: 'end' });
    expect(report.stream.sent).toBeGreaterThan(0);
    expect(report.connections).toBeGreaterThanOrEqual(50);
    for (const [i, p] of proxies.entries()) {
      expect(renewalsAfter[i]! - renewalsBefore[i]!, `${p.name}'s proxy renewals`).toBeGreaterThanOrEqual(5);
      expect(serialsAfter[i], `${p.name}'s proxy serial`).not.toBe(serialsBefore[i]);
    }
    // The certificates in use really are 10 s ones.
    for (const p of proxies) {
      const doc = await p.identityDocument();
      expect(Date.parse(doc.notAfter) - Date.now()).toBeLessThanOrEqual(10_000);
    }
  }, 180_000);
});
