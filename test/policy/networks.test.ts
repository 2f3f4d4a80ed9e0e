import { describe, expect, it } from 'vitest';
import { decide, indexOf, sa } from './support.ts';

const POD = 'demo/api-0';

describe('networks with except, in decisions', () => {
  it('v4: ServerAuthorization networks minus except', async () => {
    const index = await indexOf('server-authorization.yaml');
    expect(decide(index, POD, 8081, undefined, '10.8.255.255').decision).toBe('allow');
    expect(decide(index, POD, 8081, undefined, '10.9.0.1').decision).toBe('deny');
    expect(decide(index, POD, 8081, undefined, '10.10.0.1').decision).toBe('allow');
    const d = decide(index, POD, 8081, undefined, '10.9.0.1');
    expect(d.reason).toContain('needs an address in 10.0.0.0/8 (except 10.9.0.0/16) or 2001:db8::/32 (except 2001:db8:bad::/48)');
  });

  it('v6: ServerAuthorization networks minus except', async () => {
    const index = await indexOf('server-authorization.yaml');
    expect(decide(index, POD, 8081, undefined, '2001:db8:1::1').decision).toBe('allow');
    expect(decide(index, POD, 8081, undefined, '2001:db8:bad:ff::1').decision).toBe('deny');
    expect(decide(index, POD, 8081, undefined, '2001:db9::1').decision).toBe('deny');
  });

  it('an IPv4-mapped IPv6 client address matches IPv4 networks', async () => {
    const index = await indexOf('server-authorization.yaml');
    expect(decide(index, POD, 8081, undefined, '::ffff:10.10.0.1').decision).toBe('allow');
    expect(decide(index, POD, 8081, undefined, '::ffff:10.9.0.1').decision).toBe('deny');
    expect(decide(index, POD, 8080, sa('web', 'demo'), '::ffff:10.1.2.3').decision).toBe('allow');
  });
});
