/**
 * The policy index: built once from a resource set, then answers "may this client connect to
 * this pod port?" with a few map lookups and the identity and network checks of the
 * authorizations that apply. When a resource changes, build again passing the previous index:
 * namespaces whose inputs are the same objects are reused, so one change costs one namespace.
 */
import { InvalidArgumentError, NotFoundError } from '../../common/errors.ts';
import { parseIp, unmapIpv4 } from '../net/cidr.ts';
import type { ResourceSet } from '../resources/types.ts';
import { authorizationContext } from './authorizations.ts';
import { admits, checkedText, describeClient, whyNot, type Client } from './explain.ts';
import { normalizeIdentity } from './identity.ts';
import { buildNamespace, dependencies, groupByNamespace, sameDependencies, type NamespaceBuild } from './namespaces.ts';
import type { PodEntry, PortEntry } from './pod-ports.ts';
import { serviceAccountNotes } from './server-policies.ts';
import type { Decision, EvaluationInput, EvaluatorConfig, PortConflict } from './types.ts';

const AUDIT_REF = 'default/audit';
const AUDIT_TEXT = 'admits it in audit mode and records that it would have been denied';

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

  /** Decides one connection. Throws NotFoundError for an unknown pod, InvalidArgumentError for a bad port or address. */
  evaluate(input: EvaluationInput): Decision {
    const pod = this.pods.get(input.pod);
    if (!pod) throw new NotFoundError(`pod ${input.pod} is not among the policy resources`);
    const { port } = input;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not a port number 1-65535`);
    const parsed = parseIp(input.clientIp);
    if (!parsed) throw new InvalidArgumentError(`client address "${String(input.clientIp).slice(0, 60)}" is not an IP address`);
    const identity = input.clientIdentity ? normalizeIdentity(input.clientIdentity) : undefined;
    const client: Client = { identity, ip: unmapIpv4(parsed), text: describeClient(identity, input.clientIp) };
    const entry = pod.ports.get(port);
    return entry ? decideServer(entry, client) : decideDefault(pod, port, client);
  }
}

function decideServer(entry: PortEntry, client: Client): Decision {
  const { policy, conflictText } = entry;
  const server = policy.key;
  for (const authz of policy.authorizations) {
    if (admits(authz, client)) {
      return { decision: 'allow', server, authorization: authz.ref, reason: `${authz.label} admits ${client.text} to Server ${server}${conflictText}` };
    }
  }
  const head = `no authorization for Server ${server} admits ${client.text}${checkedText(policy.authorizations, client)}; accessPolicy ${policy.accessPolicy}`;
  if (policy.accessPolicy === 'audit') {
    return { decision: 'audit', server, authorization: AUDIT_REF, reason: `${head} ${AUDIT_TEXT}${policy.voidText}${conflictText}` };
  }
  const access = policy.access;
  if (access && admits(access, client)) {
    return { decision: 'allow', server, authorization: access.ref, reason: `${head} admits it${conflictText}` };
  }
  const tail = access ? ` does not admit it either (${whyNot(access, client)})` : '';
  return { decision: 'deny', server, authorization: null, reason: `${head}${tail}${policy.voidText}${conflictText}` };
}

function decideDefault(pod: PodEntry, port: number, client: Client): Decision {
  const { policy, authorization, origin } = pod.defaults;
  const head = `no Server selects port ${port} of pod ${pod.key}; default policy ${policy} (${origin})`;
  if (policy === 'audit') {
    return { decision: 'audit', server: null, authorization: AUDIT_REF, defaultPolicy: policy, reason: `${head} admits ${client.text} in audit mode and records that it would have been denied` };
  }
  if (authorization && admits(authorization, client)) {
    return { decision: 'allow', server: null, authorization: authorization.ref, defaultPolicy: policy, reason: `${head} admits ${client.text}` };
  }
  const reason = authorization
    ? `${head} does not admit ${client.text}: it ${whyNot(authorization, client)}`
    : `${head} admits no one; ${client.text} is refused`;
  return { decision: 'deny', server: null, authorization: null, defaultPolicy: policy, reason };
}
