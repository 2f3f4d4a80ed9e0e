/**
 * The InboundServerPolicies wire contract: the service loaded from the vendored .proto files
 * (policy/api/proto/), and the messages as @grpc/proto-loader presents them. Server, client and
 * codec all go through here, so the sides cannot drift apart.
 */
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const INBOUND_SERVICE_NAME = 'io.linkerd.proxy.inbound.InboundServerPolicies';
const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));

/**
 * keepCase: the proto's own field names. longs as decimal strings: IPv6 halves are unsigned
 * 64-bit (fixed64) and do not fit a JS number. oneofs: each oneof also names its set member
 * (`protocol.kind === 'detect'`). defaults: absent fields read as empty values.
 */
const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export interface PortSpecMessage {
  workload: string;
  port: number;
}

export interface DurationMessage {
  seconds: string | number;
  nanos: number;
}

export type Empty = Record<string, never>;

export interface ProxyProtocolMessage {
  kind?: 'detect' | 'opaque' | 'tls' | 'http1' | 'http2' | 'grpc';
  detect?: { timeout: DurationMessage | null } | null;
  opaque?: Empty | null;
  tls?: Empty | null;
  http1?: Empty | null;
  http2?: Empty | null;
  grpc?: Empty | null;
}

export interface IpAddressMessage {
  ip?: 'ipv4' | 'ipv6';
  ipv4?: number;
  /** Hextets 1-4 and 5-8, each an unsigned 64-bit integer in decimal. */
  ipv6?: { first: string; last: string } | null;
}

export interface IpNetworkMessage {
  ip: IpAddressMessage | null;
  prefix_len: number;
}

export interface NetworkMessage {
  net: IpNetworkMessage | null;
  except: IpNetworkMessage[];
}

export interface PermitClientIdentitiesMessage {
  identities: { name: string }[];
  suffixes: { parts: string[] }[];
}

export interface AuthnMessage {
  permit?: 'unauthenticated' | 'meshTLS';
  unauthenticated?: Empty | null;
  meshTLS?: {
    clients?: 'unauthenticated' | 'identities';
    unauthenticated?: Empty | null;
    identities?: PermitClientIdentitiesMessage | null;
  } | null;
}

export interface ResourceMessage {
  group: string;
  kind: string;
  name: string;
  namespace: string;
  section: string;
  port: number;
}

export interface MetadataMessage {
  kind?: 'default' | 'resource';
  default?: string;
  resource?: ResourceMessage | null;
}

export interface AuthzMessage {
  networks: NetworkMessage[];
  authentication: AuthnMessage | null;
  labels: Record<string, string>;
  metadata: MetadataMessage | null;
}

export interface ServerMessage {
  protocol: ProxyProtocolMessage | null;
  server_ips: IpAddressMessage[];
  authorizations: AuthzMessage[];
  labels: Record<string, string>;
}

export type InboundService = ServiceDefinition<{
  GetPort: MethodDefinition<PortSpecMessage, ServerMessage>;
  WatchPort: MethodDefinition<PortSpecMessage, ServerMessage>;
}>;

let loaded: InboundService | undefined;

/** The InboundServerPolicies service definition; loaded once (immutable data from our own files). */
export function inboundServiceDefinition(): InboundService {
  if (!loaded) {
    const pkg = loadSync('inbound.proto', LOADER_OPTIONS);
    loaded = pkg[INBOUND_SERVICE_NAME] as unknown as InboundService;
  }
  return loaded;
}

/** A Server message's bytes on the wire: what a watch compares to tell a change from a repeat. */
export function serverBytes(message: ServerMessage): Buffer {
  return inboundServiceDefinition().WatchPort.responseSerialize(message);
}

/** Decodes Server bytes, as a client would (for tests and diagnostics). */
export function parseServerBytes(bytes: Buffer): ServerMessage {
  return inboundServiceDefinition().WatchPort.responseDeserialize(bytes);
}
