import { ChainChecker, type LedgerProblem } from './chain.ts';
import type { CheckpointState } from './checkpoint.ts';
import type { Line } from './lines.ts';

export interface ScanResult {
  /** Every problem, in line order; the trailing partial line (if any) as a warning. */
  problems: LedgerProblem[];
  /** Complete records kept, i.e. lines up to (not including) a trailing partial line. */
  count: number;
  /** Where the chain continues: the record with the highest seq in chain order. */
  last: { seq: number; hash: string; line: number } | undefined;
  /** A trailing partial line: its number, and the byte offset to truncate to. */
  tail: { line: number; start: number } | undefined;
}

/** One pass over a ledger: the chain, the checkpoint, and the tail. Shared by verify and the writer. */
export async function scanLedger(lines: AsyncIterable<Line> | Iterable<Line>, checkpoint: CheckpointState): Promise<ScanResult> {
  const checker = new ChainChecker(checkpoint);
  let lastStart = 0;
  let unterminated: { line: number; start: number } | undefined;
  for await (const line of lines) {
    if (!line.terminated) {
      unterminated = { line: line.number, start: line.start };
      break;
    }
    lastStart = line.start;
    checker.line(line.text);
  }
  const partial = checker.end(unterminated !== undefined);
  const tail = unterminated ?? (partial !== undefined ? { line: partial, start: lastStart } : undefined);
  const problems = [...checker.problems];
  if (tail) {
    problems.push({
      line: tail.line,
      kind: 'partial-line',
      severity: 'warning',
      message: unterminated
        ? 'the last line has no final newline: an append cut short by a crash, never acknowledged'
        : 'the last line is not a complete record: an append cut short by a crash, never acknowledged',
    });
  }
  problems.sort((a, b) => a.line - b.line);
  return { problems, count: tail ? tail.line - 1 : checker.lines, last: checker.last, tail };
}
