import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { UnavailableError } from '../../common/errors.ts';

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

// Locks this process holds: its own pid is alive, so the pid alone cannot tell a second
// writer in this process from a stale lock left by an earlier run that had the same pid.
const heldHere = new Set<string>();

/**
 * An advisory lock: a file holding the owner's pid, created atomically (written beside, then
 * hard-linked into place, so it is never seen half-written). A lock whose pid is no longer
 * running is stale and taken over.
 *
 * Limits: it only keeps out writers that honour it; liveness is judged by pid on this host, so
 * a writer on another host sharing the volume is not detected (run one writer per ledger volume,
 * e.g. a ReadWriteOnce claim), and a stale pid reused by an unrelated process blocks until the
 * lock file is removed by hand. Two processes taking over the same stale lock at the same instant
 * may both succeed.
 */
export async function acquireLock(path: string, what: string): Promise<HeldLock> {
  const abs = resolve(path);
  if (heldHere.has(abs)) throw busy(what, abs, { pid: process.pid, host: hostname(), since: '' });
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  if (!(await tryCreate(abs, me))) {
    const owner = await readOwner(abs);
    // Our own pid, not held here: left by an earlier run with the same pid (pid 1 in a container).
    if (owner && owner.pid !== process.pid && isAlive(owner.pid)) throw busy(what, abs, owner);
    await rm(abs, { force: true });
    if (!(await tryCreate(abs, me))) throw busy(what, abs, await readOwner(abs));
  }
  heldHere.add(abs);
  return {
    path: abs,
    async release() {
      heldHere.delete(abs);
      await rm(abs, { force: true });
    },
  };
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The owner a lock file names; undefined for a file that does not parse (left by a crash: stale). */
async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return Number.isSafeInteger(owner.pid) && owner.pid! > 0 ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, but not ours to signal
  }
}

function busy(what: string, path: string, owner: LockOwner | undefined): UnavailableError {
  const who = owner ? `process ${owner.pid} on ${owner.host}${owner.since ? ` since ${owner.since}` : ''}` : 'another process';
  return new UnavailableError(
    `${what} is already open for writing by ${who} (lock file ${path}); ` +
      'only one writer may append to a ledger. Stop that process, or remove the lock file if it is gone.',
  );
}
