/**
 * Set-up shared by the policy API tests (the server, and the proxy-side client source): a policy
 * source the test feeds by hand, the index of a list of objects, and the API server on loopback.
 */
import { startPolicyApiServer, type PolicyApiServer, type PolicyApiServerOptions, type PortPolicySource } from '../../policy/api/server.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import type { EvaluatorConfig } from '../../policy/evaluator/types.ts';
import { resourcesFromObjects } from '../../policy/resources/load.ts';
import { captureLog } from '../support/kube-policy.ts';

/** The index of Kubernetes objects (Pods, Servers, policies) given inline. */
export function indexOfObjects(objects: unknown[], config: EvaluatorConfig): PolicyIndex {
  return PolicyIndex.build(resourcesFromObjects(objects).resources, config);
}

/** A policy source a test feeds by hand. */
export class ManualSource implements PortPolicySource {
  #index: PolicyIndex | undefined;
  #subscribers = new Set<(index: PolicyIndex) => void>();
  #waiting = new Set<(index: PolicyIndex) => void>();

  set(index: PolicyIndex): void {
    this.#index = index;
    for (const w of this.#waiting) w(index);
    this.#waiting.clear();
    for (const s of this.#subscribers) s(index);
  }

  current(): PolicyIndex | undefined {
    return this.#index;
  }

  whenReady(signal: AbortSignal): Promise<PolicyIndex> {
    if (this.#index) return Promise.resolve(this.#index);
    return new Promise((resolve, reject) => {
      this.#waiting.add(resolve);
      signal.addEventListener('abort', () => {
        this.#waiting.delete(resolve);
        reject(new Error('aborted'));
      });
    });
  }

  subscribe(fn: (index: PolicyIndex) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
}

/** The policy API on 127.0.0.1 (an ephemeral port unless `options.port`), logging to a captured log. */
export function startTestPolicyApi(source: PortPolicySource, options: Partial<PolicyApiServerOptions> = {}): Promise<PolicyApiServer> {
  return startPolicyApiServer({ host: '127.0.0.1', port: 0, source, logger: captureLog().logger, ...options });
}
