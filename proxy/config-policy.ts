/**
 * The `policy` section of the proxy's configuration: where the inbound policy comes from and
 * the settings the evaluator needs. The proxy only carries these values; the CLI builds the
 * policy from them with policy/ (which the proxy never imports), so the names and lists that
 * policy/ also knows are repeated here, and checked against it where the CLI hands them over.
 */
import { isIP } from 'node:net';
import { defaultIdentityDomain, isDnsLabel } from '../common/names.ts';
import * as f from './config-fields.ts';

/** Linkerd's default inbound policies (`config.linkerd.io/default-inbound-policy`). */
export const DEFAULT_POLICY_NAMES = ['all-unauthenticated', 'all-authenticated', 'cluster-unauthenticated', 'cluster-authenticated', 'deny', 'audit'] as const;
export type DefaultPolicyName = (typeof DEFAULT_POLICY_NAMES)[number];

/** Linkerd's default cluster networks. */
export const DEFAULT_CLUSTER_NETWORKS: readonly string[] = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];

export type PolicySource =
  | { kind: 'none' }
  /** Files and directories of policy YAML, watched. */
  | { kind: 'directory'; paths: string[] }
  /** The policy controller's gRPC API, `host:port`. */
  | { kind: 'controller'; address: string };

export interface PolicyConfig {
  source: PolicySource;
  /** `NS/NAME` of this workload's pod; required with a source. */
  pod?: string;
  /**
   * The default inbound policy: decides ports no Server selects, and everything until a policy
   * arrives. Absent: `all-unauthenticated` with a source; without one, every connection is
   * admitted (`allowAllPolicy`).
   */
  defaultPolicy?: DefaultPolicyName;
  /** CIDRs that `cluster-*` policies admit. */
  clusterNetworks: string[];
  /** How ServiceAccount references become identities; by default read off the local identity. */
  trustDomain: string;
  controlPlaneNamespace: string;
}

export interface PolicyFlags {
  pod?: string;
  policyDir?: string[];
  policyAddr?: string;
  defaultPolicy?: string;
  clusterNetworks?: string;
  trustDomain?: string;
  controlPlaneNamespace?: string;
}

export const POLICY_FIELDS = ['pod', 'paths', 'controllerAddress', 'defaultPolicy', 'clusterNetworks', 'trustDomain', 'controlPlaneNamespace'] as const;

type Pick = (flag: unknown, flagName: string, key: string) => [unknown, string];

/** `section` is the file's `policy` mapping (already checked for unknown keys); `localIdentity` is validated. */
export function parsePolicyConfig(flags: PolicyFlags, section: f.Raw, localIdentity: string): PolicyConfig {
  const pick: Pick = (flag, flagName, key) => (flag !== undefined ? [flag, flagName] : [section[key], `policy.${key}`]);

  const [pathsValue, pathsName] = pick(flags.policyDir?.length ? flags.policyDir : undefined, '--policy-dir', 'paths');
  const paths = stringList(pathsValue, pathsName);
  const [addressValue, addressName] = pick(flags.policyAddr, '--policy-addr', 'controllerAddress');
  const address = f.isAbsent(addressValue) ? undefined : f.hostPort(addressValue, addressName);
  if (paths.length > 0 && address) f.fail(addressName, `cannot be combined with ${pathsName}: the policy comes from one source`);
  const source: PolicySource = address
    ? { kind: 'controller', address: `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}` }
    : paths.length > 0
      ? { kind: 'directory', paths }
      : { kind: 'none' };

  const [podValue, podName] = pick(flags.pod, '--pod', 'pod');
  const pod = f.isAbsent(podValue) ? undefined : podRef(podValue, podName);
  if (source.kind !== 'none' && pod === undefined) {
    const sourceName = source.kind === 'directory' ? pathsName : addressName;
    // Blame the flag when the source was given as a flag, the file's field when it came from the file.
    f.fail(sourceName.startsWith('--') ? '--pod' : podName, `is required with ${sourceName}: the policy is this pod's (NS/NAME)`);
  }

  const [defaultValue, defaultName] = pick(flags.defaultPolicy, '--default-policy', 'defaultPolicy');
  const defaultPolicy = f.isAbsent(defaultValue) ? undefined : defaultPolicyName(defaultValue, defaultName);
  const clusterNetworks = cidrList(...pick(flags.clusterNetworks, '--cluster-networks', 'clusterNetworks'));

  const derived = domainOf(localIdentity);
  const trustDomain = f.identityName(...pick(flags.trustDomain, '--trust-domain', 'trustDomain'), derived.trustDomain);
  const [nsValue, nsName] = pick(flags.controlPlaneNamespace, '--control-plane-namespace', 'controlPlaneNamespace');
  const controlPlaneNamespace = f.string(nsValue, nsName, derived.controlPlaneNamespace);
  if (!isDnsLabel(controlPlaneNamespace)) f.fail(nsName, `"${controlPlaneNamespace.slice(0, 80)}" is not a DNS label (e.g. linkerd)`);

  return {
    source,
    ...(pod !== undefined ? { pod } : {}),
    ...(defaultPolicy !== undefined ? { defaultPolicy } : {}),
    clusterNetworks,
    trustDomain,
    controlPlaneNamespace,
  };
}

