/**
 * A client of InboundServerPolicies (ours or a Linkerd controller): the raw calls, messages in
 * and out. client-source.ts builds a pod's live policy on it.
 */
import * as grpc from '@grpc/grpc-js';
import { inboundServiceDefinition, type PortSpecMessage, type ServerMessage } from './messages.ts';

export interface InboundPolicyClient {
  getPort(spec: PortSpecMessage, options?: { deadlineMs?: number }): Promise<ServerMessage>;
  watchPort(spec: PortSpecMessage): grpc.ClientReadableStream<ServerMessage>;
  close(): void;
}

type RawClient = grpc.Client & {
  GetPort(spec: PortSpecMessage, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, value?: ServerMessage) => void): grpc.ClientUnaryCall;
  WatchPort(spec: PortSpecMessage, options?: grpc.CallOptions): grpc.ClientReadableStream<ServerMessage>;
};

/** Keepalive pings, so that a controller that vanishes without a word is noticed within ~40 s. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
  'grpc.enable_channelz': 0,
};

/** `address` is `host:port`; plaintext unless `credentials` say otherwise. */
export function createInboundPolicyClient(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): InboundPolicyClient {
  const Client = grpc.makeGenericClientConstructor(inboundServiceDefinition(), 'InboundServerPolicies');
  const raw = new Client(address, credentials, CHANNEL_OPTIONS) as unknown as RawClient;
  return {
    getPort: (spec, options = {}) =>
      new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + (options.deadlineMs ?? 10_000));
        raw.GetPort(spec, { deadline }, (err, value) => (err ? reject(err) : resolve(value!)));
      }),
    watchPort: (spec) => raw.WatchPort(spec),
    close: () => raw.close(),
  };
}
