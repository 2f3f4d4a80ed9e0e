import type { FileHandle } from 'node:fs/promises';

export interface Line {
  /** 1-based. */
  number: number;
  text: string;
  /** Byte offset of the line's first byte: where to truncate to drop it. */
  start: number;
  /** False for a last line without its newline: an append cut short. */
  terminated: boolean;
}

const CHUNK = 1 << 16;
// A record is well under 2 KiB; anything much longer is garbage and need not be held whole.
const MAX_LINE = 1 << 16;

/**
 * The lines of a file, read in chunks: a ledger grows without bound, so it is never read whole.
 * Splits on the newline byte, which never occurs inside a UTF-8 sequence, so offsets are exact.
 */
export async function* readLines(handle: FileHandle): AsyncGenerator<Line> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer[] = [];
  let carried = 0;
  let position = 0;
  let start = 0;
  let number = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      const text = carried > 0 ? Buffer.concat([...carry, piece]).subarray(0, MAX_LINE) : piece;
      yield { number: ++number, text: text.toString('utf8'), start, terminated: true };
      carry = [];
      carried = 0;
      start = position + nl + 1;
      from = nl + 1;
    }
    if (from < bytesRead && carried < MAX_LINE) {
      carry.push(Buffer.from(chunk.subarray(from))); // a copy: the buffer is reused
      carried += bytesRead - from;
    }
    position += bytesRead;
  }
  if (position > start) {
    yield { number: ++number, text: Buffer.concat(carry).toString('utf8'), start, terminated: false };
  }
}
