/**
 * `identity mesh --once` as a real command, for the tests that run the whole local mesh: a
 * temporary directory for the run, and an environment entry unique to it (`NAME=<dir>`) that the
 * mesh command gets, and so every process it starts inherits, so that the test can tell that none
 * is left behind, and kill any that is.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../../support/cli.ts';

/** A temporary directory `<tmp>/<prefix>…` and the marker `<variable>=<dir>` unique to it. */
export async function markedRunDir(prefix: string, variable: string): Promise<{ dir: string; marker: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, marker: `${variable}=${dir}` };
}

/** Whatever the outcome, nothing started for this run survives it: kills the marked processes, removes the directory. */
export async function endMarkedRun(dir: string | undefined, marker: string | undefined): Promise<void> {
  if (marker) for (const pid of await processesMarked(marker)) process.kill(pid, 'SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Processes whose environment holds `entry` (unique to this run): only those this test started. */
export async function processesMarked(entry: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(entry)) pids.push(Number(name));
  }
  return pids;
}

/** `identity mesh --once --home <home>` on ephemeral ports, with `marker` in its environment. */
export function runMeshOnce(home: string, marker: string): Promise<CliResult> {
  return runCli(['mesh', '--once', '--home', home, '--identity-listen', '127.0.0.1:0', '--identity-admin-listen', '127.0.0.1:0'], {
    timeoutMs: 150_000,
    env: { [marker.slice(0, marker.indexOf('='))]: marker.slice(marker.indexOf('=') + 1) },
  });
}
