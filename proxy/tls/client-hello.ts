/**
 * Parses the first bytes of a connection as a TLS ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2)
 * far enough to read SNI (RFC 6066 3) and ALPN (RFC 7301 3.1). Pure and incremental: call it again
 * with more bytes while it answers `incomplete`. Every length is checked against what is left, so
 * garbage can never read out of bounds or make us wait for more than `maxBytes`.
 */

export type ClientHelloResult =
  /** More bytes are needed to decide. */
  | { status: 'incomplete' }
  /** Not a TLS ClientHello we can read; `reason` is for logs. The bytes go to the application as they are. */
  | { status: 'not-tls'; reason: string }
  | { status: 'client-hello'; serverName: string | undefined; alpn: string[] };

/** A ClientHello is one or two KiB in practice (a post-quantum key share adds ~1.2 KiB). */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const MAX_RECORD_PAYLOAD = 16_384 + 256; // RFC 8446 5.1 allows 2^14; leave room for old stacks
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

class Malformed extends Error {}

/** A cursor over a bounded view; every read checks the bound and throws Malformed past it. */
class Reader {
  #pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}
  get remaining(): number {
    return this.buf.length - this.#pos;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.#pos++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  /** A sub-reader over a vector with a `lengthBytes`-byte length prefix. */
  vector(lengthBytes: 1 | 2, what: string): Reader {
    const n = lengthBytes === 1 ? this.u8() : this.u16();
    return new Reader(this.bytes(n), what);
  }
  end(): void {
    if (this.remaining !== 0) throw new Malformed(`${this.remaining} trailing bytes in ${this.what}`);
  }
  private need(n: number): void {
    if (n > this.remaining) throw new Malformed(`${this.what} is truncated`);
  }
}

/**
 * @example
 * const r = parseClientHello(peeked);
 * if (r.status === 'client-hello' && r.serverName === localIdentity) terminateTls();
 */
export function parseClientHello(input: Uint8Array, maxBytes = DEFAULT_MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  // Decide on the first bytes where we can, so that a plaintext client never waits for more.
  if (input.length >= 1 && input[0] !== CONTENT_HANDSHAKE) return notTls('first byte is not a TLS handshake record');
  if (input.length >= 2 && input[1] !== 0x03) return notTls('record version is not 3.x');
  if (input.length >= 6 && input[5] !== HANDSHAKE_CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');

  const handshake = reassemble(input, maxBytes);
  if (handshake.status !== 'complete') return handshake;
  try {
    return parseBody(handshake.message);
  } catch (err) {
    if (err instanceof Malformed) return notTls(err.message);
    throw err;
  }
}

type Reassembled = { status: 'complete'; message: Uint8Array } | { status: 'incomplete' } | { status: 'not-tls'; reason: string };

/**
 * Joins the handshake records until the whole ClientHello message (4-byte header + body) is
 * there. A ClientHello may legally span several records (RFC 8446 5.1); nothing else may be
 * interleaved with it.
 */
function reassemble(input: Uint8Array, maxBytes: number): Reassembled {
  const fragments: Uint8Array[] = [];
  let have = 0;
  let want = -1; // handshake message length incl. its 4-byte header, once known
  let pos = 0;
  while (want < 0 || have < want) {
    if (input.length - pos < RECORD_HEADER) return incompleteUnlessOver(input.length, maxBytes);
    if (input[pos] !== CONTENT_HANDSHAKE) return notTls('a non-handshake record interrupts the ClientHello');
    if (input[pos + 1] !== 0x03 || input[pos + 2]! > 0x04) return notTls('unknown record version');
    const length = (input[pos + 3]! << 8) | input[pos + 4]!;
    if (length === 0 || length > MAX_RECORD_PAYLOAD) return notTls(`record length ${length} is out of range`);
    const start = pos + RECORD_HEADER;
    const available = Math.min(length, input.length - start);
    fragments.push(input.subarray(start, start + available));
    have += available;
    if (want < 0 && have >= 4) {
      const head = concat(fragments, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');
      want = 4 + ((head[1]! << 16) | (head[2]! << 8) | head[3]!);
      if (want > maxBytes) return notTls(`ClientHello of ${want} bytes exceeds the ${maxBytes}-byte limit`);
    }
    if (available < length) {
      // The record is cut; its end would complete the message if the length says so.
      if (want >= 0 && have >= want) break;
      return incompleteUnlessOver(input.length, maxBytes);
    }
    pos = start + length;
  }
  if (have > want) return notTls('bytes after the ClientHello inside its last record');
  return { status: 'complete', message: concat(fragments, want).subarray(4) };
}

function parseBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body, 'ClientHello');
  const legacyVersion = r.u16();
  if (legacyVersion >> 8 !== 0x03) throw new Malformed('ClientHello version is not 3.x');
  r.bytes(32); // random
  const sessionId = r.vector(1, 'legacy_session_id');
  if (sessionId.remaining > 32) throw new Malformed('legacy_session_id is longer than 32 bytes');
  const suites = r.vector(2, 'cipher_suites');
  if (suites.remaining === 0 || suites.remaining % 2 !== 0) throw new Malformed('cipher_suites length is invalid');
  const compression = r.vector(1, 'legacy_compression_methods');
  if (compression.remaining === 0) throw new Malformed('legacy_compression_methods is empty');

  let serverName: string | undefined;
  let alpn: string[] = [];
  // TLS 1.2 allows a ClientHello without extensions; TLS 1.3 never sends one.
  if (r.remaining > 0) {
    const extensions = r.vector(2, 'extensions');
    const seen = new Set<number>();
    while (extensions.remaining > 0) {
      const type = extensions.u16();
      const data = extensions.vector(2, `extension ${type}`);
      if (seen.has(type)) throw new Malformed(`extension ${type} appears twice`);
      seen.add(type);
      if (type === EXT_SERVER_NAME) serverName = parseServerName(data);
      else if (type === EXT_ALPN) alpn = parseAlpn(data);
    }
  }
  r.end();
  return { status: 'client-hello', serverName, alpn };
}

/** RFC 6066 3: a list of which at most one entry may be a host_name (type 0). */
function parseServerName(data: Reader): string | undefined {
  const list = data.vector(2, 'server_name_list');
  data.end();
  if (list.remaining === 0) throw new Malformed('server_name_list is empty');
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8();
    const name = list.vector(2, 'server name');
    if (nameType !== 0) continue; // unknown name types are skipped, as the RFC's extensibility intends
    if (hostName !== undefined) throw new Malformed('more than one host_name in server_name');
    const bytes = name.bytes(name.remaining);
    if (bytes.length === 0 || bytes.length > 255) throw new Malformed('host_name length is out of range');
    // ASCII letters, digits, hyphens and dots only: a name we compare must mean one thing.
    if (!bytes.every((b) => b === 0x2d || b === 0x2e || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a))) {
      throw new Malformed('host_name has characters outside [A-Za-z0-9.-]');
    }
    hostName = Buffer.from(bytes).toString('ascii').toLowerCase();
  }
  return hostName;
}

/** RFC 7301 3.1: a non-empty list of non-empty protocol names. */
function parseAlpn(data: Reader): string[] {
  const list = data.vector(2, 'protocol_name_list');
  data.end();
  if (list.remaining === 0) throw new Malformed('protocol_name_list is empty');
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const name = list.vector(1, 'protocol name');
    if (name.remaining === 0) throw new Malformed('empty ALPN protocol name');
    protocols.push(Buffer.from(name.bytes(name.remaining)).toString('latin1'));
  }
  return protocols;
}

function incompleteUnlessOver(have: number, maxBytes: number): { status: 'incomplete' } | { status: 'not-tls'; reason: string } {
  // Record headers add 5 bytes per record; allow a few records' worth over the message limit.
  return have > maxBytes + 4 * RECORD_HEADER ? notTls(`no complete ClientHello within ${maxBytes} bytes`) : { status: 'incomplete' };
}

function notTls(reason: string): { status: 'not-tls'; reason: string } {
  return { status: 'not-tls', reason };
}

function concat(parts: Uint8Array[], limit: number): Uint8Array {
  const out = Buffer.concat(parts);
  return out.subarray(0, Math.min(limit, out.length));
}
