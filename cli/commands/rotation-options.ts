/**
 * Flags shared by `rotate-issuer` and `rotate-anchor`: which store is published to (the home, or
 * Kubernetes with the same flags as `serve`), and which proxies confirm (a registry file), and
 * the wiring of the proxies' admin client into the rotation's FleetProbe.
 */
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { silentLogger } from '../../common/log.ts';
import { readProxyTrust, requestRenewal } from '../../proxy/app/admin/fleet-client.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { KubernetesTrustStore } from '../../trust-anchors/kubernetes-store.ts';
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_RENEW_EVERY_MS, DEFAULT_ROTATION_TIMEOUT_MS, FileFleet, type Fleet, type FleetProbe } from '../../trust-anchors/rotation/index.ts';
import type { TrustStore } from '../../trust-anchors/store.ts';
import { durationArg, homeOption } from '../options.ts';

export interface StoreFlags {
  home?: string;
  kubernetes: boolean;
  kubeconfig?: string;
  namespace: string;
  issuerSecret: string;
  trustRootsConfigmap: string;
}

export interface FleetFlags {
  proxies?: string;
  allowEmptyFleet: boolean;
  timeout: number;
  pollInterval: number;
  probeTimeout: number;
  renewEvery: number;
}

export function addStoreOptions(command: Command): Command {
  return command
    .addOption(homeOption())
    .option('--kubernetes', 'publish to the issuer Secret and trust-roots ConfigMap (the anchor key stays in the local home)', false)
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, $KUBECONFIG or ~/.kube/config)')
    .option('--namespace <ns>', 'namespace of the issuer Secret and trust-roots ConfigMap', 'linkerd')
    .option('--issuer-secret <name>', 'issuer Secret (kubernetes.io/tls)', 'linkerd-identity-issuer')
    .option('--trust-roots-configmap <name>', 'trust bundle ConfigMap (key ca-bundle.crt)', 'linkerd-identity-trust-roots');
}

export function addFleetOptions(command: Command): Command {
  return command
    .option('--proxies <file>', 'the proxies that must confirm: {"proxies":[{"name":"web","admin":"127.0.0.1:4191"}]} (default: <home>/mesh/proxies.json)')
    .option('--allow-empty-fleet', 'go on when the fleet lists no proxies', false)
    .option('--timeout <duration>', 'how long to wait for the proxies at each step', durationArg('--timeout'), DEFAULT_ROTATION_TIMEOUT_MS)
    .option('--poll-interval <duration>', 'how often to ask the proxies', durationArg('--poll-interval'), DEFAULT_POLL_INTERVAL_MS)
    .option('--probe-timeout <duration>', 'bound on each request to a proxy admin', durationArg('--probe-timeout'), 2_000)
    .option('--renew-every <duration>', 'how often a proxy still on the old certificate is asked again to renew', durationArg('--renew-every'), DEFAULT_RENEW_EVERY_MS);
}

/** The store named by the flags: the home's files, or the Kubernetes objects `serve --kubernetes` reads. */
export function storeFrom(flags: StoreFlags, home: string): TrustStore {
  if (!flags.kubernetes) return new DirectoryTrustStore(home);
  const kubeConfig = new KubeConfig();
  if (flags.kubeconfig) kubeConfig.loadFromFile(flags.kubeconfig);
  else kubeConfig.loadFromDefault();
  return new KubernetesTrustStore({
    kubeConfig,
    namespace: flags.namespace,
    issuerSecretName: flags.issuerSecret,
    bundleConfigMapName: flags.trustRootsConfigmap,
    logger: silentLogger,
  });
}

export function fleetFrom(flags: FleetFlags, home: string): Fleet {
  return new FileFleet(flags.proxies ?? join(home, HomeLayout.proxies));
}

/** Asks proxies over HTTP on their admin listeners (proxy/app/admin/fleet-client.ts). */
export function httpFleetProbe(timeoutMs: number): FleetProbe {
  return {
    readTrust: (member) => readProxyTrust(member.admin, timeoutMs),
    requestRenewal: (member) => requestRenewal(member.admin, timeoutMs),
  };
}

export const printLine = (line: string): void => void process.stdout.write(`${line}\n`);
