import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RotationInProgressError } from './errors.ts';

export const ROTATION_LOCK = 'rotation.lock';

/**
 * Runs `fn` holding `<home>/rotation.lock` (the pid of the holder), so that two runs never work on
 * one rotation at once. A lock whose process is gone (a run killed with SIGKILL) is taken over.
 * Local only: it cannot stop two operators on two machines, which the store's own write
 * preconditions (Kubernetes resourceVersion) and the persisted state's checks must cover.
 */
export async function withRotationLock<T>(home: string, fn: () => Promise<T>): Promise<T> {
  const path = join(home, ROTATION_LOCK);
  await acquire(path);
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

async function acquire(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(path, err);
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new RotationInProgressError(`another "identity rotate-anchor" (pid ${holder}) is working on this rotation (${path}); wait for it to end, or stop it`);
    }
    await rm(path, { force: true }); // its holder is gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockError(path: string, err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
    return new RotationInProgressError(`another "identity rotate-anchor" took ${path} at the same moment; try again`);
  }
  return err as Error;
}
