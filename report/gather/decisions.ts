/**
 * Decision logs: files as given; a directory is read with every directory below it (one per
 * proxy, say), each for its `*.jsonl` files and their rotations, as `identity audit` reads one.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readDecisionLogs, type DecisionRecord } from '../../policy/audit/decision-log.ts';
import type { DecisionInput } from '../inputs.ts';

const MAX_DEPTH = 4;

/**
 * @param paths files or directories; a missing one throws NotFoundError (exit 66)
 * @param optional paths that may be absent (the home's default directory): skipped when they are
 */
export async function gatherDecisions(paths: readonly string[], options: { optional?: boolean } = {}): Promise<DecisionInput> {
  const present: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info && options.optional) continue;
    present.push(...(info?.isDirectory() ? await withSubdirectories(path, MAX_DEPTH) : [path]));
  }
  const records: DecisionRecord[] = [];
  const log = await readDecisionLogs(present, (record) => records.push(record));
  return { paths: [...paths], records, log };
}

/** `dir` and the directories below it (dot-directories skipped), sorted, depth-first. */
async function withSubdirectories(dir: string, depth: number): Promise<string[]> {
  const out = [dir];
  if (depth === 0) return out;
  const entries = await readdir(dir, { withFileTypes: true });
  const subdirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const name of subdirs) out.push(...(await withSubdirectories(join(dir, name), depth - 1)));
  return out;
}
