/**
 * A cheap look at policy files without reading them: which manifest files exist under the
 * paths, with their size, mtime and inode, as one comparable signature, and which directories
 * to watch. The same walk as `listManifestFiles` (dot-entries skipped, so a mounted ConfigMap's
 * `..data` swap shows through its symlinks' new targets).
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface DirectoryScan {
  /** Equal for two scans when no manifest file was added, removed, replaced or written in between. */
  signature: string;
  /** Directories to watch, with their inodes: the directories under the paths, and the parents of missing paths and of files. */
  directories: Map<string, number>;
  /** Paths that do not exist. */
  missing: string[];
}

export async function scanPaths(paths: readonly string[]): Promise<DirectoryScan> {
  const lines: string[] = [];
  const directories = new Map<string, number>();
  const missing: string[] = [];
  const fileLine = (path: string, info: { size: number; mtimeMs: number; ino: number }) => `${path}\t${info.size}\t${info.mtimeMs}\t${info.ino}`;

  const walk = async (dir: string, ino: number): Promise<void> => {
    directories.set(dir, ino);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const info = await stat(path).catch(() => undefined); // follows symlinks, like the loader
      if (info?.isDirectory()) await walk(path, info.ino);
      else if (info?.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) lines.push(fileLine(path, info));
    }
  };

  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory()) {
      // The parent shows a missing path appear, and a file be replaced (editors and ConfigMap
      // updates write a new file and rename it over the old one).
      const parent = dirname(path);
      const parentInfo = await stat(parent).catch(() => undefined);
      if (parentInfo?.isDirectory()) directories.set(parent, parentInfo.ino);
    }
    if (!info) {
      missing.push(path);
      lines.push(`${path}\tmissing`);
    } else if (info.isDirectory()) {
      await walk(path, info.ino);
    } else {
      lines.push(fileLine(path, info));
    }
  }
  return { signature: lines.join('\n'), directories, missing };
}
