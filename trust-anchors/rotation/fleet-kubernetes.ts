import { CoreV1Api, type KubeConfig, type V1Container, type V1ContainerStatus, type V1Pod, type V1PodList } from '@kubernetes/client-node';
import { ConfigError, UnavailableError, type IdentityError } from '../../common/errors.ts';
import { describeApiFailure, withDeadline, type CallOptions } from '../../common/kube-client.ts';
import type { Fleet, FleetMember } from './fleet.ts';

/** The container Linkerd's proxy injector adds to a meshed pod. */
export const PROXY_CONTAINER = 'linkerd-proxy';
/** The port of that container on which the proxy serves its admin endpoints (4191 in Linkerd). */
export const ADMIN_PORT_NAME = 'linkerd-admin';

/** Pods whose containers have all stopped for good (Jobs): no proxy left to hold a bundle. */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);
/** A Kubernetes namespace name: an RFC 1123 label. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A `continue` token that expired (410) restarts the list from the beginning, at most this often. */
const MAX_LIST_ATTEMPTS = 3;

export const isNamespaceName = (name: string): boolean => NAMESPACE.test(name);

export interface KubernetesFleetOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to look in; all namespaces when empty or left out. */
  namespaces?: string[];
  /** A label selector narrowing the pods (`app=web,tier!=batch`), as `kubectl get pods -l` takes it. */
  labelSelector?: string;
  /** Bound on each API call. Default 10 s. */
  requestTimeoutMs?: number;
  /** Pods per list request (`limit`); bigger lists come in chunks. Default 500. */
  pageSize?: number;
}

/**
 * The meshed pods of a cluster, as the fleet of a rotation: every pod with Linkerd's proxy (a
 * container named `linkerd-proxy`, among the containers or, for native sidecars, the init
 * containers), in all namespaces or the ones given, narrowed by a label selector if one is given.
 * A member is named `NAMESPACE/POD` and asked at `status.podIP` on the `containerPort` of the
 * proxy container's port named `linkerd-admin`.
 *
 * The pods are listed again on every call (every round of a wait), as FileFleet re-reads its
 * file: a pod created meanwhile joins, a pod deleted meanwhile is no longer waited for. Nothing
 * is skipped silently: a meshed pod that is not Running, has no IP yet, or whose proxy declares no
 * `linkerd-admin` port is a member that cannot be asked (`unavailable`, a straggler with the
 * reason: `Pending, no pod IP yet`). Only pods whose phase is Succeeded or Failed are left out:
 * their containers have stopped for good (finished Jobs), so no proxy there holds a bundle.
 * A pod being deleted stays a member while it is listed (its proxy may still serve during its
 * grace period). An API failure is an error (UnavailableError, ConfigError for a refused
 * selector), never an empty fleet.
 *
 * ```ts
 * const fleet = new KubernetesFleet({ kubeConfig, namespaces: ['demo'], labelSelector: 'app=web' });
 * await fleet.members(); // [{ name: 'demo/web-0', admin: '10.1.0.5:4191' }, { name: 'demo/web-1', admin: '', unavailable: 'Pending, no pod IP yet' }]
 * ```
 */
export class KubernetesFleet implements Fleet {
  readonly description: string;
  readonly emptyHint: string;
  readonly #kubeConfig: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #namespaces: string[];
  readonly #labelSelector: string | undefined;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #where: string;

  constructor(options: KubernetesFleetOptions) {
    this.#kubeConfig = options.kubeConfig;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#namespaces = [...new Set(options.namespaces ?? [])];
    for (const ns of this.#namespaces) {
      if (!isNamespaceName(ns)) throw new ConfigError(`"${ns}" is not a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)`);
    }
    const selector = options.labelSelector?.trim();
    this.#labelSelector = selector ? selector : undefined;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#pageSize = options.pageSize ?? 500;
    this.#where = this.#namespaces.length === 0 ? 'in all namespaces' : `in namespace${this.#namespaces.length > 1 ? 's' : ''} ${this.#namespaces.join(', ')}`;
    const selected = this.#labelSelector ? ` with labels ${this.#labelSelector}` : '';
    this.description = `meshed pods (container ${PROXY_CONTAINER}) ${this.#where}${selected}, from the Kubernetes API server at ${this.#server}`;
    this.emptyHint =
      `no pod there has a container named ${PROXY_CONTAINER}: check that the workloads are injected and the namespaces and ` +
      'label selector are the right ones, or pass --allow-empty-fleet if there really are none';
  }

