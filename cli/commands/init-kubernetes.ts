/**
 * `identity init --kubernetes`: the home, then the issuer Secret and the trust-roots ConfigMap
 * published to the cluster. The anchor's key never leaves the home.
 */
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { AlreadyExistsError, NotFoundError, UnavailableError, UsageError } from '../../common/errors.ts';
import { describeApiFailure, withDeadline, type ApiCall, type ApiFailure } from '../../common/kube-client.ts';
import { silentLogger } from '../../common/log.ts';
import { defaultIdentityDomain } from '../../common/names.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { homeExists, initHome, readHomeTrust, type HomeTrust } from '../../trust-anchors/home.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { isNamespaceName } from '../../trust-anchors/rotation/fleet-kubernetes.ts';
import { bundleFingerprintOfPem, certificateFingerprint, shortFingerprint } from '../../trust-anchors/rotation/fingerprints.ts';
import { loadKubeConfig } from '../kube-config.ts';
import { flagName, printHome, printLine, type InitFlags } from './init.ts';

/** The defaults of the Kubernetes flags, shared with `serve --kubernetes` and the rotations. */
const KUBE_DEFAULTS = { namespace: 'linkerd', issuerSecret: 'linkerd-identity-issuer', trustRootsConfigmap: 'linkerd-identity-trust-roots' };
/** Bound on each API call, as the trust store's. */
const REQUEST_TIMEOUT_MS = 10_000;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Flags that make no sense together are a usage error, before anything is touched. */
function checkKubernetesFlags(o: InitFlags, cmd: Command): void {
  const given = (key: string) => cmd.getOptionValueSource(key) === 'cli';
  if (o.publishOnly) {
    const newHomeOnly = (['trustDomain', 'controlPlaneNamespace', 'anchorLifetime', 'issuerLifetime'] as const).filter(given);
    if (newHomeOnly.length > 0) {
      throw new UsageError(`${newHomeOnly.map(flagName).join(', ')} shape a new home; --publish-only publishes the existing home as it is`);
    }
  }
  if (!isNamespaceName(o.namespace)) throw new UsageError(`--namespace "${o.namespace}" is not a namespace name (lower-case letters, digits and "-", at most 63)`);
  for (const [flag, name] of [['--issuer-secret', o.issuerSecret], ['--trust-roots-configmap', o.trustRootsConfigmap]] as const) {
    if (!DNS_SUBDOMAIN.test(name)) throw new UsageError(`${flag} "${name}" is not an object name (lower-case letters, digits, "-" and ".")`);
  }
}

/**
 * `init --kubernetes`: local checks, then the cluster's (reachable, namespace there, neither
 * object there unless --force), then the home (created, or read with --publish-only), then the
 * bundle ConfigMap and the issuer Secret. A refusal changes nothing, locally or in the cluster.
 */
export async function initKubernetes(o: InitFlags, cmd: Command, home: string): Promise<void> {
  checkKubernetesFlags(o, cmd);
  const existingHome = await homeExists(home);
  let published: HomeTrust | undefined;
  if (o.publishOnly) {
    if (!existingHome) {
      throw new NotFoundError(`no identity home at ${home} to publish; run "identity init --kubernetes" without --publish-only to create one and publish it`);
    }
    published = await readHomeTrust(home, systemClock); // checked before the cluster is touched
  } else if (existingHome && !o.force) {
    throw new AlreadyExistsError(
      `${home} already holds an identity home; add --publish-only to publish its issuer and bundle to the cluster, ` +
        'or pass --force to replace it with a new anchor (the old anchor will no longer be trusted)',
    );
  }

  const kubeConfig = loadKubeConfig(o);
  const cluster = new ClusterTarget(kubeConfig, o);
  const before = await cluster.inspect();
  const present = [before.configMap && cluster.bundleSource, before.secret && cluster.issuerSource].filter((s): s is string => !!s);
  if (present.length > 0 && !o.force) {
    throw new AlreadyExistsError(
      `${present.join(' and ')} already ${present.length > 1 ? 'exist' : 'exists'} on ${cluster.server}; nothing was changed. ` +
        `Pass --force to replace ${present.length > 1 ? 'them' : 'it'} (the old anchor will no longer be trusted: workloads holding certificates from it fail mTLS until they renew), ` +
        'or use "identity rotate-anchor --kubernetes" / "identity rotate-issuer --kubernetes" to change them without an outage',
    );
  }

  if (published) {
    printHome(`publishing identity home ${home} (unchanged)`, published);
  } else {
    await initHome({
      home,
      domain: { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace },
      anchorLifetimeMs: o.anchorLifetime,
      issuerLifetimeMs: o.issuerLifetime,
      force: o.force,
      clock: systemClock,
    });
    published = await readHomeTrust(home, systemClock);
    printHome(`created identity home ${home}`, published);
  }

  await cluster.publish(published, before, o, home, !o.publishOnly);
  printLine(`next: ${serveCommand(o, home, published)}`);
  if (o.context) printLine(`  (serve takes no --context: it uses the kubeconfig's current context; switch to "${o.context}" or give it a kubeconfig whose current context it is)`);
}

