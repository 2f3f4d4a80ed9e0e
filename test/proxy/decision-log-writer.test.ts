/**
 * The decision log's writer on its own: order, rotation and its bounds, file modes, the bounded
 * queue, close, and disk failures counted rather than thrown, each with one warn line per burst.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecisionLogWriter, type DecisionLogWriterOptions } from '../../proxy/app/inbound/decision-log.ts';
import { capturingLogger, type CapturedLogs } from './support/policy.ts';

let dir: string;
let logs: CapturedLogs;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'decision-log-'));
  logs = capturingLogger('debug');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Exactly 100 bytes with its newline, numbered. */
const line = (i: number) => `${String(i).padStart(5, '0')} ${'x'.repeat(93)}\n`;
const numbers = (text: string) => text.split('\n').filter((l) => l !== '').map((l) => Number(l.slice(0, 5)));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const mode = async (path: string) => (await stat(path)).mode & 0o777;

function writer(path: string, o: Partial<DecisionLogWriterOptions> = {}) {
  const counted = { written: 0, dropped: {} as Record<string, number> };
  const w = new DecisionLogWriter({
    path,
    maxSizeBytes: 1000,
    maxFiles: 3,
    logger: logs.logger,
    onWritten: (n) => (counted.written += n),
    onDropped: (reason, n) => (counted.dropped[reason] = (counted.dropped[reason] ?? 0) + n),
    ...o,
  });
  return { w, counted };
}

