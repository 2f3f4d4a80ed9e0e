import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  decodeTransportHeader,
  encodeTransportHeader,
  MAX_HEADER_LENGTH,
  PREFACE,
  TransportHeaderError,
} from '../../proxy/transport-header/header.ts';
import { readTransportHeader } from '../../proxy/transport-header/read.ts';

// protobufjs comes with grpc-js; here only as an independent encoder to compare against.
const protobuf = createRequire(import.meta.url)('protobufjs') as typeof import('protobufjs');
const Header = protobuf.Root.fromJSON({
  nested: {
    Header: {
      fields: { port: { type: 'int32', id: 1 }, name: { type: 'string', id: 2 }, session_protocol: { type: 'SessionProtocol', id: 3 } },
    },
    SessionProtocol: {
      oneofs: { kind: { oneof: ['http1', 'http2'] } },
      fields: { http1: { type: 'Http1', id: 1 }, http2: { type: 'Http2', id: 2 } },
      nested: { Http1: { fields: {} }, Http2: { fields: {} } },
    },
  },
}).lookupType('Header');

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('transport header wire format', () => {
  it('is the preface, a big-endian length and the protobuf message, byte by byte', () => {
    const bytes = encodeTransportHeader({ port: 8080, name: '' });
    // "transport.l5d.io/v1" CR LF CR LF: 19 + 4 = 23 bytes
    expect(bytes.subarray(0, 23).toString('latin1')).toBe('transport.l5d.io/v1\r\n\r\n');
    expect(PREFACE.length).toBe(23);
    // length 3, then field 1 (tag 0x08, varint) = 8080 = 0x1f90 -> varint 0x90 0x3f
    expect(bytes.subarray(23)).toEqual(hex('00000003 08 903f'));
  });

  it('encodes name (field 2) and session protocol (field 3, oneof http1=1 / http2=2)', () => {
    const bytes = encodeTransportHeader({ port: 4143, name: 'db', sessionProtocol: 'http2' });
    // 08 af20 (4143) | 12 02 "db" | 1a 02 (12 00: http2, an empty message)
    expect(bytes.subarray(23)).toEqual(hex('0000000b 08af20 1202 6462 1a02 1200'));
    const http1 = encodeTransportHeader({ port: 1, name: '', sessionProtocol: 'http1' });
    expect(http1.subarray(23)).toEqual(hex('00000006 0801 1a02 0a00'));
  });

  it('agrees with protobufjs in both directions', () => {
    for (const header of [
      { port: 1, name: '' },
      { port: 65535, name: 'api.demo.svc.cluster.local:8080', sessionProtocol: 'http1' as const },
      { port: 5432, name: 'é', sessionProtocol: 'http2' as const },
    ]) {
      const ours = encodeTransportHeader(header);
      const message = ours.subarray(27);
      const decoded = Header.toObject(Header.decode(message), { defaults: true }) as { port: number; name: string; session_protocol?: object };
      expect(decoded.port).toBe(header.port);
      expect(decoded.name).toBe(header.name);
      expect(decoded.session_protocol ? Object.keys(decoded.session_protocol) : []).toEqual(header.sessionProtocol ? [header.sessionProtocol] : []);

      const theirs = Buffer.from(
        Header.encode(Header.create({ port: header.port, name: header.name, ...(header.sessionProtocol ? { session_protocol: { [header.sessionProtocol]: {} } } : {}) })).finish(),
      );
      const framed = Buffer.concat([PREFACE, Buffer.from([0, 0, 0, theirs.length]), theirs]);
      const result = decodeTransportHeader(framed);
      expect(result).toEqual({ status: 'complete', header: { port: header.port, name: header.name, ...(header.sessionProtocol ? { sessionProtocol: header.sessionProtocol } : {}) }, consumed: framed.length });
    }
  });
});