interface ClusterState {
  secret?: V1Secret;
  configMap?: V1ConfigMap;
}

/** The cluster side: reads through the client library, writes through KubernetesTrustStore. */
class ClusterTarget {
  readonly server: string;
  readonly issuerSource: string;
  readonly bundleSource: string;
  readonly #core: CoreV1Api;
  readonly #store: KubernetesTrustStore;
  readonly #namespace: string;
  readonly #secretName: string;
  readonly #configMapName: string;
  readonly #context: string;

  constructor(kubeConfig: KubeConfig, o: InitFlags) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API server';
    this.#context = kubeConfig.getCurrentContext();
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = o.namespace;
    this.#secretName = o.issuerSecret;
    this.#configMapName = o.trustRootsConfigmap;
    this.issuerSource = `Secret ${o.namespace}/${o.issuerSecret}`;
    this.bundleSource = `ConfigMap ${o.namespace}/${o.trustRootsConfigmap}`;
    this.#store = new KubernetesTrustStore({
      kubeConfig,
      namespace: o.namespace,
      issuerSecretName: o.issuerSecret,
      bundleConfigMapName: o.trustRootsConfigmap,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      logger: silentLogger,
    });
  }

  /** The namespace must exist; what is there already is returned. Any other answer is an error. */
  async inspect(): Promise<ClusterState> {
    const namespace = await this.#get((o) => this.#core.readNamespace({ name: this.#namespace }, o));
    if ('failure' in namespace) {
      // Without `get` on namespaces (a namespaced role) we cannot tell; the first create will.
      if (namespace.failure.code === 404) throw this.#namespaceMissing();
      if (namespace.failure.code !== 403) throw this.#unavailable(`read the namespace ${this.#namespace}`, namespace.failure, namespace.cause);
    }
    const secret = await this.#get((o) => this.#core.readNamespacedSecret({ namespace: this.#namespace, name: this.#secretName }, o));
    const configMap = await this.#get((o) => this.#core.readNamespacedConfigMap({ namespace: this.#namespace, name: this.#configMapName }, o));
    const state: ClusterState = {};
    for (const [source, result] of [[this.issuerSource, secret], [this.bundleSource, configMap]] as const) {
      if ('failure' in result && result.failure.code !== 404) throw this.#unavailable(`read ${source}`, result.failure, result.cause);
    }
    if ('object' in secret) state.secret = secret.object;
    if ('object' in configMap) state.configMap = configMap.object;
    return state;
  }

  /** The bundle first, then the issuer: the order in which workloads must learn of them. */
  async publish(trust: HomeTrust, before: ClusterState, o: InitFlags, home: string, createdHome: boolean): Promise<void> {
    const homeNote = createdHome ? ` (the home ${home} was created)` : '';
    try {
      await this.#store.writeBundle(trust.bundle.pem);
    } catch (err) {
      const retry = createdHome ? `; once the cause is fixed, run "identity init --kubernetes --publish-only${kubeFlags(o, home)}" to publish it` : '';
      throw this.#writeFailure(err, `nothing was written to the cluster${homeNote}${retry}`);
    }
    try {
      await this.#store.writeIssuer({
        certificatePem: trust.storedIssuer.certificatePem,
        privateKeyPem: trust.storedIssuer.privateKeyPem,
        caPem: trust.storedIssuer.caPem,
      });
    } catch (err) {
      throw this.#writeFailure(
        err,
        `${this.bundleSource} was written but ${this.issuerSource} was not${homeNote}; once the cause is fixed, ` +
          `run "identity init --kubernetes --publish-only --force${kubeFlags(o, home)}" to publish the home's issuer and bundle again`,
      );
    }
    printLine(`published to the Kubernetes API server at ${this.server} (context ${this.#context})`);
    const anchors = trust.bundle.anchors.length;
    printLine(
      `  ${before.configMap ? 'replaced' : 'created '} ${this.bundleSource}  ca-bundle.crt: bundle SHA-256 ${trust.bundle.fingerprint} ` +
        `(${anchors} anchor${anchors === 1 ? '' : 's'})${before.configMap ? `; was ${previousBundle(before.configMap)}` : ''}`,
    );
    const type = before.secret?.type ?? 'kubernetes.io/tls';
    printLine(
      `  ${before.secret ? 'replaced' : 'created '} ${this.issuerSource}  ${type}: tls.crt (issuer SHA-256 ${trust.issuer.certificate.fingerprint}), ` +
        `tls.key, ca.crt (anchor SHA-256 ${trust.issuer.anchor.fingerprint})${before.secret ? `; was ${previousIssuer(before.secret)}` : ''}`,
    );
    if (before.secret && type !== 'kubernetes.io/tls') {
      process.stderr.write(`warning: ${this.issuerSource} keeps its type ${type} (a Secret's type cannot change); delete it and re-run to make it kubernetes.io/tls\n`);
    }
    printLine(`  the trust anchor's private key was not sent: it stays in ${join(home, HomeLayout.anchorDir, 'tls.key')} (rotations need it; keep it safe)`);
    const previous = before.configMap?.data?.['ca-bundle.crt'];
    if (before.configMap && (previous === undefined || safe(() => bundleFingerprintOfPem(previous)) !== trust.bundle.fingerprint)) {
      process.stderr.write(
        `warning: the anchors of the previous ${this.bundleSource} are no longer trusted: workloads holding certificates from them ` +
          'fail mTLS until they renew from the new issuer (restart them, or use "identity rotate-anchor --kubernetes" next time)\n',
      );
    }
  }

  async #get<T>(call: ApiCall<T>): Promise<{ object: T } | { failure: ApiFailure; cause: unknown }> {
    try {
      return { object: await withDeadline(call, { timeoutMs: REQUEST_TIMEOUT_MS }) };
    } catch (err) {
      return { failure: describeApiFailure(err), cause: err };
    }
  }

  #namespaceMissing(note = 'nothing was changed'): NotFoundError {
    return new NotFoundError(
      `namespace "${this.#namespace}" not found on ${this.server} (${note}); create it first ("kubectl create namespace ${this.#namespace}"), ` +
        'or name another with --namespace',
    );
  }

  /** Unreachable, refused or failing: the server named, as the trust store says it. */
  #unavailable(action: string, failure: ApiFailure, cause: unknown): UnavailableError {
    if (failure.code === 401 || failure.code === 403) {
      return new UnavailableError(
        `the Kubernetes API server at ${this.server} refused to let us ${action} (${failure.message}); nothing was changed. ` +
          `Check the kubeconfig credentials and RBAC (get, create, update on secrets and configmaps in ${this.#namespace})`,
        { cause },
      );
    }
    const why = failure.code === 0 ? `cannot reach the Kubernetes API server at ${this.server}` : `the Kubernetes API server at ${this.server} failed`;
    return new UnavailableError(`${why} to ${action}: ${failure.message}; nothing was changed`, { cause });
  }

  /** A store write that failed: a vanished namespace says so; anything else keeps its class, with the note. */
  #writeFailure(err: unknown, note: string): unknown {
    if (err instanceof UnavailableError && err.cause !== undefined) {
      const failure = describeApiFailure(err.cause);
      if (failure.code === 404 && /namespaces? "/.test(failure.message)) return this.#namespaceMissing(note);
    }
    if (err instanceof UnavailableError) return new UnavailableError(`${err.message}; ${note}`, { cause: err });
    return err;
  }
}

