/**
 * The policy index: built once from a resource set, then answers "may this client connect to
 * this pod port?" with a few map lookups and the identity and network checks of the
 * authorizations that apply. When a resource changes, build again passing the previous index:
 * namespaces whose inputs are the same objects are reused, so one change costs one namespace.
 */
import { InvalidArgumentError, NotFoundError } from '../../common/errors.ts';
import type { ResourceSet } from '../resources/types.ts';
import { authorizationContext } from './authorizations.ts';
import { decidePort } from './decide-port.ts';
import { buildNamespace, dependencies, groupByNamespace, sameDependencies, type NamespaceBuild } from './namespaces.ts';
import type { PodEntry } from './pod-ports.ts';
import type { PortPolicy } from './port-policy.ts';
import { serviceAccountNotes } from './server-policies.ts';
import type { Decision, EvaluationInput, EvaluatorConfig, PortConflict } from './types.ts';

/** Default-port policies kept per pod; a pod has a handful of ports, a port scan has many. */
const DEFAULT_PORTS_KEPT = 32;

export class PolicyIndex {
  /** Pod ports that two or more Servers select; the decision uses the first listed Server. */
  readonly conflicts: readonly PortConflict[];
  /** What the resources do that a person should know: void policies, ignored targets, bad annotations. */
  readonly notes: readonly string[];
  readonly config: EvaluatorConfig;
  private readonly pods = new Map<string, PodEntry>();
  private readonly namespaces: Map<string, NamespaceBuild>;

  private constructor(config: EvaluatorConfig, namespaces: Map<string, NamespaceBuild>, extraNotes: string[]) {
    this.config = config;
    this.namespaces = namespaces;
    const conflicts: PortConflict[] = [];
    const notes: string[] = [];
    for (const part of namespaces.values()) {
      for (const pod of part.pods) this.pods.set(pod.key, pod);
      conflicts.push(...part.conflicts);
      notes.push(...part.notes);
    }
    this.conflicts = conflicts;
    this.notes = [...new Set([...notes, ...extraNotes])];
  }

  /**
   * Builds the index. With `previous` (built with the same `config` object), every namespace
   * whose resources are the very same objects as before is taken over unchanged.
   *
   * @example
   *   const index = PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' }));
   *   index.evaluate({ pod: 'demo/api-0', port: 8080, clientIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local', clientIp: '10.1.2.3' });
   *   // { decision: 'allow', server: 'demo/api', authorization: 'AuthorizationPolicy/demo/api-from-web', reason: '...' }
   */
  static build(resources: ResourceSet, config: EvaluatorConfig, previous?: PolicyIndex): PolicyIndex {
    const ctx = authorizationContext(resources, config);
    const reuse = previous?.config === config ? previous.namespaces : undefined;
    const namespaces = new Map<string, NamespaceBuild>();
    for (const [namespace, inputs] of groupByNamespace(resources)) {
      const deps = dependencies(inputs, ctx);
      const before = reuse?.get(namespace);
      namespaces.set(namespace, before && sameDependencies(before.dependencies, deps) ? before : buildNamespace(inputs, deps, ctx));
    }
    return new PolicyIndex(config, namespaces, serviceAccountNotes(resources));
  }

  get podCount(): number {
    return this.pods.size;
  }

  hasPod(pod: string): boolean {
    return this.pods.has(pod);
  }

  /**
   * The compiled policy of one pod port, as plain data (what the policy controller serves).
   * Throws NotFoundError for an unknown pod, InvalidArgumentError for a port outside 1-65535.
   */
  portPolicy(pod: string, port: number): PortPolicy {
    const entry = this.pods.get(pod);
    if (!entry) throw new NotFoundError(`pod ${pod} is not among the policy resources`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not a port number 1-65535`);
    const selected = entry.ports.get(port);
    if (selected) {
      const { policy } = selected;
      return (selected.compiled ??= {
        pod,
        port,
        governor: policy.governor,
        protocol: policy.server.proxyProtocol,
        authorizations: policy.portAuthorizations,
        fallback: policy.accessPolicy === 'audit' ? 'audit' : 'deny',
        conflict: selected.conflictText,
        void: policy.voidText,
      });
    }
    const cached = entry.defaultPorts?.get(port);
    if (cached) return cached;
    const { defaults } = entry;
    const policy: PortPolicy = {
      pod,
      port,
      governor: defaults.governor,
      protocol: entry.opaquePorts.has(port) ? 'opaque' : 'unknown',
      authorizations: defaults.authorizations,
      fallback: defaults.policy === 'audit' ? 'audit' : 'deny',
      conflict: '',
      void: '',
    };
    // Kept for the ports a proxy watches, so that an unchanged pod yields the very same object
    // (the policy API then knows at once that nothing changed); bounded, as clients pick the ports.
    entry.defaultPorts ??= new Map();
    if (entry.defaultPorts.size < DEFAULT_PORTS_KEPT) entry.defaultPorts.set(port, policy);
    return policy;
  }

  /**
   * Decides one connection: `decidePort` over this pod port's policy. Throws NotFoundError for an
   * unknown pod, InvalidArgumentError for a bad port or address.
   */
  evaluate(input: EvaluationInput): Decision {
    return decidePort(this.portPolicy(input.pod, input.port), input);
  }
}
