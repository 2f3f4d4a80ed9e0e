/**
 * Linkerd's transport header (linkerd2-proxy `linkerd/transport-header`): what a client proxy
 * writes first on a mutual-TLS connection negotiated with ALPN `transport.l5d.io/v1`, so that the
 * server proxy knows the target port without looking at the application's bytes.
 *
 *   "transport.l5d.io/v1\r\n\r\n" | u32 big-endian length | protobuf transport.l5d.io.Header
 *   message Header { int32 port = 1; string name = 2; SessionProtocol session_protocol = 3; }
 *   message SessionProtocol { oneof kind { Http1 http1 = 1; Http2 http2 = 2; } }  // absent: opaque
 *
 * Three fields do not justify a protobuf runtime: they are encoded by hand here, and the decoder
 * follows proto3 rules (unknown fields skipped, the last value of a repeated scalar wins).
 */

export const TRANSPORT_ALPN = 'transport.l5d.io/v1';
export const PREFACE = Buffer.from('transport.l5d.io/v1\r\n\r\n', 'ascii');
/** A header is a port and a DNS name: a few hundred bytes. Anything longer fails the connection. */
export const MAX_HEADER_LENGTH = 8 * 1024;

export type SessionProtocol = 'http1' | 'http2';

export interface TransportHeader {
  port: number;
  /** Optional logical name of the target (Linkerd sends the authority for HTTP); empty when absent. */
  name: string;
  /** Absent: the stream is opaque. */
  sessionProtocol?: SessionProtocol;
}

export class TransportHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportHeaderError';
  }
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export function encodeTransportHeader(header: TransportHeader): Buffer {
  if (!Number.isInteger(header.port) || header.port < 1 || header.port > 65535) {
    throw new RangeError(`transport header port ${header.port} is not in 1..65535`);
  }
  const parts: Buffer[] = [varint((1 << 3) | WIRE_VARINT), varint(header.port)];
  if (header.name) parts.push(lengthDelimited(2, Buffer.from(header.name, 'utf8')));
  if (header.sessionProtocol) {
    // SessionProtocol { Http1 http1 = 1 | Http2 http2 = 2 }: the chosen member is an empty message.
    const member = header.sessionProtocol === 'http1' ? 1 : 2;
    parts.push(lengthDelimited(3, lengthDelimited(member, Buffer.alloc(0))));
  }
  const message = Buffer.concat(parts);
  if (message.length > MAX_HEADER_LENGTH) throw new RangeError(`transport header of ${message.length} bytes exceeds ${MAX_HEADER_LENGTH}`);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length);
  return Buffer.concat([PREFACE, length, message]);
}

export type DecodeResult = { status: 'incomplete' } | { status: 'complete'; header: TransportHeader; consumed: number };

/**
 * Decodes a header from the start of `input`. Incremental: `incomplete` asks for more bytes;
 * a wrong preface, a length over `maxLength` or a malformed message throws TransportHeaderError.
 */
export function decodeTransportHeader(input: Uint8Array, maxLength = MAX_HEADER_LENGTH): DecodeResult {
  const prefaceBytes = Math.min(input.length, PREFACE.length);
  if (!PREFACE.subarray(0, prefaceBytes).equals(input.subarray(0, prefaceBytes))) {
    throw new TransportHeaderError('the connection does not start with the transport header preface');
  }
  if (input.length < PREFACE.length + 4) return { status: 'incomplete' };
  const length = Buffer.from(input.buffer, input.byteOffset, input.length).readUInt32BE(PREFACE.length);
  if (length > maxLength) throw new TransportHeaderError(`transport header length ${length} exceeds the ${maxLength}-byte limit`);
  const start = PREFACE.length + 4;
  if (input.length < start + length) return { status: 'incomplete' };
  return { status: 'complete', header: decodeMessage(input.subarray(start, start + length)), consumed: start + length };
}

function decodeMessage(bytes: Uint8Array): TransportHeader {
  const fields = new FieldReader(bytes, 'Header');
  let port: number | undefined;
  let name = '';
  let sessionProtocol: SessionProtocol | undefined;
  while (!fields.done) {
    const { field, wire } = fields.tag();
    if (field === 1 && wire === WIRE_VARINT) port = Number(BigInt.asIntN(32, fields.varintBig()));
    else if (field === 2 && wire === WIRE_LENGTH_DELIMITED) name = decodeUtf8(fields.bytes());
    else if (field === 3 && wire === WIRE_LENGTH_DELIMITED) sessionProtocol = decodeSessionProtocol(fields.bytes()) ?? sessionProtocol;
    else if (field <= 3) throw new TransportHeaderError(`Header field ${field} has wire type ${wire}`);
    else fields.skip(wire);
  }
  if (port === undefined || port < 1 || port > 65535) throw new TransportHeaderError(`transport header port ${port ?? '(absent)'} is not in 1..65535`);
  return { port, name, ...(sessionProtocol ? { sessionProtocol } : {}) };
}

function decodeSessionProtocol(bytes: Uint8Array): SessionProtocol | undefined {
  const fields = new FieldReader(bytes, 'SessionProtocol');
  let kind: SessionProtocol | undefined;
  while (!fields.done) {
    const { field, wire } = fields.tag();
    if ((field === 1 || field === 2) && wire === WIRE_LENGTH_DELIMITED) {
      fields.bytes(); // Http1 / Http2 have no fields; anything inside is an unknown field, ignored
      kind = field === 1 ? 'http1' : 'http2'; // oneof: the last member seen wins
    } else fields.skip(wire);
  }
  return kind;
}

/** proto3 reading with every length checked against the bytes left. */
class FieldReader {
  #pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}
  get done(): boolean {
    return this.#pos >= this.buf.length;
  }
  tag(): { field: number; wire: number } {
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    if (field === 0) throw new TransportHeaderError(`${this.what} has a field number 0`);
    return { field, wire: tag % 8 };
  }
  /** A length or tag; values past 2^53 are nonsense here and fail the bounds checks that follow. */
  varint(): number {
    return Number(this.varintBig());
  }
  /** Up to 64 bits, exact: int32 arrives as a 64-bit two's-complement varint (ten bytes when negative). */
  varintBig(): bigint {
    let result = 0n;
    for (let i = 0n; i < 10n; i++) {
      if (this.#pos >= this.buf.length) throw new TransportHeaderError(`${this.what} is truncated inside a varint`);
      const byte = this.buf[this.#pos++]!;
      result |= BigInt(byte & 0x7f) << (7n * i);
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new TransportHeaderError(`${this.what} has a varint longer than 10 bytes`);
  }
  bytes(): Uint8Array {
    const length = this.varint();
    if (length > this.buf.length - this.#pos) throw new TransportHeaderError(`${this.what} has a field longer than the message`);
    const out = this.buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_LENGTH_DELIMITED) this.bytes();
    else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      const n = wire === WIRE_FIXED64 ? 8 : 4;
      if (n > this.buf.length - this.#pos) throw new TransportHeaderError(`${this.what} is truncated inside a fixed field`);
      this.#pos += n;
    } else throw new TransportHeaderError(`${this.what} has an unsupported wire type ${wire}`);
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TransportHeaderError('transport header name is not valid UTF-8');
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | WIRE_LENGTH_DELIMITED), varint(payload.length), payload]);
}