/**
 * `SA.NS.serviceaccount.identity.<cp-ns>.<trust-domain>`: a proxy's own identity names the
 * domain its peers' identities are in; anything else falls back to Linkerd's defaults.
 */
function domainOf(localIdentity: string): { trustDomain: string; controlPlaneNamespace: string } {
  const m = /^[^.]+\.[^.]+\.serviceaccount\.identity\.([^.]+)\.(.+)$/.exec(localIdentity);
  return m ? { controlPlaneNamespace: m[1]!, trustDomain: m[2]! } : defaultIdentityDomain;
}

/**
 * The pod to name when none is configured: `NS/SA` of a local identity
 * `SA.NS.serviceaccount...` (`default/NAME` for a name of one label).
 */
export function podOfIdentity(identity: string): string {
  const [sa, ns] = identity.split('.');
  return ns ? `${ns}/${sa}` : `default/${sa}`;
}

const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `NS/NAME`: a namespace (DNS label) and a pod name (DNS subdomain), as Kubernetes names them. */
function podRef(value: unknown, path: string): string {
  const text = f.string(value, path);
  const [namespace, name, ...rest] = text.split('/');
  if (rest.length > 0 || !namespace || !name || !isDnsLabel(namespace) || !SUBDOMAIN.test(name)) {
    f.fail(path, `expected NS/NAME of a pod (e.g. demo/api-0), found "${text.slice(0, 100)}"`);
  }
  return text;
}

function defaultPolicyName(value: unknown, path: string): DefaultPolicyName {
  const text = f.string(value, path);
  if (!(DEFAULT_POLICY_NAMES as readonly string[]).includes(text)) f.fail(path, `expected one of ${DEFAULT_POLICY_NAMES.join(', ')}, found "${text.slice(0, 60)}"`);
  return text as DefaultPolicyName;
}

/** A YAML list or a comma-separated string (`--policy-dir a,b`, repeatable flags joined). */
function stringList(value: unknown, path: string): string[] {
  if (f.isAbsent(value)) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) f.fail(path, `expected a list of paths, found ${JSON.stringify(value)?.slice(0, 100)}`);
  return items.flatMap((item, i) => {
    const parts = f.string(item, `${path}[${i}]`).split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (parts.length === 0) f.fail(`${path}[${i}]`, 'expected a path');
    return parts;
  });
}

function cidrList(value: unknown, path: string): string[] {
  if (f.isAbsent(value)) return [...DEFAULT_CLUSTER_NETWORKS];
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(items) || items.length === 0) f.fail(path, `expected a list of CIDRs (e.g. 10.0.0.0/8,fd00::/8), found ${JSON.stringify(value)?.slice(0, 100)}`);
  return items.map((item, i) => cidr(item, `${path}[${i}]`));
}

/** `10.0.0.0/8`, `fd00::/8`: an address and a prefix length that fits it. */
function cidr(value: unknown, path: string): string {
  const text = f.string(value, path);
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const version = m ? isIP(m[1]!) : 0;
  if (!m || version === 0 || Number(m[2]) > (version === 4 ? 32 : 128)) f.fail(path, `expected a CIDR such as 10.0.0.0/8 or fd00::/8, found "${text.slice(0, 60)}"`);
  return text;
}
