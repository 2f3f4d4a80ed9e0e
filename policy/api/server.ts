/**
 * Linkerd's `io.linkerd.proxy.inbound.InboundServerPolicies`, served from a policy index that
 * changes: `GetPort` answers once; `WatchPort` sends the port's policy at once, then a full
 * replacement each time that port's policy changes (compared as encoded bytes, so a change
 * elsewhere in the cluster sends nothing). Until the source has a complete view, calls wait: a
 * partial policy would deny (or admit) the wrong clients.
 *
 * Status codes, as Linkerd's controller answers: INVALID_ARGUMENT for a malformed workload or a
 * port outside 1-65535; NOT_FOUND for a pod the index does not hold (Linkerd: "unknown server";
 * a proxy retries, since its pod may not be indexed yet) — and a watch whose pod is deleted ends
 * the same way. Beyond that, RESOURCE_EXHAUSTED when the stream limit is reached.
 *
 * Plaintext by default, like Linkerd's policy controller, which listens on the pod network only
 * behind its own proxy, and that proxy does the mutual TLS. Give `credentials` to serve TLS.
 */
import * as grpc from '@grpc/grpc-js';
import { grpcStatusOf, isIdentityError, UnavailableError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { PolicyIndex } from '../evaluator/policy-index.ts';
import type { PortPolicy } from '../evaluator/port-policy.ts';
import { encodePortPolicy } from './codec.ts';
import { inboundServiceDefinition, serverBytes, type PortSpecMessage, type ServerMessage } from './messages.ts';
import { parsePortSpec, type PortTarget } from './port-spec.ts';

/** Where policy comes from; the policy controller is one. */
export interface PortPolicySource {
  /** The current index; undefined until the source has a complete view. */
  current(): PolicyIndex | undefined;
  /** Resolves with the first complete index; rejects if `signal` aborts first. */
  whenReady(signal: AbortSignal): Promise<PolicyIndex>;
  /** Called with every new index; returns the unsubscribe function. */
  subscribe(onIndex: (index: PolicyIndex) => void): () => void;
}

/** The metrics this transport writes (created in policy/controller/metrics.ts). */
export interface PolicyApiMetrics {
  requests: { inc(labels: { method: string; code: string }): void };
  watchStreams: { set(value: number): void };
  updates: { inc(): void };
}

export const DEFAULT_MAX_STREAMS = 10_000;
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 1_000;
const SHUTDOWN_GRACE_MS = 5_000;

export interface PolicyApiServerOptions {
  host: string;
  /** 0 picks an ephemeral port; the bound one is in the result. */
  port: number;
  source: PortPolicySource;
  logger: Logger;
  metrics?: PolicyApiMetrics;
  /** Server TLS; plaintext when absent. */
  credentials?: grpc.ServerCredentials;
  /** Open WatchPort streams in all; the next one gets RESOURCE_EXHAUSTED. */
  maxStreams?: number;
  /** Concurrent HTTP/2 streams one connection may open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection?: number;
}

export interface PolicyApiServer {
  port: number;
  /** Ends every watch (clients reconnect elsewhere), then stops. */
  close(): Promise<void>;
}

interface Watcher {
  target: PortTarget;
  last: Buffer | undefined;
  lastPolicy: PortPolicy | undefined;
  push(index: PolicyIndex): void;
  end(): void;
}

export async function startPolicyApiServer(options: PolicyApiServerOptions): Promise<PolicyApiServer> {
  const { logger, source, metrics } = options;
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const watchers = new Set<Watcher>();
  const count = (method: string, code: grpc.status) => metrics?.requests.inc({ method, code: grpc.status[code] ?? String(code) });
  const unsubscribe = source.subscribe((index) => {
    for (const w of [...watchers]) w.push(index);
  });

  const server = new grpc.Server({
    'grpc.max_concurrent_streams': options.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS_PER_CONNECTION,
    'grpc.max_receive_message_length': 16 * 1024,
    // Pings find dead clients, whose streams would otherwise count against the limit for ever.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.enable_channelz': 0,
  });

  const fail = (method: string, err: unknown): grpc.ServiceError => {
    const code = grpcStatusOf(err) as grpc.status;
    if (!isIdentityError(err)) logger.error({ event: 'policy_api.failed', method, err }, 'policy API call failed');
    count(method, code);
    return Object.assign(new Error(isIdentityError(err) ? err.message : 'internal error'), { code, details: isIdentityError(err) ? err.message : 'internal error', metadata: new grpc.Metadata() });
  };

  /** A complete index, waiting for one while the call lives. */
  const ready = async (call: grpc.ServerUnaryCall<PortSpecMessage, ServerMessage> | grpc.ServerWritableStream<PortSpecMessage, ServerMessage>): Promise<PolicyIndex> => {
    const now = source.current();
    if (now) return now;
    const abort = new AbortController();
    const onCancel = () => abort.abort();
    call.on('cancelled', onCancel);
    try {
      return await source.whenReady(abort.signal);
    } catch {
      throw new UnavailableError('the policy controller stopped before it had listed every resource');
    } finally {
      call.off('cancelled', onCancel);
    }
  };

  const getPort: grpc.handleUnaryCall<PortSpecMessage, ServerMessage> = (call, callback) => {
    (async () => {
      const target = parsePortSpec(call.request);
      const index = await ready(call);
      return encodePortPolicy(index.portPolicy(target.pod, target.port));
    })().then(
      (message) => {
        count('GetPort', grpc.status.OK);
        callback(null, message);
      },
      (err: unknown) => callback(fail('GetPort', err), null),
    );
  };

  const watchPort: grpc.handleServerStreamingCall<PortSpecMessage, ServerMessage> = (call) => {
    let target: PortTarget;
    try {
      target = parsePortSpec(call.request);
    } catch (err) {
      call.emit('error', fail('WatchPort', err));
      return;
    }
    if (watchers.size >= maxStreams) {
      logger.warn({ event: 'policy_api.stream_limit', limit: maxStreams, peer: call.getPeer() }, 'WatchPort refused: stream limit reached');
      call.emit('error', Object.assign(new Error('too many watches'), { code: grpc.status.RESOURCE_EXHAUSTED, details: `the policy controller serves at most ${maxStreams} watches` }));
      count('WatchPort', grpc.status.RESOURCE_EXHAUSTED);
      return;
    }
    let ended = false;
    // Only the newest policy matters: while the stream is backed up, later ones replace earlier ones.
    let pending: ServerMessage | undefined;
    let blocked = false;
    const watcher: Watcher = {
      target,
      last: undefined,
      lastPolicy: undefined,
      push(index) {
        if (ended) return;
        let policy: PortPolicy;
        try {
          policy = index.portPolicy(target.pod, target.port);
        } catch (err) {
          return finish(err);
        }
        // The same object means the pod's namespace was reused as it was: nothing can have changed.
        if (policy === watcher.lastPolicy) return;
        watcher.lastPolicy = policy;
        const message = encodePortPolicy(policy);
        const bytes = serverBytes(message);
        if (watcher.last?.equals(bytes)) return;
        watcher.last = bytes;
        send(message);
      },
      end: () => finish(undefined),
    };
    const send = (message: ServerMessage) => {
      if (blocked) {
        pending = message;
        return;
      }
      metrics?.updates.inc();
      blocked = !call.write(message);
    };
    call.on('drain', () => {
      blocked = false;
      const next = pending;
      pending = undefined;
      if (next) send(next);
    });
    const finish = (err: unknown) => {
      if (ended) return;
      ended = true;
      watchers.delete(watcher);
      metrics?.watchStreams.set(watchers.size);
      if (err === undefined) {
        count('WatchPort', grpc.status.OK);
        call.end();
      } else call.emit('error', fail('WatchPort', err));
      logger.debug({ event: 'policy_api.watch_ended', pod: target.pod, port: target.port, err: err ? String(err) : undefined }, 'watch ended');
    };
    call.on('cancelled', () => {
      if (ended) return;
      ended = true;
      watchers.delete(watcher);
      metrics?.watchStreams.set(watchers.size);
      count('WatchPort', grpc.status.CANCELLED);
    });
    watchers.add(watcher);
    metrics?.watchStreams.set(watchers.size);
    logger.debug({ event: 'policy_api.watch', pod: target.pod, port: target.port, peer: call.getPeer() }, 'watch opened');
    ready(call).then(
      (index) => watcher.push(source.current() ?? index),
      (err: unknown) => finish(err),
    );
  };

  server.addService(inboundServiceDefinition(), { GetPort: getPort, WatchPort: watchPort });
  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  } catch (err) {
    unsubscribe();
    server.forceShutdown();
    throw err;
  }
  logger.info({ event: 'policy_api.listening', host: options.host, port, tls: options.credentials !== undefined }, 'policy API listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        for (const w of [...watchers]) w.end();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
