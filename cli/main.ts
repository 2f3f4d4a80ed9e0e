import { Command, CommanderError } from 'commander';
import { exitCodeOf, ExitCode, isIdentityError } from '../common/errors.ts';
import { registerBundle } from './commands/bundle.ts';
import { registerInit } from './commands/init.ts';
import { registerToken } from './commands/token.ts';
import { registerServe } from './commands/serve.ts';
import { registerCheck } from './commands/check.ts';
import { registerLedger } from './commands/ledger.ts';
import { registerMesh } from './commands/mesh.ts';
import { registerProxy } from './commands/proxy.ts';
import { registerPolicy } from './commands/policy.ts';

/** Builds the `identity` command line. Each command module only wires library modules together. */
export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('identity')
    .description('Zero-trust workload identity: a Linkerd-compatible certificate authority, trust anchors and tools')
    .showHelpAfterError()
    .exitOverride();
  registerInit(program, env);
  registerBundle(program, env);
  registerToken(program, env);
  registerServe(program, env);
  registerCheck(program, env);
  registerLedger(program, env);
  registerMesh(program, env);
  registerProxy(program, env);
  registerPolicy(program, env);
  return program;
}

/** Runs the CLI; resolves with the exit code. Errors print one clear line on standard error. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    await buildProgram(env).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    if (isIdentityError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
    } else {
      process.stderr.write(`internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    }
    return exitCodeOf(err);
  }
}
