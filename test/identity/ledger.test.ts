import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import { InvalidArgumentError, LedgerCorruptError, UnavailableError } from '../../common/errors.ts';
import {
  GENESIS_HASH,
  LedgerWriter,
  checkpointPath,
  hashRecord,
  readLedgerRecords,
  sha256Hex,
  verifyLedger,
  type LedgerEntryInput,
} from '../../identity/ledger/index.ts';

const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));

function entry(i: number): LedgerEntryInput {
  return {
    identity: `sa${i}.ns.serviceaccount.identity.linkerd.cluster.local`,
    serial: (0x4000 + i).toString(16),
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: '2025-01-02T00:00:00.000Z',
    certSha256: sha256Hex(`cert ${i}`),
    publicKeySha256: sha256Hex(`key ${i}`),
    issuerFingerprint: sha256Hex('issuer'),
    tokenSubject: `system:serviceaccount:ns:sa${i}`,
  };
}

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-test-'));
  path = join(dir, 'ledger.jsonl');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeLedger(n: number): Promise<void> {
  const ledger = await LedgerWriter.open(path, { clock });
  await Promise.all(Array.from({ length: n }, (_, i) => ledger.append(entry(i + 1))));
  await ledger.close();
}

async function lines(): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').slice(0, -1);
}

async function setLines(next: string[]): Promise<void> {
  await writeFile(path, next.map((l) => `${l}\n`).join(''));
}

function captureLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), text: () => chunks.join('') };
}

async function errorsOf() {
  return (await verifyLedger(path)).errors.map((p) => ({ line: p.line, kind: p.kind }));
}