  async members(): Promise<FleetMember[]> {
    const pods = this.#namespaces.length === 0 ? await this.#list(undefined) : (await Promise.all(this.#namespaces.map((ns) => this.#list(ns)))).flat();
    const members: FleetMember[] = [];
    for (const pod of pods) {
      const member = memberOf(pod);
      if (member) members.push(member);
    }
    return members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get #server(): string {
    return this.#kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API server';
  }

  /** Every pod of one namespace (or all), chunk by chunk; a chunked list whose token expired starts over. */
  async #list(namespace: string | undefined): Promise<V1Pod[]> {
    for (let attempt = 1; ; attempt++) {
      const pods: V1Pod[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await this.#page(namespace, token);
          pods.push(...page.items);
          token = page.metadata?._continue || undefined;
        } while (token);
        return pods;
      } catch (err) {
        // 410 Expired on a `continue`: the snapshot it pointed into is gone; a fresh list is consistent again.
        if (token !== undefined && describeApiFailure(err).code === 410 && attempt < MAX_LIST_ATTEMPTS) continue;
        throw this.#failure(namespace, err);
      }
    }
  }

  #page(namespace: string | undefined, token: string | undefined): Promise<V1PodList> {
    const query = {
      limit: this.#pageSize,
      ...(this.#labelSelector !== undefined ? { labelSelector: this.#labelSelector } : {}),
      ...(token !== undefined ? { _continue: token } : {}),
    };
    const call = (o: CallOptions) =>
      namespace === undefined ? this.#core.listPodForAllNamespaces(query, o) : this.#core.listNamespacedPod({ namespace, ...query }, o);
    return withDeadline(call, { timeoutMs: this.#timeoutMs });
  }

  #failure(namespace: string | undefined, err: unknown): IdentityError {
    const failure = describeApiFailure(err);
    const where = namespace === undefined ? 'in all namespaces' : `in namespace ${namespace}`;
    const action = `list the pods ${where}`;
    if (failure.code === 401 || failure.code === 403) {
      return new UnavailableError(
        `the Kubernetes API server at ${this.#server} refused to let us ${action} (${failure.message}); ` +
          `check the kubeconfig credentials and RBAC (list on pods ${namespace === undefined ? 'cluster-wide' : `in ${namespace}`})`,
        { cause: err },
      );
    }
    if (failure.code === 400) {
      const selector = this.#labelSelector !== undefined ? ` with the label selector "${this.#labelSelector}"` : '';
      return new ConfigError(`the Kubernetes API server at ${this.#server} refused to ${action}${selector}: ${failure.message}`, { cause: err });
    }
    const why = failure.code === 0 ? `cannot reach the Kubernetes API server at ${this.#server}` : `the Kubernetes API server at ${this.#server} failed`;
    return new UnavailableError(`${why} to ${action} (the fleet of meshed pods): ${failure.message}`, { cause: err });
  }
}

/** The member a pod makes, or undefined when it is not meshed or has finished for good. */
export function memberOf(pod: V1Pod): FleetMember | undefined {
  const proxy = proxyContainer(pod);
  const phase = pod.status?.phase;
  if (!proxy || (phase !== undefined && FINISHED_PHASES.has(phase))) return undefined;
  const name = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const ip = pod.status?.podIP || undefined;
  const port = proxy.container.ports?.find((p) => p.name === ADMIN_PORT_NAME)?.containerPort;
  const admin = ip !== undefined && port !== undefined ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : '';
  const problems: string[] = [];
  if (phase !== 'Running') problems.push(phase ?? 'no phase yet');
  if (ip === undefined) problems.push('no pod IP yet');
  const waiting = proxy.status?.state?.waiting;
  if (waiting) problems.push(`${PROXY_CONTAINER} waiting${waiting.reason ? ` (${waiting.reason})` : ''}`);
  if (port === undefined) problems.push(`its ${PROXY_CONTAINER} container declares no port named ${ADMIN_PORT_NAME}, so its admin address is unknown`);
  return problems.length === 0 ? { name, admin } : { name, admin, unavailable: problems.join(', ') };
}

/** Linkerd's proxy: a regular container, or (native sidecar mode) an init container that keeps running. */
function proxyContainer(pod: V1Pod): { container: V1Container; status: V1ContainerStatus | undefined } | undefined {
  const regular = pod.spec?.containers?.find((c) => c.name === PROXY_CONTAINER);
  if (regular) return { container: regular, status: pod.status?.containerStatuses?.find((s) => s.name === PROXY_CONTAINER) };
  const sidecar = pod.spec?.initContainers?.find((c) => c.name === PROXY_CONTAINER);
  if (sidecar) return { container: sidecar, status: pod.status?.initContainerStatuses?.find((s) => s.name === PROXY_CONTAINER) };
  return undefined;
}
