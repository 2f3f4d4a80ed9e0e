/**
 * Flags shared by `rotate-issuer` and `rotate-anchor`: which store is published to (the home, or
 * Kubernetes with the same flags as `serve`), which proxies confirm (a registry file, or the
 * meshed pods of the cluster), and the wiring of the proxies' admin client into the rotation's
 * FleetProbe.
 */
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube-config.ts';
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { readProxyTrust, requestRenewal } from '../../proxy/app/admin/fleet-client.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { isNamespaceName, KubernetesFleet } from '../../trust-anchors/rotation/fleet-kubernetes.ts';
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_RENEW_EVERY_MS, DEFAULT_ROTATION_TIMEOUT_MS, FileFleet, type Fleet, type FleetProbe } from '../../trust-anchors/rotation/index.ts';
import type { TrustStore } from '../../trust-anchors/store.ts';
import { durationArg } from '../options.ts';
import type { StoreFlags } from '../store-options.ts';

export { addStoreOptions, type StoreFlags } from '../store-options.ts';

export interface FleetFlags {
  /** `file` or `kubernetes`; when left out, `kubernetes` with --kubernetes (unless --proxies names a file), else `file`. */
  fleet?: string;
  proxies?: string;
  /** Repeated --fleet-namespace; undefined when not given. */
  fleetNamespace?: string[];
  fleetSelector?: string;
  allowEmptyFleet: boolean;
  timeout: number;
  pollInterval: number;
  probeTimeout: number;
  renewEvery: number;
}

const FLEET_SOURCES = ['file', 'kubernetes'] as const;
type FleetSource = (typeof FLEET_SOURCES)[number];

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addFleetOptions(command: Command): Command {
  return command
    .option('--fleet <source>', 'where the proxies that must confirm are listed: file (a registry file) or kubernetes (the meshed pods) (default: kubernetes with --kubernetes, else file)')
    .option('--proxies <file>', 'fleet file: {"proxies":[{"name":"web","admin":"127.0.0.1:4191"}]} (default: <home>/mesh/proxies.json)')
    .option('--fleet-namespace <ns>', 'fleet kubernetes: look for meshed pods in this namespace (repeatable; default: all namespaces)', collect)
    .option('--fleet-selector <selector>', 'fleet kubernetes: only the meshed pods with these labels (app=web,tier!=batch)')
    .option('--allow-empty-fleet', 'go on when the fleet lists no proxies', false)
    .option('--timeout <duration>', 'how long to wait for the proxies at each step', durationArg('--timeout'), DEFAULT_ROTATION_TIMEOUT_MS)
    .option('--poll-interval <duration>', 'how often to ask the proxies', durationArg('--poll-interval'), DEFAULT_POLL_INTERVAL_MS)
    .option('--probe-timeout <duration>', 'bound on each request to a proxy admin', durationArg('--probe-timeout'), 2_000)
    .option('--renew-every <duration>', 'how often a proxy still on the old certificate is asked again to renew', durationArg('--renew-every'), DEFAULT_RENEW_EVERY_MS);
}

/** The kubeconfig named by --kubeconfig, or the default one (in-cluster, $KUBECONFIG, ~/.kube/config). */
export function kubeConfigFrom(flags: Pick<StoreFlags, 'kubeconfig'>): KubeConfig {
  return loadKubeConfig(flags);
}

/** The store named by the flags: the home's files, or the Kubernetes objects `serve --kubernetes` reads. */
export function storeFrom(flags: StoreFlags, home: string): TrustStore {
  if (!flags.kubernetes) return new DirectoryTrustStore(home);
  return new KubernetesTrustStore({
    kubeConfig: kubeConfigFrom(flags),
    namespace: flags.namespace,
    issuerSecretName: flags.issuerSecret,
    bundleConfigMapName: flags.trustRootsConfigmap,
    logger: silentLogger,
  });
}

/**
 * The fleet named by the flags: the registry file (`--proxies`, default `<home>/mesh/proxies.json`),
 * or the meshed pods of the cluster the kubeconfig points at. Contradictory flags are a UsageError.
 */
export function fleetFrom(flags: FleetFlags & Pick<StoreFlags, 'kubernetes' | 'kubeconfig'>, home: string): Fleet {
  const source = fleetSource(flags);
  const namespaces = flags.fleetNamespace ?? [];
  if (source === 'file') {
    if (namespaces.length > 0 || flags.fleetSelector !== undefined) {
      throw new UsageError('--fleet-namespace and --fleet-selector choose meshed pods; they apply to --fleet kubernetes, not to a fleet file');
    }
    return new FileFleet(flags.proxies ?? join(home, HomeLayout.proxies));
  }
  if (flags.proxies !== undefined) throw new UsageError('--proxies names a fleet file; it applies to --fleet file, not to --fleet kubernetes');
  for (const ns of namespaces) {
    if (!isNamespaceName(ns)) throw new UsageError(`--fleet-namespace "${ns}" is not a namespace name (lower-case letters, digits and "-", at most 63)`);
  }
  if (flags.fleetSelector !== undefined && flags.fleetSelector.trim() === '') throw new UsageError('--fleet-selector is empty; leave it out to take every meshed pod');
  return new KubernetesFleet({
    kubeConfig: kubeConfigFrom(flags),
    namespaces,
    ...(flags.fleetSelector !== undefined ? { labelSelector: flags.fleetSelector } : {}),
  });
}

function fleetSource(flags: FleetFlags & Pick<StoreFlags, 'kubernetes'>): FleetSource {
  if (flags.fleet === undefined) return flags.kubernetes && flags.proxies === undefined ? 'kubernetes' : 'file';
  if (!(FLEET_SOURCES as readonly string[]).includes(flags.fleet)) throw new UsageError(`--fleet "${flags.fleet}": use file or kubernetes`);
  return flags.fleet as FleetSource;
}

/** Asks proxies over HTTP on their admin listeners (proxy/app/admin/fleet-client.ts). */
export function httpFleetProbe(timeoutMs: number): FleetProbe {
  return {
    readTrust: (member) => readProxyTrust(member.admin, timeoutMs),
    requestRenewal: (member) => requestRenewal(member.admin, timeoutMs),
  };
}

export const printLine = (line: string): void => void process.stdout.write(`${line}\n`);
