/**
 * The proxy's admin endpoints that a trust rotation relies on: `GET /identity` says which
 * anchors of the bundle the certificate in use chains to and which issuer signed it, and
 * `POST /renew` starts a renewal now. Read through the fleet client the rotation commands use.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProxyTrust, requestRenewal } from '../../proxy/app/admin/fleet-client.ts';
import { anchorFingerprint, certificateFingerprint } from '../../trust-anchors/rotation/fingerprints.ts';
import { eventually, startMesh, type Mesh } from './support/mesh.ts';

let mesh: Mesh;
beforeAll(async () => {
  mesh = await startMesh();
});
afterAll(async () => {
  await mesh?.close();
});

function call(port: number, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('proxy admin: trust held, and renewal on request', () => {
  it('GET /identity names the anchor the certificate chains to and the issuer that signed it', async () => {
    const proxy = await mesh.proxy({ sa: 'web' });
    await proxy.ready();
    const admin = `127.0.0.1:${proxy.ports.admin}`;
    const trust = await readProxyTrust(admin, 5_000);
    const anchorPem = mesh.home.bundle.pem;
    expect(trust.bundleFingerprint).toBe(mesh.home.bundle.fingerprint);
    expect(trust.certificateAnchors).toEqual([anchorFingerprint(anchorPem)]);
    const stored = await mesh.home.store.readIssuer();
    expect(trust.issuerFingerprint).toBe(certificateFingerprint(stored.certificatePem));
    expect(trust.notAfter).not.toBeNull();
  });

  it('POST /renew starts a renewal: a new certificate follows, from the same issuer', async () => {
    const proxy = await mesh.proxy({ sa: 'api' });
    await proxy.ready();
    const admin = `127.0.0.1:${proxy.ports.admin}`;
    const before = proxy.store.snapshot().tls!.leaf.serialHex;
    await requestRenewal(admin, 5_000);
    await eventually(() => proxy.store.snapshot().tls!.leaf.serialHex !== before);
    const trust = await readProxyTrust(admin, 5_000);
    expect(trust.certificateAnchors).toEqual([anchorFingerprint(mesh.home.bundle.pem)]);
  });

  it('/renew takes no body and no GET; other paths still refuse POST', async () => {
    const proxy = await mesh.proxy({ sa: 'db' });
    await proxy.ready();
    const port = proxy.ports.admin;
    expect(await call(port, 'POST', '/renew', 'x')).toBe(413);
    expect(await call(port, 'GET', '/renew')).toBe(404);
    expect(await call(port, 'POST', '/identity')).toBe(405);
    expect(await call(port, 'POST', '/renew')).toBe(202);
  });
});
