import { describe, expect, it } from 'vitest';
import { SerialSource } from '../../identity/authority/serials.ts';

describe('serial source', () => {
  it('gives distinct, positive, 16-byte serials across pool refills, and copies that stay put', () => {
    const source = new SerialSource();
    const serials = Array.from({ length: 1000 }, () => source.next()); // about four refills
    const first = Buffer.from(serials[0]!);
    expect(new Set(serials.map((s) => s.toString('hex'))).size).toBe(1000);
    for (const s of serials) {
      expect(s.length).toBe(16);
      expect(s[0]! & 0x80).toBe(0); // positive
      expect(s[0]! & 0x40).toBe(0x40); // no leading zero octet
    }
    expect(serials[0]!.equals(first)).toBe(true); // not overwritten by later refills
  });
});
