import { Option, type Command } from 'commander';
import { UsageError } from '../../common/errors.ts';
import { isDnsLabel } from '../../common/names.ts';
import { networksFromCidrs, parseIp } from '../../policy/net/cidr.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig, DEFAULT_CLUSTER_NETWORKS, type Decision } from '../../policy/evaluator/types.ts';
import { loadResources } from '../../policy/resources/load.ts';
import { DEFAULT_POLICIES, type DefaultPolicyName } from '../../policy/resources/types.ts';

interface EvalOptions {
  resources: string[];
  pod: string;
  port: string;
  clientIdentity?: string;
  clientIp: string;
  trustDomain: string;
  controlPlaneNamespace: string;
  clusterNetworks?: string;
  defaultPolicy: DefaultPolicyName;
  output: string;
}

function parsePod(value: string): string {
  const m = /^([^/]+)\/([^/]+)$/.exec(value);
  if (!m) throw new UsageError(`--pod "${value}" is not NAMESPACE/NAME`);
  return value;
}

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--port "${value}" is not a port number 1-65535`);
  return port;
}

function parseNetworks(value: string | undefined) {
  if (value === undefined) return networksFromCidrs(DEFAULT_CLUSTER_NETWORKS);
  try {
    return networksFromCidrs(value.split(',').filter((s) => s.trim() !== ''));
  } catch (err) {
    throw new UsageError(`--cluster-networks: ${(err as Error).message}`);
  }
}

function formatText(d: Decision): string {
  return `${d.decision} (server ${d.server ?? '-'}, authorization ${d.authorization ?? '-'}): ${d.reason}\n`;
}

export function registerPolicy(program: Command, _env: NodeJS.ProcessEnv): void {
  const policy = program.command('policy').description('Linkerd-compatible authorization policy');
  policy
    .command('eval')
    .description('decide one inbound connection against policy resources, and say why')
    .requiredOption('--resources <path...>', 'policy YAML/JSON files or directories (Servers, authorizations, Pods, Namespaces, ...)')
    .requiredOption('--pod <ns/name>', 'the pod receiving the connection')
    .requiredOption('--port <n>', 'the pod port')
    .option('--client-identity <id>', "the client's verified mesh identity (omit for a plaintext client)")
    .requiredOption('--client-ip <ip>', "the client's address")
    .option('--trust-domain <domain>', 'identity trust domain', 'cluster.local')
    .option('--control-plane-namespace <ns>', 'control-plane namespace', 'linkerd')
    .option('--cluster-networks <cidrs>', `comma-separated cluster networks (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})`)
    .addOption(new Option('--default-policy <policy>', 'cluster-wide default inbound policy').choices(DEFAULT_POLICIES).default('all-unauthenticated'))
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (o: EvalOptions) => {
      const pod = parsePod(o.pod);
      const port = parsePort(o.port);
      if (!parseIp(o.clientIp)) throw new UsageError(`--client-ip "${o.clientIp}" is not an IP address`);
      if (!isDnsLabel(o.controlPlaneNamespace)) throw new UsageError(`--control-plane-namespace "${o.controlPlaneNamespace}" is not a namespace name`);
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.trustDomain)) throw new UsageError(`--trust-domain "${o.trustDomain}" is not a DNS name`);
      const domain = { trustDomain: o.trustDomain, controlPlaneNamespace: o.controlPlaneNamespace };
      const config = defaultEvaluatorConfig({ domain, clusterNetworks: parseNetworks(o.clusterNetworks), defaultPolicy: o.defaultPolicy });
      const loaded = await loadResources(o.resources);
      const index = PolicyIndex.build(loaded.resources, config);
      for (const note of index.notes) process.stderr.write(`note: ${note}\n`);
      if (loaded.ignored.length > 0) {
        const kinds = [...new Set(loaded.ignored.map((i) => i.kind))].sort().join(', ');
        process.stderr.write(`note: ignored ${loaded.ignored.length} document(s) of kinds the policy does not read: ${kinds}\n`);
      }
      const decision = index.evaluate({ pod, port, clientIp: o.clientIp, ...(o.clientIdentity ? { clientIdentity: o.clientIdentity } : {}) });
      const { decision: d, server, authorization, reason } = decision;
      process.stdout.write(o.output === 'json' ? `${JSON.stringify({ decision: d, server, authorization, reason })}\n` : formatText(decision));
    });
}
