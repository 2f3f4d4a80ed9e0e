/**
 * A strict DER reader and a small writer, for the certificate authority's hot path: ASN.1 through
 * a general-purpose schema library costs more per request than the cryptography does. Encoding
 * only — every cryptographic operation stays in node:crypto.
 *
 * The reader accepts DER alone (definite, minimal lengths; low tag numbers) and checks every
 * bound, since it reads untrusted CSRs. It throws DerError on anything else.
 */

export class DerError extends Error {
  override name = 'DerError';
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV inside `buf`: header at `start`, contents from `contentStart` to `end`. */
export interface DerNode {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

const MAX_DEPTH = 32;

export class DerReader {
  readonly buf: Buffer;

  constructor(buf: Uint8Array) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The single TLV that must span the whole buffer. */
  root(): DerNode {
    const node = this.readAt(0, this.buf.length);
    if (node.end !== this.buf.length) throw new DerError('trailing bytes after the DER value');
    return node;
  }

  readAt(offset: number, limit: number): DerNode {
    if (offset + 2 > limit) throw new DerError('truncated DER header');
    const tag = this.buf[offset]!;
    if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
    let length = this.buf[offset + 1]!;
    let contentStart = offset + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0) throw new DerError('indefinite length is not DER');
      if (count > 4) throw new DerError('DER length too large');
      if (contentStart + count > limit) throw new DerError('truncated DER length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.buf[contentStart + i]!;
      if (this.buf[contentStart] === 0 || length < 0x80) throw new DerError('DER length is not minimal');
      contentStart += count;
    }
    const end = contentStart + length;
    if (end > limit) throw new DerError('DER value runs past its container');
    return { tag, start: offset, contentStart, end };
  }

  /** The children of a constructed node, each checked to lie within it. */
  children(node: DerNode, depth = 0): DerNode[] {
    if ((node.tag & 0x20) === 0) throw new DerError('expected a constructed value');
    if (depth > MAX_DEPTH) throw new DerError('DER nesting too deep');
    const out: DerNode[] = [];
    for (let at = node.contentStart; at < node.end; ) {
      const child = this.readAt(at, node.end);
      out.push(child);
      at = child.end;
    }
    return out;
  }

  /** Children of `node`, which must have tag `tag`. */
  expect(node: DerNode | undefined, tag: number, what: string): DerNode {
    if (!node || node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
    return node;
  }

  content(node: DerNode): Buffer {
    return this.buf.subarray(node.contentStart, node.end);
  }

  whole(node: DerNode): Buffer {
    return this.buf.subarray(node.start, node.end);
  }
}

/** Decodes a DER OBJECT IDENTIFIER's contents to dotted form (for messages and comparisons). */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

export function encodeOid(oid: string): Buffer {
  const [a, b, ...rest] = oid.split('.').map(Number);
  const bytes: number[] = [];
  for (const n of [a! * 40 + b!, ...rest]) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(Tag.OID, Buffer.from(bytes));
}

/** Decodes a directory string value (CN and friends) to text. */
export function decodeDirectoryString(tag: number, content: Buffer): string {
  switch (tag) {
    case Tag.UTF8_STRING:
      return content.toString('utf8');
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.TELETEX_STRING:
      return content.toString('latin1');
    case Tag.BMP_STRING:
      return Buffer.from(content).swap16().toString('utf16le');
    default:
      throw new DerError(`unsupported string type 0x${tag.toString(16)}`);
  }
}

// ---- writer ----

export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const length = contents.reduce((n, c) => n + c.length, 0);
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else header = Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.concat([header, ...contents], header.length + length);
}

export const sequence = (...contents: Uint8Array[]) => tlv(Tag.SEQUENCE, ...contents);

/** A positive INTEGER from unsigned big-endian bytes, minimal. */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && (bytes[i + 1]! & 0x80) === 0) i++;
  const body = bytes.subarray(i);
  return (body[0]! & 0x80) !== 0 ? tlv(Tag.INTEGER, Buffer.from([0]), body) : tlv(Tag.INTEGER, body);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime after; whole seconds, Zulu. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(`${digits}Z`, 'latin1'));
}

export function parseTime(tag: number, content: Buffer): Date {
  const text = content.toString('latin1');
  const m = tag === Tag.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) throw new DerError(`time "${text}" is not DER`);
  let year = Number(m[1]);
  if (tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
