import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readlink, realpath, rename, rm, symlink, readdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../common/errors.ts';
import type { StoredBundle, StoredIssuer, Subscription, TrustStore } from './store.ts';

/** File names inside a home directory. */
export const HomeLayout = {
  config: 'config.json',
  bundle: 'bundle.crt',
  issuerDir: 'issuer',
  anchorDir: 'anchor',
  tokenKey: 'token-signing.key',
  ledger: 'ledger.jsonl',
  /** Anchor rotation (trust-anchors/rotation): the next anchor's key pair, beside `anchor/`. */
  nextAnchorDir: 'anchor-next',
  /** Anchor rotation: the issuer in service before `activate`, kept so that `abort` can restore it. */
  previousIssuerDir: 'issuer-before-rotation',
  /** Prefix of an archived anchor: `anchor-retired-<timestamp>/`. */
  retiredAnchorPrefix: 'anchor-retired-',
  /** Anchor rotation state, and the last finished rotation's. */
  rotationState: 'rotation.json',
  lastRotationState: 'rotation-last.json',
  /** The proxies of the local mesh and their admin addresses (written by the mesh, read by rotations). */
  proxies: 'mesh/proxies.json',
} as const;

const POLL_MS = 2_000;
const DEBOUNCE_MS = 50;

/**
 * The local store: a home directory. The issuer directory has the layout Kubernetes gives a
 * mounted Secret (`tls.crt -> ..data/tls.crt`, `..data -> ..<version>/`), so that a writer swaps
 * all three files in one atomic rename and a reader never sees a new certificate with an old key.
 */
export class DirectoryTrustStore implements TrustStore {
  readonly description: string;
  readonly #home: string;

  constructor(home: string) {
    this.#home = home;
    this.description = `directory ${home}`;
  }

  get home(): string {
    return this.#home;
  }

  async readBundle(): Promise<StoredBundle> {
    const path = join(this.#home, HomeLayout.bundle);
    return { pem: await readRequired(path, 'trust bundle'), source: path };
  }

  async readIssuer(): Promise<StoredIssuer> {
    return readKeyPairDir(join(this.#home, HomeLayout.issuerDir), 'issuer');
  }

  /** The anchor's own key, kept in local mode so that `rotate-issuer` can sign a new issuer. */
  async readAnchor(): Promise<StoredIssuer> {
    return readKeyPairDir(join(this.#home, HomeLayout.anchorDir), 'trust anchor');
  }

  async writeBundle(pem: string): Promise<void> {
    await writeFileAtomic(join(this.#home, HomeLayout.bundle), pem, 0o644);
  }

  async writeIssuer(issuer: Omit<StoredIssuer, 'source'>): Promise<void> {
    await writeKeyPairDir(join(this.#home, HomeLayout.issuerDir), issuer);
  }

  async writeAnchor(anchor: Omit<StoredIssuer, 'source'>): Promise<void> {
    await writeKeyPairDir(join(this.#home, HomeLayout.anchorDir), anchor);
  }

  watch(onChange: () => void): Subscription {
    // fs.watch is fast but may miss events (renames of symlinks, network file systems); a slow
    // poll of the resolved paths backs it up. Spurious calls are harmless: the caller re-validates.
    // The debounce fires a fixed time after the first event of a burst and is never pushed back:
    // a steady stream of events (a busy directory) must not postpone a reload for ever.
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        onChange();
      }, DEBOUNCE_MS);
    };
    // The home also holds the issuance ledger, written many times a second under load: only
    // events about the bundle (or with no file name, which may be anything) count there.
    const homeEvent = (_event: string, name: string | Buffer | null) => {
      if (name === null || String(name).startsWith(HomeLayout.bundle)) fire();
    };
    const watchers: FSWatcher[] = [];
    for (const [dir, listener] of [[this.#home, homeEvent], [join(this.#home, HomeLayout.issuerDir), fire]] as const) {
      try {
        watchers.push(fsWatch(dir, { persistent: false }, listener).on('error', () => undefined));
      } catch {
        // the poll covers a directory that cannot be watched
      }
    }
    let last = '';
    const poll = setInterval(() => {
      void this.#version().then((v) => {
        if (last && v !== last) fire();
        last = v;
      });
    }, POLL_MS);
    poll.unref();
    void this.#version().then((v) => (last = v));
    return {
      close: () => {
        clearTimeout(timer);
        timer = undefined;
        clearInterval(poll);
        for (const w of watchers) w.close();
      },
    };
  }

  async #version(): Promise<string> {
    const bundle = await readFile(join(this.#home, HomeLayout.bundle), 'utf8').catch(() => '');
    const data = await readlink(join(this.#home, HomeLayout.issuerDir, '..data')).catch(() => '');
    return `${bundle.length}:${bundle.slice(-80)}:${data}`;
  }
}

async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`${what} ${path} does not exist; run "identity init" to create a home, or pass --home`);
    }
    throw err;
  }
}

/** Reads a key pair directory (`tls.crt`, `tls.key`, `ca.crt`, plain or in the `..data` layout). */
export async function readKeyPairDir(dir: string, what: string): Promise<StoredIssuer> {
  // Resolve ..data once, so that all three files come from the same version.
  let data: string;
  try {
    data = await realpath(join(dir, '..data'));
  } catch {
    data = dir; // a plain directory written by hand is accepted too
  }
  const certificatePem = await readRequired(join(data, 'tls.crt'), `${what} certificate`);
  const privateKeyPem = await readRequired(join(data, 'tls.key'), `${what} key`);
  const caPem = await readFile(join(data, 'ca.crt'), 'utf8').catch(() => '');
  return { certificatePem, privateKeyPem, caPem, source: join(dir, 'tls.crt') };
}

/** Writes a key pair directory in the `..data` layout, swapping all three files in one rename; key mode 0600. */
export async function writeKeyPairDir(dir: string, pair: Omit<StoredIssuer, 'source'>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const versionDir = join(dir, version);
  await mkdir(versionDir, { mode: 0o700 });
  await writeFileDurable(join(versionDir, 'tls.crt'), pair.certificatePem, 0o644);
  await writeFileDurable(join(versionDir, 'tls.key'), pair.privateKeyPem, 0o600);
  await writeFileDurable(join(versionDir, 'ca.crt'), pair.caPem, 0o644);
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await rm(join(dir, '..data_tmp'), { force: true });
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of ['tls.crt', 'tls.key', 'ca.crt']) {
    const link = join(dir, name);
    const target = await readlink(link).catch(() => undefined);
    if (target !== join('..data', name)) {
      await rm(link, { force: true });
      await symlink(join('..data', name), link);
    }
  }
  if (previous && previous !== version) await rm(join(dir, previous), { recursive: true, force: true });
  // Versions left behind by a crash between the rename and the clean-up.
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..') && entry !== '..data' && entry !== version) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function writeFileDurable(path: string, content: string, mode: number): Promise<void> {
  const handle = await open(path, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write a temporary file beside the target, fsync it, rename it over the target. */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await writeFileDurable(tmp, content, mode);
  await rename(tmp, path);
}