describe('decodeTransportHeader', () => {
  const frame = (message: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(message.length);
    return Buffer.concat([PREFACE, length, message]);
  };

  it('asks for more bytes on every proper prefix', () => {
    const bytes = encodeTransportHeader({ port: 8080, name: 'x', sessionProtocol: 'http1' });
    for (let n = 0; n < bytes.length; n++) expect(decodeTransportHeader(bytes.subarray(0, n))).toEqual({ status: 'incomplete' });
  });

  it('refuses a wrong preface at the first wrong byte', () => {
    expect(() => decodeTransportHeader(Buffer.from('GET '))).toThrow(TransportHeaderError);
    expect(() => decodeTransportHeader(Buffer.from('transport.l5d.io/v2'))).toThrow(/preface/);
  });

  it('refuses a length over the limit before the body arrives', () => {
    const head = Buffer.concat([PREFACE, hex('00100000')]);
    expect(() => decodeTransportHeader(head)).toThrow(/exceeds/);
    expect(() => decodeTransportHeader(Buffer.concat([PREFACE, hex('00000010')]), 8)).toThrow(/exceeds/);
    expect(MAX_HEADER_LENGTH).toBeLessThanOrEqual(65_536);
  });

  it('skips unknown fields and keeps the last port (proto3)', () => {
    // field 4 varint, field 5 fixed32, field 6 fixed64, field 7 bytes; port twice
    const message = hex('0801 2001 2d01020304 310102030405060708 3a0161 08d002');
    expect(decodeTransportHeader(frame(message))).toMatchObject({ status: 'complete', header: { port: 336, name: '' } });
  });

  it('refuses a missing, zero, negative or too large port', () => {
    expect(() => decodeTransportHeader(frame(hex('1200')))).toThrow(/port/);
    expect(() => decodeTransportHeader(frame(hex('0800')))).toThrow(/port/);
    // -1 as int32: a ten-byte varint
    expect(() => decodeTransportHeader(frame(hex('08ffffffffffffffffff01')))).toThrow(/port -1 /);
    expect(() => decodeTransportHeader(frame(hex('08808004')))).toThrow(/port 65536 /);
  });

  it('refuses malformed protobuf: truncated fields, wrong wire types, bad UTF-8', () => {
    expect(() => decodeTransportHeader(frame(hex('08')))).toThrow(/truncated/);
    expect(() => decodeTransportHeader(frame(hex('0801 1205 61')))).toThrow(/longer than the message/);
    expect(() => decodeTransportHeader(frame(hex('0a0101')))).toThrow(/wire type/);
    expect(() => decodeTransportHeader(frame(hex('0801 1202 c328')))).toThrow(/UTF-8/);
    expect(() => decodeTransportHeader(frame(hex('0801 0f')))).toThrow(/wire type 7/);
  });
});

describe('readTransportHeader', () => {
  it('reads a header split over writes and leaves the application bytes on the stream', async () => {
    const stream = new PassThrough();
    const bytes = Buffer.concat([encodeTransportHeader({ port: 5432, name: '' }), Buffer.from('SELECT 1')]);
    const reading = readTransportHeader(stream, { timeoutMs: 5_000 });
    for (let i = 0; i < bytes.length; i += 5) stream.write(bytes.subarray(i, i + 5));
    expect(await reading).toEqual({ port: 5432, name: '' });
    stream.end();
    const rest: Buffer[] = [];
    for await (const chunk of stream) rest.push(chunk as Buffer);
    expect(Buffer.concat(rest).toString()).toBe('SELECT 1');
  });

  it('fails on a stream that ends inside the header, and on a timeout', async () => {
    const ended = new PassThrough();
    const reading = readTransportHeader(ended, { timeoutMs: 5_000 });
    ended.end(PREFACE.subarray(0, 10));
    await expect(reading).rejects.toThrow(/ended/);
    await expect(readTransportHeader(new PassThrough(), { timeoutMs: 50 })).rejects.toThrow(/within 50 ms/);
  });
});
