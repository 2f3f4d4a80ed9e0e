import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration } from '../common/duration.ts';
import { UsageError } from '../common/errors.ts';

/** `--home DIR`, defaulting to $IDENTITY_HOME or .identity/ in the current directory. */
export function homeOption(): Option {
  return new Option('--home <dir>', 'identity home (default: $IDENTITY_HOME or ./.identity)');
}

export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(flag ?? env.IDENTITY_HOME ?? '.identity');
}

export function durationArg(what: string) {
  return (value: string) => parseDuration(value, what);
}

/** `host:port` with a numeric port; hosts are not resolved here. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${what} "${value}" is not host:port (e.g. 127.0.0.1:8080)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `--listen` and `--admin-listen`, shared by the commands that serve. */
export function addListenOptions(command: Command): Command {
  return command
    .option('--listen <host:port>', 'Certify API address', '127.0.0.1:8080')
    .option('--admin-listen <host:port>', 'metrics, /ready and /live', '127.0.0.1:9990');
}
