/**
 * Networks on the wire (io.linkerd.proxy.net): an IPv4 address is one fixed32, an IPv6 address two
 * fixed64 halves (carried as decimal strings: they exceed 2^53); a network is an address and a
 * prefix length. Linkerd writes "every address" as the two networks 0.0.0.0/0 and ::/0.
 */
import { InvalidArgumentError } from '../../common/errors.ts';
import { formatIp, parseCidr, type Cidr, type Network } from '../net/cidr.ts';
import type { IpAddressMessage, IpNetworkMessage, NetworkMessage } from './messages.ts';

const EVERYWHERE: readonly Network[] = [
  { cidr: parseCidr('0.0.0.0/0')!, except: [] },
  { cidr: parseCidr('::/0')!, except: [] },
];

function half(hi: number, lo: number): string {
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function encodeAddress(family: 4 | 6, words: readonly number[]): IpAddressMessage {
  if (family === 4) return { ipv4: words[0]! };
  return { ipv6: { first: half(words[0]!, words[1]!), last: half(words[2]!, words[3]!) } };
}

function encodeCidr(cidr: Cidr): IpNetworkMessage {
  return { ip: encodeAddress(cidr.family, cidr.words), prefix_len: cidr.prefix };
}

/** `null` (every address) becomes Linkerd's explicit 0.0.0.0/0 and ::/0. */
export function encodeNetworks(networks: readonly Network[] | null): NetworkMessage[] {
  return (networks ?? EVERYWHERE).map((n) => ({ net: encodeCidr(n.cidr), except: n.except.map(encodeCidr) }));
}

function words64(text: string | number, what: string): [number, number] {
  let value: bigint;
  try {
    value = BigInt.asUintN(64, BigInt(text));
  } catch {
    throw new InvalidArgumentError(`${what}: "${String(text).slice(0, 30)}" is not a 64-bit integer`);
  }
  return [Number(value >> 32n), Number(value & 0xffffffffn)];
}

function decodeCidr(message: IpNetworkMessage | null, what: string): Cidr {
  const ip = message?.ip;
  if (!message || !ip) throw new InvalidArgumentError(`${what}: missing network address`);
  let text: string;
  if (ip.ip === 'ipv4' || (ip.ip === undefined && typeof ip.ipv4 === 'number')) {
    text = formatIp({ family: 4, words: [(ip.ipv4 ?? 0) >>> 0] });
  } else if (ip.ipv6) {
    text = formatIp({ family: 6, words: [...words64(ip.ipv6.first, what), ...words64(ip.ipv6.last, what)] });
  } else {
    throw new InvalidArgumentError(`${what}: the address is neither IPv4 nor IPv6`);
  }
  const cidr = parseCidr(`${text}/${message.prefix_len}`);
  if (!cidr) throw new InvalidArgumentError(`${what}: prefix length ${message.prefix_len} is too long for ${text}`);
  return cidr;
}

const sameCidrs = (a: readonly Network[], b: readonly Network[]): boolean =>
  a.length === b.length && a.every((n, i) => n.cidr.text === b[i]!.cidr.text && n.except.length === b[i]!.except.length && n.except.every((e, j) => e.text === b[i]!.except[j]!.text));

/**
 * The networks of an authorization: null when they are every address (in either order), and
 * flagged when they are exactly the given cluster networks, so that reasons can name them so.
 * Linkerd requires at least one network; an empty list is an error.
 */
export function decodeNetworks(messages: readonly NetworkMessage[], clusterNetworks: readonly Network[], what: string): { networks: readonly Network[] | null; clusterNetworks: boolean } {
  if (messages.length === 0) throw new InvalidArgumentError(`${what}: no networks (Linkerd requires at least one)`);
  const networks: Network[] = messages.map((m, i) => ({ cidr: decodeCidr(m.net, `${what}: network ${i}`), except: m.except.map((e, j) => decodeCidr(e, `${what}: network ${i} except ${j}`)) }));
  if (sameCidrs(networks, clusterNetworks)) return { networks: clusterNetworks, clusterNetworks: true };
  if (sameCidrs(networks, EVERYWHERE) || sameCidrs(networks, [...EVERYWHERE].reverse())) return { networks: null, clusterNetworks: false };
  return { networks, clusterNetworks: false };
}
