import { Option, type Command } from 'commander';
import { UsageError } from '../common/errors.ts';
import { isDnsLabel } from '../common/names.ts';
import type { PolicyIndex } from '../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig, DEFAULT_CLUSTER_NETWORKS, type EvaluatorConfig } from '../policy/evaluator/types.ts';
import type { LoadedResources } from '../policy/resources/load.ts';
import { DEFAULT_POLICIES, type DefaultPolicyName } from '../policy/resources/types.ts';
import { networksFromCidrs } from '../policy/net/cidr.ts';

/** The options of `addEvaluatorOptions`, as commander hands them over. */
export interface EvaluatorOptions {
  trustDomain: string;
  controlPlaneNamespace: string;
  clusterNetworks?: string;
  defaultPolicy: DefaultPolicyName;
}

/** What every policy command needs to decide like the cluster does: identity domain, cluster networks, default policy. */
export function addEvaluatorOptions(command: Command): Command {
  return command
    .option('--trust-domain <domain>', 'identity trust domain', 'cluster.local')
    .option('--control-plane-namespace <ns>', 'control-plane namespace', 'linkerd')
    .option('--cluster-networks <cidrs>', `comma-separated cluster networks (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})`)
    .addOption(new Option('--default-policy <policy>', 'cluster-wide default inbound policy').choices(DEFAULT_POLICIES).default('all-unauthenticated'));
}

/** The evaluator configuration the options describe; UsageError for a bad value. */
export function evaluatorConfigFrom(o: EvaluatorOptions): EvaluatorConfig {
  if (!isDnsLabel(o.controlPlaneNamespace)) throw new UsageError(`--control-plane-namespace "${o.controlPlaneNamespace}" is not a namespace name`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.trustDomain)) throw new UsageError(`--trust-domain "${o.trustDomain}" is not a DNS name`);
  const domain = { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace };
  return defaultEvaluatorConfig({ domain, clusterNetworks: parseNetworks(o.clusterNetworks), defaultPolicy: o.defaultPolicy });
}

function parseNetworks(value: string | undefined) {
  if (value === undefined) return networksFromCidrs(DEFAULT_CLUSTER_NETWORKS);
  try {
    return networksFromCidrs(value.split(',').filter((s) => s.trim() !== ''));
  } catch (err) {
    throw new UsageError(`--cluster-networks: ${(err as Error).message}`);
  }
}

/** What the index says a person should know about the resources, on standard error (never in the output). */
export function writeIndexNotes(index: PolicyIndex, stderr: NodeJS.WritableStream = process.stderr): void {
  for (const note of index.notes) stderr.write(`note: ${note}\n`);
}

/** Documents of kinds the policy does not read (Deployments, Services, ...), counted on standard error. */
export function writeIgnoredNote(loaded: LoadedResources, stderr: NodeJS.WritableStream = process.stderr): void {
  if (loaded.ignored.length === 0) return;
  const kinds = [...new Set(loaded.ignored.map((i) => i.kind))].sort().join(', ');
  stderr.write(`note: ignored ${loaded.ignored.length} document(s) of kinds the policy does not read: ${kinds}\n`);
}
