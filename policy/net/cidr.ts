/**
 * IPv4 and IPv6 addresses and CIDR blocks, as 32-bit words, for matching on the hot path.
 * An IPv4 address is one word; an IPv6 address is four. No allocation beyond the result.
 */

export interface IpAddress {
  readonly family: 4 | 6;
  readonly words: readonly number[];
}

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address (host bits cleared). */
  readonly words: readonly number[];
  readonly prefix: number;
  /** Per-word masks, derived from the prefix. */
  readonly masks: readonly number[];
  /** Canonical text: `10.0.0.0/8`, `fd00::/8`. */
  readonly text: string;
}

/** A network as Linkerd's resources write it: a CIDR minus `except` sub-ranges. */
export interface Network {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

function parseV4(text: string, start = 0): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero reads as octal elsewhere: refuse
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

function parseGroups(part: string, out: number[]): boolean {
  if (part === '') return true;
  for (const group of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
    out.push(parseInt(group, 16));
  }
  return true;
}

function parseV6(input: string): number[] | undefined {
  const zone = input.indexOf('%');
  let text = zone >= 0 ? input.slice(0, zone) : input;
  const groups: number[] = [];
  let tail: number | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    const v4 = parseV4(text, lastColon + 1);
    if (v4 < 0) return undefined;
    tail = v4;
    text = text.slice(0, lastColon + 1) + '0:0'; // placeholder groups, replaced below
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const rest: number[] = [];
  if (!parseGroups(halves[0]!, head) || (halves.length === 2 && !parseGroups(halves[1]!, rest))) return undefined;
  if (halves.length === 1) {
    if (head.length !== 8) return undefined;
    groups.push(...head);
  } else {
    if (head.length + rest.length > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest);
  }
  if (tail !== undefined) {
    groups[6] = Math.floor(tail / 65536);
    groups[7] = tail % 65536;
  }
  return [0, 1, 2, 3].map((i) => (groups[2 * i]! * 65536 + groups[2 * i + 1]!) >>> 0);
}

/** Parses an IPv4 or IPv6 address (a zone `%eth0` is ignored); undefined if it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseV4(text);
  if (v4 >= 0) return { family: 4, words: [v4] };
  if (text.indexOf(':') < 0) return undefined;
  const words = parseV6(text);
  return words ? { family: 6, words } : undefined;
}

/** `::ffff:a.b.c.d` (how a dual-stack socket reports an IPv4 peer) becomes `a.b.c.d`. */
export function unmapIpv4(ip: IpAddress): IpAddress {
  if (ip.family === 6 && ip.words[0] === 0 && ip.words[1] === 0 && ip.words[2] === 0xffff) {
    return { family: 4, words: [ip.words[3]!] };
  }
  return ip;
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const w = ip.words[0]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const groups = ip.words.flatMap((w) => [w >>> 16, w & 0xffff]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function masksFor(family: 4 | 6, prefix: number): number[] {
  const count = family === 4 ? 1 : 4;
  const masks: number[] = [];
  for (let k = 0; k < count; k++) {
    const bits = Math.min(32, Math.max(0, prefix - 32 * k));
    masks.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
  }
  return masks;
}

/**
 * Parses `ADDR/PREFIX` or a bare address (a /32 or /128), as Linkerd does; host bits are
 * cleared (`10.1.2.3/8` is `10.0.0.0/8`). Undefined if the text is neither.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip || text.includes('%')) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
    prefix = Number(p);
  }
  const masks = masksFor(ip.family, prefix);
  const words = ip.words.map((w, k) => (w & masks[k]!) >>> 0);
  return { family: ip.family, words, prefix, masks, text: `${formatIp({ family: ip.family, words })}/${prefix}` };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const { words, masks } = cidr;
  for (let k = 0; k < words.length; k++) {
    if (((ip.words[k]! & masks[k]!) >>> 0) !== words[k]) return false;
  }
  return true;
}

/** True when every address of `inner` is in `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && cidrContains(outer, inner);
}

export function networkContains(network: Network, ip: IpAddress): boolean {
  if (!cidrContains(network.cidr, ip)) return false;
  for (const ex of network.except) if (cidrContains(ex, ip)) return false;
  return true;
}

export function networksContain(networks: readonly Network[], ip: IpAddress): boolean {
  for (const n of networks) if (networkContains(n, ip)) return true;
  return false;
}

export function formatNetwork(network: Network): string {
  return network.except.length ? `${network.cidr.text} (except ${network.except.map((c) => c.text).join(', ')})` : network.cidr.text;
}

/** Parses `CIDR` strings into networks without exceptions; throws a TypeError naming the bad one. */
export function networksFromCidrs(cidrs: readonly string[]): Network[] {
  return cidrs.map((text) => {
    const cidr = parseCidr(text.trim());
    if (!cidr) throw new TypeError(`"${text}" is not a CIDR block or an IP address`);
    return { cidr, except: [] };
  });
}
