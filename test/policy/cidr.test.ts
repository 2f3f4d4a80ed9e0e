import { describe, expect, it } from 'vitest';
import { cidrContains, cidrCovers, formatIp, networkContains, parseCidr, parseIp, unmapIpv4, type Network } from '../../policy/net/cidr.ts';

const ip = (text: string) => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`test address ${text} does not parse`);
  return parsed;
};
const cidr = (text: string) => {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test CIDR ${text} does not parse`);
  return parsed;
};
const net = (c: string, ...except: string[]): Network => ({ cidr: cidr(c), except: except.map(cidr) });

describe('IP addresses', () => {
  it.each([
    ['10.1.2.3', 4, '10.1.2.3'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['::1', 6, '::1'],
    ['::', 6, '::'],
    ['2001:db8::8:800:200c:417a', 6, '2001:db8::8:800:200c:417a'],
    ['2001:DB8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['fe80::1%eth0', 6, 'fe80::1'],
    ['::ffff:10.1.2.3', 6, '::ffff:a01:203'],
    ['64:ff9b::192.0.2.33', 6, '64:ff9b::c000:221'],
  ])('ok/%s', (text, family, formatted) => {
    const parsed = ip(text);
    expect(parsed.family).toBe(family);
    expect(formatIp(parsed)).toBe(formatted);
  });

  it.each(['', '10.1.2', '10.1.2.3.4', '256.1.1.1', '01.2.3.4', '10.1.2.3 ', 'a.b.c.d', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '12345::', 'example.com', '::1.2.3'])(
    'fail/%j',
    (text) => expect(parseIp(text)).toBeUndefined(),
  );

  it('an IPv4-mapped IPv6 address (how a dual-stack socket reports an IPv4 peer) becomes IPv4', () => {
    expect(unmapIpv4(ip('::ffff:10.1.2.3'))).toEqual(ip('10.1.2.3'));
    expect(unmapIpv4(ip('::1'))).toEqual(ip('::1'));
  });
});

describe('CIDR blocks', () => {
  it('parses a block, clears host bits, and reads a bare address as a /32 or /128', () => {
    expect(cidr('10.1.2.3/8').text).toBe('10.0.0.0/8');
    expect(cidr('10.1.2.3').text).toBe('10.1.2.3/32');
    expect(cidr('fd00:1::5/8').text).toBe('fd00::/8');
    expect(cidr('2001:db8::1').text).toBe('2001:db8::1/128');
    expect(cidr('0.0.0.0/0').text).toBe('0.0.0.0/0');
    expect(cidr('::/0').text).toBe('::/0');
  });

  it.each(['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', 'fe80::/10%eth0', 'x/8'])('fail/%s', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it('matches IPv4 on prefix boundaries', () => {
    expect(cidrContains(cidr('100.64.0.0/10'), ip('100.64.0.0'))).toBe(true);
    expect(cidrContains(cidr('100.64.0.0/10'), ip('100.127.255.255'))).toBe(true);
    expect(cidrContains(cidr('100.64.0.0/10'), ip('100.128.0.0'))).toBe(false);
    expect(cidrContains(cidr('0.0.0.0/0'), ip('203.0.113.9'))).toBe(true);
    expect(cidrContains(cidr('10.1.2.3'), ip('10.1.2.3'))).toBe(true);
    expect(cidrContains(cidr('10.1.2.3'), ip('10.1.2.4'))).toBe(false);
  });

  it('matches IPv6 across word boundaries, and never across families', () => {
    expect(cidrContains(cidr('fd00::/8'), ip('fdff:ffff::1'))).toBe(true);
    expect(cidrContains(cidr('fd00::/8'), ip('fe00::1'))).toBe(false);
    expect(cidrContains(cidr('2001:db8:0:1::/63'), ip('2001:db8:0:0:ffff::1'))).toBe(true);
    expect(cidrContains(cidr('2001:db8:0:1::/64'), ip('2001:db8:0:2::1'))).toBe(false);
    expect(cidrContains(cidr('2001:db8::1:0:0/97'), ip('2001:db8::1:7fff:ffff'))).toBe(true);
    expect(cidrContains(cidr('2001:db8::1:0:0/97'), ip('2001:db8::1:8000:0'))).toBe(false);
    expect(cidrContains(cidr('::/0'), ip('10.1.2.3'))).toBe(false);
    expect(cidrContains(cidr('0.0.0.0/0'), ip('::ffff:10.1.2.3'))).toBe(false);
  });

  it('covers: a block inside another', () => {
    expect(cidrCovers(cidr('10.0.0.0/8'), cidr('10.20.0.0/16'))).toBe(true);
    expect(cidrCovers(cidr('10.20.0.0/16'), cidr('10.0.0.0/8'))).toBe(false);
    expect(cidrCovers(cidr('10.0.0.0/8'), cidr('11.0.0.0/16'))).toBe(false);
    expect(cidrCovers(cidr('::/0'), cidr('10.0.0.0/8'))).toBe(false);
  });
});

describe('networks with except', () => {
  it('v4: except removes sub-ranges and single addresses', () => {
    const n = net('10.20.0.0/16', '10.20.99.0/24', '10.20.7.7');
    expect(networkContains(n, ip('10.20.1.1'))).toBe(true);
    expect(networkContains(n, ip('10.20.99.200'))).toBe(false);
    expect(networkContains(n, ip('10.20.7.7'))).toBe(false);
    expect(networkContains(n, ip('10.20.7.8'))).toBe(true);
    expect(networkContains(n, ip('10.21.0.1'))).toBe(false);
  });

  it('v6: except removes sub-ranges', () => {
    const n = net('2001:db8::/32', '2001:db8:bad::/48');
    expect(networkContains(n, ip('2001:db8:1::1'))).toBe(true);
    expect(networkContains(n, ip('2001:db8:bad:1::1'))).toBe(false);
    expect(networkContains(n, ip('2001:db9::1'))).toBe(false);
  });
});
