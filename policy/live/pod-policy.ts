/**
 * The policy of one pod as it changes: whichever source feeds it (a watched directory, the
 * policy controller's gRPC stream), the proxy sees one object that decides synchronously and
 * says where its policy stands. Until a source delivers, the fallback decides: the configured
 * default policy, which is how the proxy fails closed. Once a policy has arrived, a source that
 * becomes unreachable leaves it in force ("stale"), as Linkerd's proxy keeps its last policy.
 *
 * The decision shape matches the proxy's InboundPolicy contract structurally; policy/ never
 * imports the proxy, the CLI hands this object over.
 */
import { PolicyIndex } from '../evaluator/policy-index.ts';
import type { Decision, EvaluatorConfig } from '../evaluator/types.ts';
import { resourcesFromObjects } from '../resources/load.ts';
import type { DefaultPolicyName } from '../resources/types.ts';

export interface PodDecisionInput {
  port: number;
  /** The client's verified mesh identity; absent for a plaintext client. */
  clientIdentity?: string;
  clientIp: string;
}

/** Decides for one pod; built per policy version, so it is replaced, never mutated. */
export type PodDecider = (input: PodDecisionInput) => Decision;

export interface PolicyRef {
  /** `server` or `default` for a server; `authorizationpolicy`, `serverauthorization` or `default` for an authorization. */
  kind: string;
  /** `NS/NAME` for a resource; the policy name (`audit`, `all-authenticated`) for a default. */
  name: string;
}

export interface LiveDecision {
  decision: Decision['decision'];
  server: PolicyRef;
  authorization: PolicyRef | null;
  reason: string;
}

export interface LivePolicyStatus {
  source: string;
  state: 'default' | 'current' | 'stale';
  sinceMs: number;
  generation: number;
  detail: string;
}

export interface ConnectionFacts {
  clientIdentity?: string;
  clientIp: string;
  targetPort: number;
}

/** Decisions for `pod` from a built index. The pod must be in the index (check `index.hasPod`). */
export function indexDecider(index: PolicyIndex, pod: string): PodDecider {
  return (input) => index.evaluate({ pod, port: input.port, clientIp: input.clientIp, ...(input.clientIdentity ? { clientIdentity: input.clientIdentity } : {}) });
}

/**
 * Decisions of the default policy `policy` alone, for a pod no resource describes. Built
 * through the same index and decision code as every other decision, from a resource set
 * holding only that pod, so its reasons and semantics cannot drift from the real ones.
 */
export function defaultDecider(policy: DefaultPolicyName, config: EvaluatorConfig, pod: string): PodDecider {
  const [namespace, name] = splitPod(pod);
  const { resources } = resourcesFromObjects([{ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app' }] } }], '<default policy>');
  const index = PolicyIndex.build(resources, { ...config, defaultPolicy: policy });
  return indexDecider(index, pod);
}

function splitPod(pod: string): [string, string] {
  const slash = pod.indexOf('/');
  if (slash <= 0 || slash === pod.length - 1 || pod.indexOf('/', slash + 1) !== -1) {
    throw new TypeError(`pod "${pod.slice(0, 80)}" is not NS/NAME`);
  }
  return [pod.slice(0, slash), pod.slice(slash + 1)];
}

/** The metric labels of a decision, as Linkerd's `inbound_tcp_authz_*` counters name them. */
export function toLiveDecision(d: Decision): LiveDecision {
  const server: PolicyRef = d.server !== null ? { kind: 'server', name: d.server } : { kind: 'default', name: d.defaultPolicy ?? 'unknown' };
  return { decision: d.decision, server, authorization: d.authorization === null ? null : authorizationRef(d.authorization), reason: d.reason };
}

/** `AuthorizationPolicy/demo/web` -> authorizationpolicy demo/web; `default/audit` -> default audit. */
function authorizationRef(ref: string): PolicyRef {
  const slash = ref.indexOf('/');
  const kind = ref.slice(0, slash);
  return { kind: kind.toLowerCase(), name: ref.slice(slash + 1) };
}

export interface LivePodPolicyOptions {
  /** Shown in status: `directory /etc/policy`, `controller 127.0.0.1:8090`. */
  source: string;
  /** Decides until the first policy arrives: the configured default policy. */
  fallback: PodDecider;
  /** Why the fallback decides, for status: `waiting for the policy controller; default policy deny`. */
  fallbackDetail: string;
  now?: () => number;
}

export class LivePodPolicy {
  #decider: PodDecider;
  #status: LivePolicyStatus;
  #subscribers = new Set<() => void>();
  #closers: Array<() => void | Promise<void>> = [];
  #closed = false;
  readonly #now: () => number;

  constructor(options: LivePodPolicyOptions) {
    this.#now = options.now ?? Date.now;
    this.#decider = options.fallback;
    this.#status = { source: options.source, state: 'default', sinceMs: this.#now(), generation: 0, detail: options.fallbackDetail };
  }

  /**
   * Fails closed: a decider that throws (a bad address, a bug) denies, with the error as the
   * reason, rather than taking the connection down with an exception or admitting it.
   */
  decide(facts: ConnectionFacts): LiveDecision {
    const input: PodDecisionInput = { port: facts.targetPort, clientIp: facts.clientIp, ...(facts.clientIdentity ? { clientIdentity: facts.clientIdentity } : {}) };
    try {
      return toLiveDecision(this.#decider(input));
    } catch (err) {
      return { decision: 'deny', server: { kind: 'default', name: 'error' }, authorization: null, reason: `the policy could not be evaluated, so the connection is denied: ${(err as Error).message}` };
    }
  }

  /** A new policy is in force: for new connections at once, and for open ones as subscribers re-check them. */
  apply(decider: PodDecider, detail: string): void {
    if (this.#closed) return;
    this.#decider = decider;
    const changed = this.#status.state !== 'current';
    this.#status = {
      ...this.#status,
      state: 'current',
      sinceMs: changed ? this.#now() : this.#status.sinceMs,
      generation: this.#status.generation + 1,
      detail,
    };
    this.#notify();
  }

  /** The source cannot be read: the last policy (or, before the first, the fallback) stays in force. */
  unreachable(detail: string): void {
    if (this.#closed) return;
    const state = this.#status.state === 'default' ? 'default' : 'stale';
    const what = state === 'stale' ? 'keeping the last policy received' : 'the default policy decides until a policy arrives';
    const next = `${detail}; ${what}`;
    if (this.#status.state === state && this.#status.detail === next) return;
    this.#status = { ...this.#status, state, sinceMs: this.#status.state === state ? this.#status.sinceMs : this.#now(), detail: next };
    this.#notify();
  }

  subscribe(onChange: () => void): () => void {
    this.#subscribers.add(onChange);
    return () => this.#subscribers.delete(onChange);
  }

  status(): LivePolicyStatus {
    return { ...this.#status };
  }

  /** Registers what the source must stop (watchers, streams) when the policy is closed. */
  onClose(fn: () => void | Promise<void>): void {
    this.#closers.push(fn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.clear();
    await Promise.all(this.#closers.map(async (fn) => fn()));
  }

  #notify(): void {
    for (const fn of [...this.#subscribers]) {
      try {
        fn();
      } catch {
        // One subscriber's failure must not keep the others from the change.
      }
    }
  }
}