function previousBundle(configMap: V1ConfigMap): string {
  const pem = configMap.data?.['ca-bundle.crt'];
  if (pem === undefined) return 'no ca-bundle.crt';
  const fingerprint = safe(() => bundleFingerprintOfPem(pem));
  return fingerprint ? `bundle SHA-256 ${shortFingerprint(fingerprint)}` : 'a ca-bundle.crt that does not parse';
}

function previousIssuer(secret: V1Secret): string {
  const crt = secret.data?.['tls.crt'];
  if (crt === undefined) return 'no tls.crt';
  const fingerprint = safe(() => certificateFingerprint(Buffer.from(crt, 'base64').toString('utf8')));
  return fingerprint ? `issuer SHA-256 ${shortFingerprint(fingerprint)}` : 'a tls.crt that does not parse';
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The Kubernetes flags the user gave that differ from the defaults, for the commands we suggest. */
function kubeFlags(o: InitFlags, home: string, withContext = true): string {
  const parts = [` --home ${home}`];
  if (o.kubeconfig) parts.push(` --kubeconfig ${o.kubeconfig}`);
  if (o.context && withContext) parts.push(` --context ${o.context}`);
  if (o.namespace !== KUBE_DEFAULTS.namespace) parts.push(` --namespace ${o.namespace}`);
  if (o.issuerSecret !== KUBE_DEFAULTS.issuerSecret) parts.push(` --issuer-secret ${o.issuerSecret}`);
  if (o.trustRootsConfigmap !== KUBE_DEFAULTS.trustRootsConfigmap) parts.push(` --trust-roots-configmap ${o.trustRootsConfigmap}`);
  return parts.join('');
}

/** `identity serve --kubernetes` with what it needs to find these objects and name its identities. */
function serveCommand(o: InitFlags, home: string, trust: HomeTrust): string {
  const parts = ['identity serve --kubernetes', kubeFlags(o, home, false)];
  if (trust.config.trustDomain !== defaultIdentityDomain.trustDomain) parts.push(` --trust-domain ${trust.config.trustDomain}`);
  // serve's control-plane namespace defaults to --namespace.
  if (trust.config.controlPlaneNamespace !== o.namespace) parts.push(` --control-plane-namespace ${trust.config.controlPlaneNamespace}`);
  return parts.join('');
}
