import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1ObjectMeta, type V1Secret } from '@kubernetes/client-node';
import { NotFoundError, UnavailableError } from '../common/errors.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { describeApiFailure, withDeadline, type ApiCall, type CallOptions } from '../common/kube-client.ts';
import { ObjectWatch, type Backoff } from './kubernetes-watch.ts';
import type { StoredBundle, StoredIssuer, Subscription, TrustStore } from './store.ts';

export interface KubernetesTrustStoreOptions {
  kubeConfig: KubeConfig;
  /** The control-plane namespace. Default `linkerd`. */
  namespace?: string;
  /** A `kubernetes.io/tls` Secret with `tls.crt`, `tls.key`, `ca.crt`. Default `linkerd-identity-issuer`. */
  issuerSecretName?: string;
  /** Default `linkerd-identity-trust-roots`. */
  bundleConfigMapName?: string;
  /** Default `ca-bundle.crt`. */
  bundleKey?: string;
  logger?: Logger;
  /** Bound on each API call. Default 10 s. */
  requestTimeoutMs?: number;
  /** Reconnect schedule for watches. Default 500 ms doubling to 30 s. */
  backoff?: Partial<Backoff>;
  /** Events closer together than this make one `onChange` call. Default 100 ms. */
  debounceMs?: number;
}

/** How often a write re-reads and retries when another writer wins the race (409). */
const MAX_WRITE_ATTEMPTS = 5;

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8'));

/**
 * Trust material in the cluster, where Linkerd and cert-manager keep it: the issuer in a
 * `kubernetes.io/tls` Secret, the anchors in a ConfigMap. Bytes only; validation is the caller's.
 *
 * ```ts
 * const kc = new KubeConfig();
 * kc.loadFromDefault();
 * const store = new KubernetesTrustStore({ kubeConfig: kc });
 * const issuer = await store.readIssuer(); // source: "Secret linkerd/linkerd-identity-issuer"
 * const sub = store.watch(() => void reload());
 * ```
 */
export class KubernetesTrustStore implements TrustStore {
  readonly description: string;
  readonly #kubeConfig: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #secretName: string;
  readonly #configMapName: string;
  readonly #bundleKey: string;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #backoff: Backoff;
  readonly #debounceMs: number;
  readonly #issuerSource: string;
  readonly #bundleSource: string;

  constructor(options: KubernetesTrustStoreOptions) {
    this.#kubeConfig = options.kubeConfig;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = options.namespace ?? 'linkerd';
    this.#secretName = options.issuerSecretName ?? 'linkerd-identity-issuer';
    this.#configMapName = options.bundleConfigMapName ?? 'linkerd-identity-trust-roots';
    this.#bundleKey = options.bundleKey ?? 'ca-bundle.crt';
    this.#logger = options.logger ?? silentLogger;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#backoff = { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 };
    this.#debounceMs = options.debounceMs ?? 100;
    this.#issuerSource = `Secret ${this.#namespace}/${this.#secretName}`;
    this.#bundleSource = `ConfigMap ${this.#namespace}/${this.#configMapName}`;
    this.description = `Kubernetes ${this.#issuerSource}, ${this.#bundleSource}`;
  }

  async readIssuer(): Promise<StoredIssuer> {
    const secret = await this.#readSecret();
    if (!secret) {
      throw new NotFoundError(
        `${this.#issuerSource} does not exist; create it as a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt ` +
          '(the shape cert-manager writes), or point the store at the namespace and name where the issuer lives',
      );
    }
    const data = secret.data ?? {};
    for (const key of ['tls.crt', 'tls.key']) {
      if (!data[key]) throw new NotFoundError(`${this.#issuerSource} has no "${key}" key; it must hold the issuer as a kubernetes.io/tls Secret does`);
    }
    return {
      certificatePem: unb64(data['tls.crt'])!,
      privateKeyPem: unb64(data['tls.key'])!,
      caPem: unb64(data['ca.crt']) ?? '',
      source: this.#issuerSource,
    };
  }

