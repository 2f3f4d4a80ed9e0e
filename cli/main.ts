import { Command, CommanderError } from 'commander';
import { exitCodeOf, ExitCode, isIdentityError } from '../common/errors.ts';

type Register = (program: Command, env: NodeJS.ProcessEnv) => void;

/**
 * The commands, each loaded only when it runs: a sidecar proxy should not carry the Kubernetes
 * client or the certificate authority in its memory (they cost ~100 MiB of RSS).
 */
const commands: Record<string, () => Promise<Register>> = {
  init: async () => (await import('./commands/init.ts')).registerInit,
  bundle: async () => (await import('./commands/bundle.ts')).registerBundle,
  token: async () => (await import('./commands/token.ts')).registerToken,
  serve: async () => (await import('./commands/serve.ts')).registerServe,
  check: async () => (await import('./commands/check.ts')).registerCheck,
  ledger: async () => (await import('./commands/ledger.ts')).registerLedger,
  proxy: async () => (await import('./commands/proxy.ts')).registerProxy,
  mesh: async () => (await import('./commands/mesh.ts')).registerMesh,
  policy: async () => (await import('./commands/policy.ts')).registerPolicy,
  'policy-controller': async () => (await import('./commands/policy-controller.ts')).registerPolicyController,
  audit: async () => (await import('./commands/audit.ts')).registerAudit,
  report: async () => (await import('./commands/report.ts')).registerReport,
  'rotate-issuer': async () => (await import('./commands/rotate-issuer.ts')).registerRotateIssuer,
  'rotate-anchor': async () => (await import('./commands/rotate-anchor.ts')).registerRotateAnchor,
};

/**
 * Builds the `identity` command line with the commands named (all of them by default, as help
 * needs). Each command module only wires library modules together.
 */
export async function buildProgram(env: NodeJS.ProcessEnv = process.env, only?: string[]): Promise<Command> {
  const program = new Command('identity')
    .description('Zero-trust workload identity: a Linkerd-compatible certificate authority, mutual-TLS proxy and policy')
    .showHelpAfterError()
    .exitOverride();
  for (const name of only ?? Object.keys(commands)) (await commands[name]!())(program, env);
  return program;
}

/** Runs the CLI; resolves with the exit code. Errors print one clear line on standard error. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const name = argv[0];
    const program = await buildProgram(env, name && Object.hasOwn(commands, name) ? [name] : undefined);
    await program.parseAsync(argv, { from: 'user' });
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