describe('decision log writer', () => {
  it('appends lines in order, creating the missing directories (0700) and the file (0600)', async () => {
    const path = join(dir, 'a', 'b', 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1_000_000 });
    await w.start();
    for (let i = 0; i < 50; i++) w.write(line(i));
    await w.flush();
    for (let i = 50; i < 60; i++) w.write(line(i));
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual(range(0, 60));
    expect(await mode(path)).toBe(0o600);
    expect(await mode(join(dir, 'a'))).toBe(0o700);
    expect(await mode(join(dir, 'a', 'b'))).toBe(0o700);
    expect(counted).toEqual({ written: 60, dropped: {} });
    expect(w.stats().written).toBe(60);
  });

  it('rotates by renames before a file would exceed its size: FILE, FILE.1 (newest) ... FILE.N; the oldest are dropped', async () => {
    const path = join(dir, 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1000, maxFiles: 3 });
    // In batches of different sizes, so that rotation falls inside a batch and between them.
    let i = 0;
    for (const size of [7, 1, 13, 30, 4]) {
      for (let k = 0; k < size; k++) w.write(line(i++));
      await w.flush();
    }
    await w.close();
    expect(i).toBe(55);
    expect((await readdir(dir)).sort()).toEqual(['decisions.jsonl', 'decisions.jsonl.1', 'decisions.jsonl.2', 'decisions.jsonl.3']);
    // 100-byte lines, 1000-byte files: ten lines each; the newest five in the current file.
    expect(numbers(await readFile(path, 'utf8'))).toEqual(range(50, 55));
    expect(numbers(await readFile(`${path}.1`, 'utf8'))).toEqual(range(40, 50));
    expect(numbers(await readFile(`${path}.2`, 'utf8'))).toEqual(range(30, 40));
    expect(numbers(await readFile(`${path}.3`, 'utf8'))).toEqual(range(20, 30));
    for (const name of await readdir(dir)) {
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(1000);
      expect(await mode(join(dir, name))).toBe(0o600);
    }
    expect(counted.written).toBe(55); // written, then rotated away: not drops
  });

  it('with maxFiles 0 keeps the current file only', async () => {
    const path = join(dir, 'decisions.jsonl');
    const { w } = writer(path, { maxSizeBytes: 1000, maxFiles: 0 });
    for (let i = 0; i < 25; i++) w.write(line(i));
    await w.close();
    expect(await readdir(dir)).toEqual(['decisions.jsonl']);
    expect(numbers(await readFile(path, 'utf8'))).toEqual(range(20, 25));
  });

  it('continues an existing file (made 0600), and rotates it first when the next line would not fit', async () => {
    const path = join(dir, 'decisions.jsonl');
    await writeFile(path, line(0).repeat(9), { mode: 0o644 });
    await chmod(path, 0o644);
    const { w } = writer(path, { maxSizeBytes: 1000, maxFiles: 2 });
    w.write(line(1));
    w.write(line(2));
    await w.close();
    expect(numbers(await readFile(`${path}.1`, 'utf8'))).toEqual([...Array(9).fill(0), 1]);
    expect(numbers(await readFile(path, 'utf8'))).toEqual([2]);
    expect(await mode(path)).toBe(0o600);
    expect(await mode(`${path}.1`)).toBe(0o600);
  });

  it('drops lines when the queue is full, counted, with one warn line for the burst and one info line when it ends', async () => {
    const path = join(dir, 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1_000_000, queueLimit: 10 });
    for (let i = 0; i < 25; i++) w.write(line(i)); // one turn of the event loop: nothing written yet
    expect(w.pending).toBe(10);
    expect(counted.dropped).toEqual({ 'queue-full': 15 });
    expect(logs.events('decision_log.dropping')).toEqual([expect.objectContaining({ level: 40, reason: 'queue-full', path })]);
    await w.flush();
    w.write(line(99));
    expect(logs.events('decision_log.recovered')).toEqual([expect.objectContaining({ level: 30, reason: 'queue-full', dropped: 15 })]);
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual([...range(0, 10), 99]);
    expect(w.stats()).toEqual({ written: 11, dropped: { 'queue-full': 15, 'write-error': 0, 'too-large': 0, closed: 0 } });
  });

  it('close() writes everything queued; lines after it are dropped as closed', async () => {
    const path = join(dir, 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1_000_000 });
    for (let i = 0; i < 5000; i++) w.write(line(i));
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual(range(0, 5000));
    w.write(line(5000));
    await w.close(); // once
    expect(counted).toEqual({ written: 5000, dropped: { closed: 1 } });
    expect(logs.events('decision_log.dropping')).toEqual([expect.objectContaining({ reason: 'closed' })]);
  });

  it('a line longer than a whole file is dropped as too-large', async () => {
    const path = join(dir, 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1000 });
    w.write(`${'y'.repeat(1000)}\n`);
    w.write(line(1));
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual([1]);
    expect(counted).toEqual({ written: 1, dropped: { 'too-large': 1 } });
  });

  it('a path that cannot be written (a directory): lines dropped and counted, nothing thrown, one warn line; writing resumes when it can', async () => {
    const path = join(dir, 'decisions.jsonl');
    await mkdir(path);
    const { w, counted } = writer(path);
    await w.start(); // reports the path at once
    expect(logs.events('decision_log.dropping')).toEqual([expect.objectContaining({ level: 40, reason: 'write-error', error: 'EISDIR' })]);
    for (let i = 0; i < 5; i++) w.write(line(i));
    await w.flush();
    for (let i = 5; i < 12; i++) w.write(line(i));
    await w.flush();
    expect(counted).toEqual({ written: 0, dropped: { 'write-error': 12 } });
    expect(logs.events('decision_log.dropping')).toHaveLength(1); // one per burst, not per record or batch

    await rm(path, { recursive: true });
    w.write(line(12));
    await w.flush();
    expect(logs.events('decision_log.recovered')).toEqual([expect.objectContaining({ reason: 'write-error', dropped: 12 })]);
    // A failure that starts while writing: the file replaced by a directory.
    await rm(path);
    await mkdir(path);
    w.write(line(13));
    await w.flush();
    expect(logs.events('decision_log.dropping')).toHaveLength(2);
    await rm(path, { recursive: true });
    w.write(line(14));
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual([14]);
    expect(counted).toEqual({ written: 2, dropped: { 'write-error': 13 } });
  });

  it('a directory removed, or a file moved away, under the writer: noticed before the next batch, created again, nothing lost', async () => {
    const sub = join(dir, 'logs');
    const path = join(sub, 'decisions.jsonl');
    const { w, counted } = writer(path, { maxSizeBytes: 1_000_000 });
    w.write(line(0));
    await w.flush();
    await rm(sub, { recursive: true });
    w.write(line(1));
    await w.flush();
    expect(numbers(await readFile(path, 'utf8'))).toEqual([1]);
    expect(await mode(sub)).toBe(0o700);
    await rename(path, join(sub, 'moved.jsonl')); // as an outside log rotator would
    w.write(line(2));
    await w.close();
    expect(numbers(await readFile(path, 'utf8'))).toEqual([2]);
    expect(numbers(await readFile(join(sub, 'moved.jsonl'), 'utf8'))).toEqual([1]);
    expect(counted).toEqual({ written: 3, dropped: {} });
    expect(logs.events('decision_log.dropping')).toEqual([]);
  });
});