  async readBundle(): Promise<StoredBundle> {
    const configMap = await this.#readConfigMap();
    if (!configMap) {
      throw new NotFoundError(
        `${this.#bundleSource} does not exist; create it with the trust anchors (PEM) under the key "${this.#bundleKey}", ` +
          'or point the store at the namespace and name where the bundle lives',
      );
    }
    const pem = configMap.data?.[this.#bundleKey];
    if (pem === undefined) throw new NotFoundError(`${this.#bundleSource} has no "${this.#bundleKey}" key; put the trust anchors (PEM) there`);
    return { pem, source: this.#bundleSource };
  }

  async writeIssuer(issuer: Omit<StoredIssuer, 'source'>): Promise<void> {
    const keys = { 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem), 'ca.crt': b64(issuer.caPem) };
    await this.#upsert<V1Secret>(this.#issuerSource, {
      read: () => this.#readSecret(),
      // Other keys, labels and annotations (cert-manager's, say) are kept; the type cannot change.
      build: (existing) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: this.#metadata(existing?.metadata, this.#secretName),
        type: existing?.type ?? 'kubernetes.io/tls',
        data: { ...existing?.data, ...keys },
      }),
      create: (body, o) => this.#core.createNamespacedSecret({ namespace: this.#namespace, body }, o),
      replace: (body, o) => this.#core.replaceNamespacedSecret({ namespace: this.#namespace, name: this.#secretName, body }, o),
    });
  }

  async writeBundle(pem: string): Promise<void> {
    await this.#upsert<V1ConfigMap>(this.#bundleSource, {
      read: () => this.#readConfigMap(),
      build: (existing) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: this.#metadata(existing?.metadata, this.#configMapName),
        data: { ...existing?.data, [this.#bundleKey]: pem },
      }),
      create: (body, o) => this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body }, o),
      replace: (body, o) => this.#core.replaceNamespacedConfigMap({ namespace: this.#namespace, name: this.#configMapName, body }, o),
    });
  }

  watch(onChange: () => void): Subscription {
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      if (closed) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (closed) return;
        try {
          onChange();
        } catch (err) {
          this.#logger.error({ err }, 'trust store change handler failed');
        }
      }, this.#debounceMs);
    };
    const watches = [
      this.#objectWatch('secrets', this.#secretName, this.#issuerSource, changed),
      this.#objectWatch('configmaps', this.#configMapName, this.#bundleSource, changed),
    ];
    for (const w of watches) w.start();
    return {
      close: () => {
        closed = true;
        clearTimeout(timer);
        for (const w of watches) w.close();
      },
    };
  }

  #objectWatch(resource: 'secrets' | 'configmaps', name: string, source: string, onChange: () => void): ObjectWatch {
    const fieldSelector = `metadata.name=${name}`;
    const namespace = this.#namespace;
    return new ObjectWatch({
      kubeConfig: this.#kubeConfig,
      resource,
      namespace,
      name,
      source,
      onChange,
      backoff: this.#backoff,
      logger: this.#logger,
      list: async (signal) => {
        const limits = { timeoutMs: this.#timeoutMs, signal };
        const list =
          resource === 'secrets'
            ? await withDeadline((o) => this.#core.listNamespacedSecret({ namespace, fieldSelector }, o), limits)
            : await withDeadline((o) => this.#core.listNamespacedConfigMap({ namespace, fieldSelector }, o), limits);
        const rv = list.metadata?.resourceVersion;
        if (!rv) throw new Error(`the list of ${source} has no resourceVersion`);
        return rv;
      },
    });
  }

  #metadata(existing: V1ObjectMeta | undefined, name: string): V1ObjectMeta {
    if (!existing) return { name, namespace: this.#namespace };
    // resourceVersion stays: it is the precondition that makes a concurrent write a 409, not a lost update.
    const { managedFields: _managed, ...kept } = existing;
    return kept;
  }

  #readSecret(): Promise<V1Secret | undefined> {
    return this.#read(this.#issuerSource, (o) => this.#core.readNamespacedSecret({ namespace: this.#namespace, name: this.#secretName }, o));
  }

  #readConfigMap(): Promise<V1ConfigMap | undefined> {
    return this.#read(this.#bundleSource, (o) =>
      this.#core.readNamespacedConfigMap({ namespace: this.#namespace, name: this.#configMapName }, o),
    );
  }

  /** One GET: the object, undefined for 404, UnavailableError for everything else. */
  async #read<T>(source: string, call: ApiCall<T>): Promise<T | undefined> {
    try {
      return await withDeadline(call, { timeoutMs: this.#timeoutMs });
    } catch (err) {
      if (describeApiFailure(err).code === 404) return undefined;
      throw this.#unavailable(`read ${source}`, err);
    }
  }

  /** Create or replace, re-reading after every 409 so that each retry carries the fresh resourceVersion. */
  async #upsert<T extends { metadata?: V1ObjectMeta }>(
    source: string,
    ops: {
      read(): Promise<T | undefined>;
      build(existing: T | undefined): T;
      create(body: T, options: CallOptions): Promise<T>;
      replace(body: T, options: CallOptions): Promise<T>;
    },
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const existing = await ops.read();
      const body = ops.build(existing);
      try {
        await withDeadline((o) => (existing ? ops.replace(body, o) : ops.create(body, o)), { timeoutMs: this.#timeoutMs });
        this.#logger.info({ object: source, resourceVersionBefore: existing?.metadata?.resourceVersion }, existing ? 'replaced' : 'created');
        return;
      } catch (err) {
        const failure = describeApiFailure(err);
        // 409: AlreadyExists (created meanwhile) or Conflict (changed meanwhile); 404: deleted meanwhile.
        const raced = failure.code === 409 || (failure.code === 404 && existing !== undefined);
        if (raced && attempt < MAX_WRITE_ATTEMPTS) {
          this.#logger.info({ object: source, attempt, reason: failure.reason }, 'lost a write race; re-reading');
          continue;
        }
        if (raced) throw new UnavailableError(`${source} kept changing while we wrote it (${failure.message}); try again`, { cause: err });
        throw this.#unavailable(`write ${source}`, err);
      }
    }
  }

  #unavailable(action: string, err: unknown): UnavailableError {
    const failure = describeApiFailure(err);
    const server = this.#kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API server';
    if (failure.code === 401 || failure.code === 403) {
      return new UnavailableError(
        `the Kubernetes API server at ${server} refused to let us ${action} (${failure.message}); ` +
          `check the kubeconfig credentials and RBAC (get, list, watch, create, update on secrets and configmaps in ${this.#namespace})`,
        { cause: err },
      );
    }
    const why = failure.code === 0 ? `cannot reach the Kubernetes API server at ${server}` : `the Kubernetes API server at ${server} failed`;
    return new UnavailableError(`${why} to ${action}: ${failure.message}`, { cause: err });
  }
}
