/**
 * The watched objects as validated policy resources. Each object is parsed once per
 * resourceVersion, so that an unchanged object stays the very same resource from one build to
 * the next (the index then reuses its namespace). An object that fails validation is left out
 * and logged once with its problems, kubectl-style; it never takes the others down with it.
 */
import type { Logger } from '../../common/log.ts';
import { resourcesFromObjects } from '../resources/load.ts';
import { PolicyValidationError } from '../resources/problems.ts';
import { emptyResourceSet, type PolicyResource, type ResourceSet } from '../resources/types.ts';
import type { KubeObject } from './kinds.ts';
import type { Reflector } from './reflector.ts';

interface Entry {
  uid: string | undefined;
  resourceVersion: string | undefined;
  resource: PolicyResource | undefined;
}

export interface Assembled {
  resources: ResourceSet;
  /** Objects left out because they do not validate, by resource (`servers.policy.linkerd.io`). */
  invalid: Map<string, number>;
}

export class ParsedResources {
  #entries = new Map<string, Entry>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  assemble(reflectors: readonly Reflector[]): Assembled {
    const set = emptyResourceSet();
    const invalid = new Map<string, number>();
    const next = new Map<string, Entry>();
    for (const reflector of reflectors) {
      const { resource: kind } = reflector.kind;
      invalid.set(kind, 0);
      for (const [key, obj] of reflector.objects) {
        const id = `${kind}/${key}`;
        const before = this.#entries.get(id);
        const entry = before && before.uid === obj.metadata?.uid && before.resourceVersion === obj.metadata?.resourceVersion ? before : this.#parse(obj, reflector.kind.kind, key);
        next.set(id, entry);
        if (entry.resource) add(set, entry.resource);
        else invalid.set(kind, invalid.get(kind)! + 1);
      }
    }
    this.#entries = next;
    return { resources: set, invalid };
  }

  #parse(obj: KubeObject, kind: string, key: string): Entry {
    const entry: Entry = { uid: obj.metadata?.uid, resourceVersion: obj.metadata?.resourceVersion, resource: undefined };
    try {
      const { resources } = resourcesFromObjects([obj], `${kind} ${key}`);
      entry.resource = Object.values(resources).flat()[0] as PolicyResource | undefined;
    } catch (err) {
      if (!(err instanceof PolicyValidationError)) throw err;
      this.#logger.warn(
        {
          event: 'resource.invalid',
          resource: `${kind} ${key}`,
          resourceVersion: entry.resourceVersion,
          problems: err.problems.map((p) => (p.field ? `${p.field}: ${p.reason}` : p.reason)),
        },
        `${kind} ${key} is invalid and left out of the policy`,
      );
    }
    return entry;
  }
}

function add(set: ResourceSet, resource: PolicyResource): void {
  switch (resource.kind) {
    case 'Server': set.servers.push(resource); break;
    case 'ServerAuthorization': set.serverAuthorizations.push(resource); break;
    case 'AuthorizationPolicy': set.authorizationPolicies.push(resource); break;
    case 'MeshTLSAuthentication': set.meshTLSAuthentications.push(resource); break;
    case 'NetworkAuthentication': set.networkAuthentications.push(resource); break;
    case 'Pod': set.pods.push(resource); break;
    case 'Namespace': set.namespaces.push(resource); break;
    case 'ServiceAccount': set.serviceAccounts.push(resource); break;
  }
}
