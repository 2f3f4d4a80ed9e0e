import { open, type FileHandle } from 'node:fs/promises';

/** Opens (creating, mode 0600) the ledger for reading, appending and truncating. */
export async function openForAppend(path: string): Promise<FileHandle> {
  // 'a+': read (for the scan), append (O_APPEND: every write lands at the end), and truncate.
  const handle = await open(path, 'a+', 0o600);
  await handle.chmod(0o600); // an existing file may have been created with a laxer mode
  return handle;
}

/** A write may be short (a signal, a nearly full disk); the rest must follow or the line is torn. */
export async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off, null);
    off += bytesWritten;
  }
}

/** fsync of a directory: makes a new file's name durable, which the file's own fsync does not. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
