import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { createInboundPolicyClient, type InboundPolicyClient } from '../../policy/api/client.ts';
import { decodePortPolicy } from '../../policy/api/codec.ts';
import type { ServerMessage } from '../../policy/api/messages.ts';
import type { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import type { PortPolicy } from '../../policy/evaluator/port-policy.ts';
import type { EvaluatorConfig } from '../../policy/evaluator/types.ts';
import type { ObjectInput } from './kube-api-server.ts';

/**
 * Policy objects as a test writes them into the test API server, a logger whose lines a test can
 * read, and a WatchPort reader that a test can await (or assert silence on) instead of sleeping.
 */

export const GROUP = 'policy.linkerd.io';
export const sa = (name: string, namespace: string): string => `${name}.${namespace}.serviceaccount.identity.linkerd.cluster.local`;

export function podObject(name: string, options: { labels?: Record<string, string>; annotations?: Record<string, string>; ports?: { name?: string; containerPort: number }[]; serviceAccount?: string } = {}): ObjectInput {
  return {
    metadata: { name, labels: options.labels ?? {}, annotations: options.annotations ?? {} },
    spec: {
      serviceAccountName: options.serviceAccount ?? 'default',
      containers: [{ name: 'app', image: 'registry.example/app:1', ports: options.ports ?? [{ name: 'http', containerPort: 8080 }] }],
    },
    status: { phase: 'Running', podIP: '10.1.0.5' },
  };
}

export function serverObject(name: string, spec: { matchLabels: Record<string, string>; port: number | string; proxyProtocol?: string; accessPolicy?: string }): ObjectInput {
  const { matchLabels, ...rest } = spec;
  return { apiVersion: `${GROUP}/v1beta3`, kind: 'Server', metadata: { name }, spec: { podSelector: { matchLabels }, ...rest } };
}

export type AuthenticationRef = { kind: 'ServiceAccount' | 'MeshTLSAuthentication' | 'NetworkAuthentication'; name: string; namespace?: string };

export function authorizationPolicyObject(name: string, server: string, refs: AuthenticationRef[]): ObjectInput {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: 'AuthorizationPolicy',
    metadata: { name },
    spec: {
      targetRef: { group: GROUP, kind: 'Server', name: server },
      requiredAuthenticationRefs: refs.map((r) => (r.kind === 'ServiceAccount' ? r : { group: GROUP, ...r })),
    },
  };
}

export function networkAuthenticationObject(name: string, networks: { cidr: string; except?: string[] }[]): ObjectInput {
  return { apiVersion: `${GROUP}/v1alpha1`, kind: 'NetworkAuthentication', metadata: { name }, spec: { networks } };
}

export function meshTLSAuthenticationObject(name: string, identities: string[]): ObjectInput {
  return { apiVersion: `${GROUP}/v1alpha1`, kind: 'MeshTLSAuthentication', metadata: { name }, spec: { identities } };
}

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Resolves with the first line, past or future, whose `event` is `event` and that `match` accepts. */
  waitFor(event: string, match?: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** A pino logger writing JSON lines into memory. */
export function captureLog(level = 'debug'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) if (text.trim()) lines.push(JSON.parse(text) as Record<string, unknown>);
      for (const w of [...waiters]) w();
      done();
    },
  });
  const logger = pino({ level, base: undefined }, stream);
  return {
    logger,
    lines,
    waitFor(event, match = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => l['event'] === event && match(l));
          if (!line) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no log event ${event} within ${timeoutMs} ms; events: ${lines.map((l) => l['event']).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** One WatchPort stream, read as a queue of decoded port policies. */
export class PortWatchReader {
  readonly messages: ServerMessage[] = [];
  status: grpc.StatusObject | undefined;
  readonly #call: grpc.ClientReadableStream<ServerMessage>;
  readonly #decode: (m: ServerMessage) => PortPolicy;
  #read = 0;
  #wake: (() => void) | undefined;

  constructor(client: InboundPolicyClient, pod: string, port: number, config: EvaluatorConfig, workload = pod.replace('/', ':')) {
    this.#decode = (m) => decodePortPolicy(m, { pod, port, clusterNetworks: config.clusterNetworks });
    this.#call = client.watchPort({ workload, port });
    this.#call.on('data', (m: ServerMessage) => {
      this.messages.push(m);
      this.#wake?.();
    });
    this.#call.on('error', () => {});
    this.#call.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      this.#wake?.();
    });
  }

  /** The next message, decoded; rejects when the stream ends first or nothing comes within `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<PortPolicy> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.messages.length) {
      if (this.status) throw new Error(`the watch ended: ${grpc.status[this.status.code]} ${this.status.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#decode(this.messages[this.#read++]!);
  }

  /** Resolves with the final status. */
  async ended(timeoutMs = 5_000): Promise<grpc.StatusObject> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status) {
      if (Date.now() > deadline) throw new Error(`the watch did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.status;
  }

  /** Messages received and not yet read. */
  get unread(): number {
    return this.messages.length - this.#read;
  }

  cancel(): void {
    this.#call.cancel();
  }
}

export { createInboundPolicyClient };

/** Resolves with the first index (the current one, or a later build) that `check` accepts. */
export function indexWhere(
  source: { current(): PolicyIndex | undefined; subscribe(fn: (index: PolicyIndex) => void): () => void },
  check: (index: PolicyIndex) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<PolicyIndex> {
  const now = source.current();
  if (now && check(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no index with ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = source.subscribe((index) => {
      if (!check(index)) return;
      clearTimeout(timer);
      stop();
      resolve(index);
    });
  });
}
