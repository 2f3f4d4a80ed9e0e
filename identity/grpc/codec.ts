/**
 * The Certify wire contract: the service definition loaded from Linkerd's .proto, and conversion
 * between its messages and the plain types the rest of the system uses. Server and client both
 * go through here, so the two sides cannot drift apart.
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** What a requester asks for; field names follow our code, not the proto. */
export interface CertifyInput {
  identity: string;
  token: Uint8Array;
  /** PKCS#10, DER. */
  csr: Uint8Array;
}

/** What the authority answers; DER throughout, the chain excludes the trust anchor. */
export interface CertifyOutput {
  leafDer: Uint8Array;
  intermediatesDer: Uint8Array[];
  validUntil: Date;
}

export type CertifyFunction = (request: CertifyInput) => Promise<CertifyOutput>;

/** `io.linkerd.proxy.identity.CertifyRequest`, as proto-loader decodes it (keepCase). */
export interface CertifyRequestMessage {
  identity: string;
  token: Uint8Array;
  certificate_signing_request: Uint8Array;
}

interface TimestampMessage {
  seconds: number;
  nanos: number;
}

/** `io.linkerd.proxy.identity.CertifyResponse`. */
export interface CertifyResponseMessage {
  leaf_certificate: Uint8Array;
  intermediate_certificates: Uint8Array[];
  valid_until: TimestampMessage | null;
}

export const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));
export const IDENTITY_PROTO_FILE = 'io/linkerd/proxy/identity/identity.proto';
export const IDENTITY_SERVICE_NAME = 'io.linkerd.proxy.identity.Identity';

/**
 * keepCase keeps the proto's snake_case field names; `defaults` turns absent fields into empty
 * values so that presence is checked in one way; int64 seconds fit a JS number until year 275760.
 */
export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

type CertifyService = ServiceDefinition<{
  Certify: MethodDefinition<CertifyRequestMessage, CertifyResponseMessage>;
}>;

let loaded: CertifyService | undefined;

/** The Identity service definition. Loaded once: it is immutable data read from our own file. */
export function identityServiceDefinition(): CertifyService {
  if (!loaded) {
    const pkg = loadSync(IDENTITY_PROTO_FILE, PROTO_LOADER_OPTIONS);
    loaded = pkg[IDENTITY_SERVICE_NAME] as unknown as CertifyService;
  }
  return loaded;
}

export function toResponseMessage(out: CertifyOutput): CertifyResponseMessage {
  const ms = out.validUntil.getTime();
  const seconds = Math.floor(ms / 1000);
  return {
    leaf_certificate: out.leafDer,
    intermediate_certificates: out.intermediatesDer,
    valid_until: { seconds, nanos: (ms - seconds * 1000) * 1_000_000 },
  };
}

/** undefined when the response lacks a leaf or an expiry: the caller decides how to fail. */
export function fromResponseMessage(msg: CertifyResponseMessage): CertifyOutput | undefined {
  if (msg.leaf_certificate.length === 0 || !msg.valid_until) return undefined;
  const { seconds, nanos } = msg.valid_until;
  return {
    leafDer: msg.leaf_certificate,
    intermediatesDer: msg.intermediate_certificates,
    validUntil: new Date(seconds * 1000 + Math.floor(nanos / 1_000_000)),
  };
}
