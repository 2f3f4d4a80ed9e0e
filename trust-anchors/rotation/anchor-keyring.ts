import { access, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '../../common/errors.ts';
import { HomeLayout, readKeyPairDir, writeKeyPairDir } from '../directory-store.ts';
import type { StoredIssuer } from '../store.ts';

type KeyPair = Omit<StoredIssuer, 'source'>;

/**
 * The key-pair directories a rotation keeps in the home (local mode's home, or in Kubernetes mode
 * the local directory that holds the anchor key, which is never put in the cluster):
 * `anchor/` (current), `anchor-next/` (the anchor being introduced), `anchor-retired-<time>/`
 * (archived), and `issuer-before-rotation/` (for abort). All in the `..data` layout, keys 0600.
 */
export class AnchorKeyring {
  readonly home: string;

  constructor(home: string) {
    this.home = home;
  }

  current(): Promise<StoredIssuer> {
    return readKeyPairDir(join(this.home, HomeLayout.anchorDir), 'trust anchor');
  }

  async next(): Promise<StoredIssuer | undefined> {
    return this.#readIfPresent(HomeLayout.nextAnchorDir, 'next trust anchor');
  }

  writeNext(pair: KeyPair): Promise<void> {
    return writeKeyPairDir(join(this.home, HomeLayout.nextAnchorDir), pair);
  }

  removeNext(): Promise<void> {
    return rm(join(this.home, HomeLayout.nextAnchorDir), { recursive: true, force: true });
  }

  /**
   * `anchor/` becomes `archiveName/` and `anchor-next/` becomes `anchor/`: two renames, each
   * atomic. Idempotent: a re-run after a crash between them finishes the second one.
   */
  async promoteNext(archiveName: string): Promise<void> {
    const anchor = join(this.home, HomeLayout.anchorDir);
    const next = join(this.home, HomeLayout.nextAnchorDir);
    const archive = join(this.home, archiveName);
    if (!(await exists(next))) return; // already promoted
    if (await exists(anchor)) {
      if (await exists(archive)) throw new InternalError(`${archive} already exists; refusing to archive ${anchor} over it`);
      await rename(anchor, archive);
    }
    await rename(next, anchor);
    await syncDirectory(this.home);
  }

  async previousIssuer(): Promise<StoredIssuer | undefined> {
    return this.#readIfPresent(HomeLayout.previousIssuerDir, 'issuer kept for abort');
  }

  savePreviousIssuer(pair: KeyPair): Promise<void> {
    return writeKeyPairDir(join(this.home, HomeLayout.previousIssuerDir), pair);
  }

  removePreviousIssuer(): Promise<void> {
    return rm(join(this.home, HomeLayout.previousIssuerDir), { recursive: true, force: true });
  }

  async #readIfPresent(dir: string, what: string): Promise<StoredIssuer | undefined> {
    const path = join(this.home, dir);
    if (!(await exists(join(path, 'tls.crt')))) return undefined;
    return readKeyPairDir(path, what);
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Makes the renames durable: without it a power cut could bring back the old names. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
