import { Option, type Command } from 'commander';
import { UsageError } from '../../common/errors.ts';
import { parseIp } from '../../policy/net/cidr.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import type { Decision } from '../../policy/evaluator/types.ts';
import { loadResources } from '../../policy/resources/load.ts';
import { addEvaluatorOptions, evaluatorConfigFrom, writeIgnoredNote, writeIndexNotes, type EvaluatorOptions } from '../policy-options.ts';

interface EvalOptions extends EvaluatorOptions {
  resources: string[];
  pod: string;
  port: string;
  clientIdentity?: string;
  clientIp: string;
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

function formatText(d: Decision): string {
  return `${d.decision} (server ${d.server ?? '-'}, authorization ${d.authorization ?? '-'}): ${d.reason}\n`;
}

export function registerPolicy(program: Command, _env: NodeJS.ProcessEnv): void {
  const policy = program.command('policy').description('Linkerd-compatible authorization policy');
  const evalCommand = policy
    .command('eval')
    .description('decide one inbound connection against policy resources, and say why')
    .requiredOption('--resources <path...>', 'policy YAML/JSON files or directories (Servers, authorizations, Pods, Namespaces, ...)')
    .requiredOption('--pod <ns/name>', 'the pod receiving the connection')
    .requiredOption('--port <n>', 'the pod port')
    .option('--client-identity <id>', "the client's verified mesh identity (omit for a plaintext client)")
    .requiredOption('--client-ip <ip>', "the client's address");
  addEvaluatorOptions(evalCommand)
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (o: EvalOptions) => {
      const pod = parsePod(o.pod);
      const port = parsePort(o.port);
      if (!parseIp(o.clientIp)) throw new UsageError(`--client-ip "${o.clientIp}" is not an IP address`);
      const config = evaluatorConfigFrom(o);
      const loaded = await loadResources(o.resources);
      const index = PolicyIndex.build(loaded.resources, config);
      writeIndexNotes(index);
      writeIgnoredNote(loaded);
      const decision = index.evaluate({ pod, port, clientIp: o.clientIp, ...(o.clientIdentity ? { clientIdentity: o.clientIdentity } : {}) });
      const { decision: d, server, authorization, reason } = decision;
      process.stdout.write(o.output === 'json' ? `${JSON.stringify({ decision: d, server, authorization, reason })}\n` : formatText(decision));
    });
}