describe('ledger writer', () => {
  it('ok/append-and-verify: records chain from the genesis value and verify clean', async () => {
    const ledger = await LedgerWriter.open(path, { clock });
    const first = await ledger.append(entry(1));
    const second = await ledger.append({ ...entry(2), time: '2025-01-01T00:00:05Z' });
    expect(ledger.count).toBe(2);
    await ledger.close();

    expect(first).toMatchObject({ seq: 1, prev: GENESIS_HASH, time: '2025-01-01T00:00:00.000Z', serial: '4001' });
    expect(second).toMatchObject({ seq: 2, prev: first.hash, time: '2025-01-01T00:00:05.000Z' });
    expect(await readLedgerRecords(path)).toEqual([first, second]);

    const report = await verifyLedger(path);
    expect(report).toMatchObject({ ok: true, count: 2, lastSeq: 2, lastHash: second.hash, problems: [] });
    expect(JSON.parse(await readFile(checkpointPath(path), 'utf8'))).toEqual({ seq: 2, hash: second.hash, count: 2 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(checkpointPath(path))).mode & 0o777).toBe(0o600);
  });

  it('ok/group-commit: 2,000 concurrent appends land once each, in call order, in few batches', async () => {
    const ledger = await LedgerWriter.open(path, { clock });
    const records = await Promise.all(Array.from({ length: 2000 }, (_, i) => ledger.append(entry(i + 1))));
    const { batches, records: appended } = ledger.stats;
    await ledger.close();

    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(records.map((r) => r.serial)).toEqual(Array.from({ length: 2000 }, (_, i) => (0x4001 + i).toString(16)));
    expect(appended).toBe(2000);
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(50); // one fdatasync per batch, far fewer than records

    const onDisk = await readLedgerRecords(path);
    expect(onDisk).toEqual(records);
    expect(await verifyLedger(path)).toMatchObject({ ok: true, count: 2000, problems: [] });
  });

  it('ok/appends-while-syncing: appends made during a batch join a later one', async () => {
    const ledger = await LedgerWriter.open(path, { clock });
    const first = ledger.append(entry(1));
    // Two microtask turns: the first batch (one record) has been taken and its write is in flight.
    await Promise.resolve();
    await Promise.resolve();
    const rest = Array.from({ length: 100 }, (_, i) => ledger.append(entry(i + 2)));
    await Promise.all([first, ...rest]);
    expect(ledger.stats).toMatchObject({ batches: 2, records: 101 });
    await ledger.close();
    expect((await verifyLedger(path)).ok).toBe(true);
  });

  it('ok/checkpoint-coalesced: the head is written at most once per interval, and the final one on close', async () => {
    // An interval longer than the test, so that the count does not depend on the disk's speed.
    const ledger = await LedgerWriter.open(path, { clock, checkpointIntervalMs: 60_000 });
    let last;
    for (let i = 1; i <= 20; i++) last = await ledger.append(entry(i)); // 20 batches, one after the other
    await new Promise((r) => setTimeout(r, 50));
    expect(ledger.stats).toMatchObject({ batches: 20, checkpoints: 1 }); // the first batch's head; the rest wait
    await ledger.close();
    expect(ledger.stats.checkpoints).toBe(2); // the newest head, at once, on close
    expect(JSON.parse(await readFile(checkpointPath(path), 'utf8'))).toEqual({ seq: 20, hash: last!.hash, count: 20 });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, count: 20, problems: [] });
  });

  it('ok/checkpoint-idle: a writer that goes idle has its head on disk within the interval, without close', async () => {
    const ledger = await LedgerWriter.open(path, { clock, checkpointIntervalMs: 100 });
    await ledger.append(entry(1));
    const second = await ledger.append(entry(2)); // within the interval of the first head
    const head = async () => JSON.parse(await readFile(checkpointPath(path), 'utf8')) as { seq: number };
    const deadline = Date.now() + 5_000;
    while ((await head()).seq !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await head()).toEqual({ seq: 2, hash: second.hash, count: 2 });
    await ledger.close();
  });

  it('ok/checkpoint-lag: records after the last head can be cut undetected (the documented bound); after close, not', async () => {
    const ledger = await LedgerWriter.open(path, { clock, checkpointIntervalMs: 60_000 });
    await ledger.append(entry(1)); // head written at once (first in its interval)
    await ledger.append(entry(2));
    await ledger.append(entry(3)); // heads for 2 and 3 wait for the interval
    // Cut record 3 while the writer runs: the head still says seq 1 or 2, so verify cannot tell.
    const l = await lines();
    await setLines(l.slice(0, 2));
    expect((await verifyLedger(path)).errors).toEqual([]);
    await setLines(l);
    await ledger.close(); // the final head, seq 3
    await setLines(l.slice(0, 2));
    expect(await errorsOf()).toEqual([{ line: 3, kind: 'truncated' }]);
  });

  it('ok/checkpoint-temp-left-behind: a stale temp head of another mode is replaced, the head is 0600', async () => {
    await writeFile(`${checkpointPath(path)}.tmp`, 'junk', { mode: 0o644 });
    const ledger = await LedgerWriter.open(path, { clock });
    await ledger.append(entry(1));
    await ledger.close();
    expect((await stat(checkpointPath(path))).mode & 0o777).toBe(0o600);
    expect(await verifyLedger(path)).toMatchObject({ ok: true, count: 1 });
  });

  it('ok/reopen: a reopened ledger continues the chain', async () => {
    await writeLedger(2);
    const [, second] = await readLedgerRecords(path);
    const ledger = await LedgerWriter.open(path, { clock });
    expect(ledger.count).toBe(2);
    const third = await ledger.append(entry(3));
    await ledger.close();
    expect(third).toMatchObject({ seq: 3, prev: second!.hash });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, count: 3 });
  });

  it('fail/bad-entry: a malformed entry is refused and uses no sequence number', async () => {
    const ledger = await LedgerWriter.open(path, { clock });
    await expect(ledger.append({ ...entry(1), certSha256: 'xyz' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ledger.append({ ...entry(1), notAfter: 'not a time' })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await ledger.append(entry(1))).seq).toBe(1);
    await ledger.close();
    await expect(ledger.append(entry(2))).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('ledger verification', () => {
  const cases: Array<{ name: string; damage: (l: string[]) => string[]; errors: Array<{ line: number; kind: string }> }> = [
    {
      name: 'fail/edited-record',
      damage: (l) => l.map((x, i) => (i === 2 ? x.replace('sa3.ns', 'evil.ns') : x)),
      errors: [{ line: 3, kind: 'hash-mismatch' }],
    },
    {
      name: 'fail/deleted-record',
      damage: (l) => l.filter((_, i) => i !== 2),
      errors: [{ line: 3, kind: 'sequence-gap' }],
    },
    {
      name: 'fail/reordered-pair',
      damage: (l) => [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!],
      errors: [{ line: 2, kind: 'out-of-order' }, { line: 3, kind: 'out-of-order' }],
    },
    {
      name: 'fail/truncated-tail',
      damage: (l) => l.slice(0, 3),
      errors: [{ line: 4, kind: 'truncated' }],
    },
    {
      name: 'fail/unparsable-line',
      damage: (l) => l.map((x, i) => (i === 1 ? 'not json' : x)),
      errors: [{ line: 2, kind: 'unparsable' }],
    },
    {
      name: 'fail/duplicated-record',
      damage: (l) => [...l.slice(0, 3), l[1]!, ...l.slice(3)],
      errors: [{ line: 4, kind: 'out-of-order' }],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: reported at its line, and the writer refuses to open the ledger`, async () => {
      await writeLedger(5);
      await setLines(c.damage(await lines()));
      expect(await errorsOf()).toEqual(c.errors);
      const refusal = LedgerWriter.open(path, { clock });
      await expect(refusal).rejects.toBeInstanceOf(LedgerCorruptError);
      await expect(refusal).rejects.toThrow(`ledger ${path} is corrupt at line ${c.errors[0]!.line}`);
    });
  }

  it('fail/re-hashed-record: a record edited and re-hashed breaks the link of the next one', async () => {
    await writeLedger(5);
    const records = await readLedgerRecords(path);
    const forged = { ...records[2]!, identity: 'evil' };
    forged.hash = hashRecord(forged);
    const l = await lines();
    l[2] = JSON.stringify(forged);
    await setLines(l);
    expect(await errorsOf()).toEqual([{ line: 4, kind: 'prev-mismatch' }]);
  });

  it('fail/missing-checkpoint: records without a checkpoint cannot be trusted to be whole', async () => {
    await writeLedger(2);
    await rm(checkpointPath(path));
    expect(await errorsOf()).toEqual([{ line: 0, kind: 'checkpoint-missing' }]);
  });

  it('ok/append-after-corruption: allowed explicitly, the chain continues after the damage', async () => {
    await writeLedger(5);
    await setLines((await lines()).filter((_, i) => i !== 2));
    const log = captureLogger();
    const ledger = await LedgerWriter.open(path, { clock, logger: log.logger, allowAppendAfterCorruption: true });
    const next = await ledger.append(entry(6));
    await ledger.close();
    expect(next.seq).toBe(6);
    expect(log.text()).toContain('fails verification');
    expect(await errorsOf()).toEqual([{ line: 3, kind: 'sequence-gap' }]);
  });
});

describe('ledger crash recovery', () => {
  const partials: Array<{ name: string; tail: string }> = [
    { name: 'no final newline', tail: '{"seq":4,"time":"2025-01-01T00:00:00.000Z","identity":"sa' },
    { name: 'unparsable last line', tail: '{"seq":4,"time":\n' },
  ];

  for (const p of partials) {
    it(`ok/partial-line (${p.name}): a warning for verify, cut away on reopen`, async () => {
      await writeLedger(3);
      const before = await readFile(path, 'utf8');
      await appendFile(path, p.tail);

      const report = await verifyLedger(path);
      expect(report.ok).toBe(true);
      expect(report.warnings.map((w) => ({ line: w.line, kind: w.kind }))).toEqual([{ line: 4, kind: 'partial-line' }]);

      const log = captureLogger();
      const ledger = await LedgerWriter.open(path, { clock, logger: log.logger });
      expect(log.text()).toContain('removed a partial last line');
      expect(await readFile(path, 'utf8')).toBe(before);
      expect((await ledger.append(entry(4))).seq).toBe(4);
      await ledger.close();
      expect(await verifyLedger(path)).toMatchObject({ ok: true, count: 4, problems: [] });
    });
  }

  it('fail/tail-cut-then-partial: a partial line does not hide records cut off before it', async () => {
    await writeLedger(3);
    const l = await lines();
    await writeFile(path, `${l[0]}\n${l[1]}\n{"seq":3`);
    expect(await errorsOf()).toEqual([{ line: 3, kind: 'truncated' }]);
    await expect(LedgerWriter.open(path, { clock })).rejects.toBeInstanceOf(LedgerCorruptError);
  });
});

describe('ledger lock', () => {
  it('fail/second-writer: a second writer is refused while the first is open', async () => {
    const first = await LedgerWriter.open(path, { clock });
    await expect(LedgerWriter.open(path, { clock })).rejects.toThrow(/already open for writing by process \d+/);
    await first.close();
    const again = await LedgerWriter.open(path, { clock });
    await again.close();
  });

  it('ok/stale-lock: a lock left by a process that is gone is taken over', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(`${path}.lock`, JSON.stringify({ pid: gone, host: 'h', since: '2025-01-01T00:00:00Z' }));
    const ledger = await LedgerWriter.open(path, { clock });
    await ledger.append(entry(1));
    await ledger.close();
    expect((await verifyLedger(path)).ok).toBe(true);
  });
});
