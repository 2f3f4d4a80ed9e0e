/**
 * A pod's live policy fed by a policy controller: one WatchPort stream per inbound port, each
 * Server message decoded to a port policy and decided by `decidePort`, the same function the
 * controller's own index uses. Until every port has its first policy, the configured default
 * policy decides (fail closed: a partial policy could admit what the real one refuses). When a
 * stream is lost the last policy stays in force ("stale") and the stream is reopened with capped,
 * jittered backoff; the next message makes the policy current again.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.ts';
import { decidePort } from '../evaluator/decide-port.ts';
import type { PortPolicy } from '../evaluator/port-policy.ts';
import type { EvaluatorConfig } from '../evaluator/types.ts';
import { defaultDecider, LivePodPolicy, type PodDecider } from '../live/pod-policy.ts';
import { createInboundPolicyClient, type InboundPolicyClient } from './client.ts';
import { decodePortPolicy } from './codec.ts';
import type { ServerMessage } from './messages.ts';
import { parsePortSpec, workloadOf } from './port-spec.ts';
import { backoffDelayMs } from '../../common/backoff.ts';

export interface ControllerPolicyOptions {
  /** `host:port` of the policy controller's gRPC API. */
  address: string;
  /** `NS/NAME` of this proxy's pod. */
  pod: string;
  /** The inbound ports to watch; any other port gets the default policy. */
  ports: readonly number[];
  /** Cluster networks (to read the policies), and the default policy that decides until they arrive. */
  config: EvaluatorConfig;
  logger: Logger;
  /** Channel TLS; plaintext when absent (see policy/api/server.ts). */
  credentials?: grpc.ChannelCredentials;
  /** Reconnection delays: doubling from `initialMs` up to `maxMs`, jittered. */
  backoff?: { initialMs: number; maxMs: number };
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000 };

/**
 * @example
 *   const live = watchPodPolicyFromController({ address: '127.0.0.1:8090', pod: 'demo/api-0', ports: [8080], config, logger });
 *   live.decide({ targetPort: 8080, clientIp: '10.1.2.3', clientIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local' });
 *   await live.close();
 */
export function watchPodPolicyFromController(options: ControllerPolicyOptions): LivePodPolicy {
  const { address, pod, config, logger } = options;
  const ports = [...new Set(options.ports)];
  for (const port of ports) parsePortSpec({ workload: workloadOf(pod), port }); // a caller's mistake throws here, not later
  if (ports.length === 0) throw new TypeError('watchPodPolicyFromController: no ports to watch');
  const fallback = defaultDecider(config.defaultPolicy, config, pod);
  const live = new LivePodPolicy({
    source: `policy controller ${address}`,
    fallback,
    fallbackDetail: `waiting for the policy controller at ${address}; default policy ${config.defaultPolicy} decides`,
  });
  const client = createInboundPolicyClient(address, options.credentials);
  const policies = new Map<number, PortPolicy>();

  let lost = false;
  const publish = () => {
    if (policies.size < ports.length) return;
    if (lost) {
      lost = false;
      logger.info({ event: 'policy_source.restored', address, pod }, 'policy stream restored; the controller\'s policy is in force again');
    }
    const snapshot = new Map(policies);
    const decider: PodDecider = (input) => {
      const policy = snapshot.get(input.port);
      return policy ? decidePort(policy, input) : fallback(input);
    };
    live.apply(decider, `policy from the controller at ${address}: ${[...snapshot.values()].map(describe).join(', ')}`);
  };

  const watches = ports.map(
    (port) =>
      new PortWatch({
        client,
        pod,
        port,
        backoff: options.backoff ?? DEFAULT_BACKOFF,
        decode: (message) => decodePortPolicy(message, { pod, port, clusterNetworks: config.clusterNetworks }),
        onPolicy: (policy) => {
          policies.set(port, policy);
          publish();
        },
        onLost: (detail) => {
          lost = true;
          logger.warn({ event: 'policy_source.lost', address, pod, port, detail }, 'policy stream lost; keeping the last policy');
          live.unreachable(detail);
        },
        logger,
      }),
  );
  live.onClose(() => {
    for (const w of watches) w.close();
    client.close();
  });
  for (const w of watches) w.start();
  return live;
}

function describe(policy: PortPolicy): string {
  const g = policy.governor;
  return `${policy.port} ${g.kind === 'server' ? `Server ${g.server}` : `default ${g.policy}`}`;
}

interface PortWatchOptions {
  client: InboundPolicyClient;
  pod: string;
  port: number;
  backoff: { initialMs: number; maxMs: number };
  decode(message: ServerMessage): PortPolicy;
  onPolicy(policy: PortPolicy): void;
  onLost(detail: string): void;
  logger: Logger;
}

/** One WatchPort stream, reopened whenever it ends. */
class PortWatch {
  readonly #o: PortWatchOptions;
  #call: grpc.ClientReadableStream<ServerMessage> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;

  constructor(options: PortWatchOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#closed) return;
    const { client, pod, port } = this.#o;
    const call = client.watchPort({ workload: workloadOf(pod), port });
    this.#call = call;
    const current = () => this.#call === call && !this.#closed;
    call.on('data', (message: ServerMessage) => {
      if (!current()) return;
      let policy: PortPolicy;
      try {
        policy = this.#o.decode(message);
      } catch (err) {
        // A message we cannot read is as good as none: keep the last policy and start over.
        this.#lost(`port ${port}: the controller sent a policy that cannot be read: ${(err as Error).message}`);
        call.cancel();
        return;
      }
      this.#attempt = 0;
      this.#o.onPolicy(policy);
    });
    call.on('error', () => {}); // reported through 'status'
    call.on('status', (status: grpc.StatusObject) => {
      if (!current()) return;
      const code = grpc.status[status.code] ?? String(status.code);
      // grpc-js appends its name-resolution notes to UNAVAILABLE; they say nothing to an operator.
      const details = (status.details ?? '').replace(/\s*Resolution note:.*$/s, '').trim();
      const why = status.code === grpc.status.OK ? 'the controller closed the stream' : `WatchPort ended with ${code}${details && details !== code ? `: ${details}` : ''}`;
      this.#lost(`port ${port}: ${why}`);
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
  }

  #lost(detail: string): void {
    this.#call = undefined;
    this.#o.onLost(detail);
    this.#timer = setTimeout(() => this.start(), backoffDelayMs(this.#attempt++, this.#o.backoff));
  }
}
