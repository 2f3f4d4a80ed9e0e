/**
 * Per pod, once: which Server governs each port it selects, and which default policy governs
 * the rest. A numeric Server port applies whether or not a container declares it; a named one
 * selects every TCP container port of that name, across containers, and nothing on a pod
 * without it. When Servers collide on a port, the oldest (then the first by name) wins.
 */
import { selectorMatches } from '../resources/selector.ts';
import { DEFAULT_INBOUND_POLICY_ANNOTATION, isDefaultPolicyName, keyOf, type DefaultPolicyName, type Pod } from '../resources/types.ts';
import { compileDefaultPolicy } from './authorizations.ts';
import type { NamespaceInputs } from './namespaces.ts';
import { opaquePortsOf } from './opaque-ports.ts';
import type { PortAuthorization, PortGovernor, PortPolicy } from './port-policy.ts';
import { serverPrecedence, type ServerPolicy } from './server-policies.ts';
import type { EvaluatorConfig, PortConflict } from './types.ts';

export interface PortEntry {
  policy: ServerPolicy;
  /** `Server demo/b also selects this port, ignored (...)`, or ''. */
  conflictText: string;
  /** The port policy, made on first use (decisions run per connection). */
  compiled?: PortPolicy;
}

export interface DefaultEntry {
  policy: DefaultPolicyName;
  governor: PortGovernor;
  /** What the default policy admits: none for deny and audit. */
  authorizations: readonly PortAuthorization[];
}

export interface PodEntry {
  key: string;
  ports: Map<number, PortEntry>;
  defaults: DefaultEntry;
  /** Ports the `config.linkerd.io/opaque-ports` annotation names (pod, else namespace): never protocol-detected. */
  opaquePorts: ReadonlySet<number>;
  /** Port policies of default ports asked for so far (a few: see policy-index.ts). */
  defaultPorts?: Map<number, PortPolicy>;
}

function podPorts(pod: Pod, port: number | string): number[] {
  if (typeof port === 'number') return [port];
  const out: number[] = [];
  for (const p of pod.ports) if (p.name === port && p.protocol === 'TCP' && !out.includes(p.containerPort)) out.push(p.containerPort);
  return out;
}

/** The pods of one namespace, with the Server of each selected port. */
export function buildPodEntries(inputs: NamespaceInputs, servers: readonly ServerPolicy[], config: EvaluatorConfig, notes: string[]): { pods: PodEntry[]; conflicts: PortConflict[] } {
  const defaults = defaultResolver(inputs, config, notes);
  const pods = inputs.pods;
  const entries: PodEntry[] = pods.map((pod) => ({ key: keyOf(pod.meta), ports: new Map(), defaults: defaults(pod), opaquePorts: opaquePortsOf(pod, inputs.object, notes) }));
  // label "k=v" -> indexes of the pods that carry it, built on first use, to narrow selector matching.
  let labelIndex: Map<string, number[]> | undefined;
  const candidates = (labels: Readonly<Record<string, string>>): Iterable<number> => {
    const first = Object.keys(labels)[0];
    if (first === undefined) return pods.keys();
    if (!labelIndex) {
      labelIndex = new Map();
      for (let i = 0; i < pods.length; i++) {
        const podLabels = pods[i]!.meta.labels;
        for (const k in podLabels) {
          const key = `${k}=${podLabels[k]}`;
          const list = labelIndex.get(key);
          if (list) list.push(i);
          else labelIndex.set(key, [i]);
        }
      }
    }
    return labelIndex.get(`${first}=${labels[first]}`) ?? [];
  };

  const conflicts = new Map<string, { conflict: PortConflict; entry: PortEntry }>();
  for (const policy of [...servers].sort((a, b) => serverPrecedence(a.server, b.server))) {
    const selector = policy.server.podSelector;
    if (!selector) continue;
    for (const i of candidates(selector.matchLabels)) {
      const pod = pods[i]!;
      if (!selectorMatches(selector, pod.meta.labels)) continue;
      const entry = entries[i]!;
      for (const port of podPorts(pod, policy.server.port)) {
        const existing = entry.ports.get(port);
        if (!existing) {
          entry.ports.set(port, { policy, conflictText: '' });
          continue;
        }
        const id = `${entry.key}:${port}`;
        const c = conflicts.get(id) ?? { conflict: { pod: entry.key, port, server: existing.policy.key, ignored: [] }, entry: existing };
        c.conflict.ignored.push(policy.key);
        conflicts.set(id, c);
      }
    }
  }
  for (const { conflict, entry } of conflicts.values()) {
    const others = conflict.ignored.map((k) => `Server ${k}`).join(', ');
    entry.conflictText = `${others} also select${conflict.ignored.length === 1 ? 's' : ''} this port, ignored (Server ${conflict.server} applies: oldest first, then by name)`;
  }
  return { pods: entries, conflicts: [...conflicts.values()].map((c) => c.conflict) };
}

/**
 * Pod annotation, else namespace annotation, else the cluster default. Linkerd reads the pod's
 * annotation only (the injector copies the namespace's); an invalid value means the cluster default.
 */
function defaultResolver(inputs: NamespaceInputs, config: EvaluatorConfig, notes: string[]): (pod: Pod) => DefaultEntry {
  const cache = new Map<string, DefaultEntry>();
  const entry = (policy: DefaultPolicyName, origin: string): DefaultEntry => {
    const id = `${policy}|${origin}`;
    let e = cache.get(id);
    if (!e) {
      const authorization = compileDefaultPolicy(policy, config);
      cache.set(id, (e = { policy, governor: { kind: 'default', policy, origin }, authorizations: authorization ? [authorization] : [] }));
    }
    return e;
  };
  const cluster = config.defaultPolicy;
  let reported = false;
  return (pod) => {
    const own = pod.meta.annotations[DEFAULT_INBOUND_POLICY_ANNOTATION];
    if (own !== undefined) {
      if (isDefaultPolicyName(own)) return entry(own, 'pod annotation');
      notes.push(`Pod ${keyOf(pod.meta)}: ${DEFAULT_INBOUND_POLICY_ANNOTATION} "${own}" is not a policy; the cluster default ${cluster} applies`);
      return entry(cluster, `cluster default; the pod's annotation "${own}" is not a policy`);
    }
    const value = inputs.object?.meta.annotations[DEFAULT_INBOUND_POLICY_ANNOTATION];
    if (value === undefined) return entry(cluster, 'cluster default');
    if (isDefaultPolicyName(value)) return entry(value, 'namespace annotation');
    if (!reported) {
      reported = true;
      notes.push(`Namespace ${pod.meta.namespace}: ${DEFAULT_INBOUND_POLICY_ANNOTATION} "${value}" is not a policy; the cluster default ${cluster} applies`);
    }
    return entry(cluster, `cluster default; namespace ${pod.meta.namespace}'s annotation "${value}" is not a policy`);
  };
}
