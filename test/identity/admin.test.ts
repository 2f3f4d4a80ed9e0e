import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../common/log.ts';
import { startAdminServer, type AdminServer } from '../../identity/admin.ts';
import { createIdentityMetrics } from '../../identity/metrics.ts';

const METRIC_NAMES = [
  'identity_certify_requests_total',
  'identity_certify_duration_seconds',
  'identity_issuer_expiry_timestamp_seconds',
  'identity_anchor_expiry_timestamp_seconds',
  'identity_issuer_reloads_total',
  'identity_ledger_records_total',
  'identity_serving_certificate_expiry_timestamp_seconds',
  'process_cpu_user_seconds_total',
  'nodejs_heap_size_used_bytes',
];

let admin: AdminServer;
let ready = false;
const metrics = createIdentityMetrics();
const url = (path: string) => `http://127.0.0.1:${admin.port}${path}`;

beforeAll(async () => {
  admin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    logger: silentLogger,
    ready: () => ({ ready, detail: { issuer: ready ? 'loaded' : 'missing' } }),
  });
});
afterAll(async () => {
  await admin?.close();
});

it('/metrics serves every identity metric and the process metrics in Prometheus text', async () => {
  metrics.certifyRequests.inc({ code: 'PERMISSION_DENIED' });
  metrics.anchorExpiry.set({ fingerprint: 'ab:cd' }, 2_000_000_000);
  const res = await fetch(url('/metrics'));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  for (const name of METRIC_NAMES) expect(text).toContain(`# TYPE ${name} `);
  expect(text).toContain('identity_certify_requests_total{code="PERMISSION_DENIED"} 1');
  expect(text).toContain('identity_certify_requests_total{code="OK"} 0');
  expect(text).toContain('identity_anchor_expiry_timestamp_seconds{fingerprint="ab:cd"} 2000000000');
});

it('/ready is 503 with its detail until ready, then 200', async () => {
  const before = await fetch(url('/ready'));
  expect(before.status).toBe(503);
  expect(await before.json()).toEqual({ ready: false, detail: { issuer: 'missing' } });
  ready = true;
  const after = await fetch(url('/ready'));
  expect(after.status).toBe(200);
  expect(await after.json()).toEqual({ ready: true, detail: { issuer: 'loaded' } });
});

it('/live is 200; unknown paths are 404; other methods 405', async () => {
  expect((await fetch(url('/live'))).status).toBe(200);
  expect((await fetch(url('/nope'))).status).toBe(404);
  expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(405);
});

it('metrics of two instances are independent', async () => {
  const other = createIdentityMetrics({ processMetrics: false });
  other.ledgerRecords.inc();
  expect((await metrics.ledgerRecords.get()).values[0]?.value ?? 0).toBe(0);
  expect((await other.ledgerRecords.get()).values[0]?.value).toBe(1);
});
