import type { Checkpoint, CheckpointState } from './checkpoint.ts';
import { GENESIS_HASH, hashRecord, parseRecordLine } from './record.ts';

export type LedgerProblemKind =
  | 'unparsable' // a line that is not a well-formed record
  | 'hash-mismatch' // a record whose contents were edited
  | 'sequence-gap' // records missing before this line
  | 'out-of-order' // records moved or duplicated
  | 'prev-mismatch' // a record that does not link to the one before it (replaced or re-hashed)
  | 'truncated' // the ledger ends before its checkpoint: records cut off the end
  | 'checkpoint-mismatch' // the checkpoint names a record the ledger does not hold
  | 'checkpoint-invalid'
  | 'checkpoint-missing'
  | 'partial-line'; // a last line cut short by a crash: never acknowledged, so only a warning

export interface LedgerProblem {
  /** 1-based line of the ledger; for a problem at the end, one past the last line; 0 for the checkpoint file itself. */
  line: number;
  kind: LedgerProblemKind;
  severity: 'error' | 'warning';
  message: string;
}

interface Gap {
  problem: LedgerProblem;
  from: number;
  to: number;
}

/**
 * Checks a ledger line by line (it is fed lines, so that a ledger is never held in memory) and
 * re-synchronizes after each problem, so that one edit, deletion or move is reported once, at
 * its own line, rather than as a cascade over everything after it.
 */
export class ChainChecker {
  readonly problems: LedgerProblem[] = [];
  /** Complete lines seen, records among them. */
  lines = 0;
  records = 0;
  /** The record with the highest seq in chain order: where the next append continues. */
  last: { seq: number; hash: string; line: number } | undefined;

  readonly #checkpoint: Checkpoint | undefined;
  readonly #missingCheckpoint: boolean;
  #expectedSeq = 1;
  #expectedPrev: string | undefined = GENESIS_HASH; // undefined: the link was lost to an unparsable line
  #gaps: Gap[] = [];
  #heldBack: LedgerProblem | undefined; // an unparsable line that is a partial tail if nothing follows
  #checkpointSeen = false;

  constructor(checkpoint: CheckpointState) {
    if (checkpoint.state === 'ok') this.#checkpoint = checkpoint.checkpoint;
    else if (checkpoint.state === 'invalid') this.#error(0, 'checkpoint-invalid', `checkpoint file is invalid: ${checkpoint.reason}`);
    this.#missingCheckpoint = checkpoint.state === 'missing';
  }

  line(text: string): void {
    const line = ++this.lines;
    if (this.#heldBack) this.problems.push(this.#heldBack);
    this.#heldBack = undefined;
    const parsed = parseRecordLine(text);
    if (typeof parsed === 'string') {
      this.#heldBack = { line, kind: 'unparsable', severity: 'error', message: `not a ledger record: ${parsed}` };
      // Assume the line held the next record, so the record after it is not also reported as a gap.
      this.#expectedSeq++;
      this.#expectedPrev = undefined;
      return;
    }
    this.records++;
    const r = parsed;
    if (hashRecord(r) !== r.hash) {
      this.#error(line, 'hash-mismatch', `record seq ${r.seq} was altered: its contents do not match its hash`);
    }
    if (r.seq < this.#expectedSeq) {
      const gap = this.#gaps.find((g) => r.seq >= g.from && r.seq <= g.to);
      if (gap) {
        gap.problem.kind = 'out-of-order';
        gap.problem.message = `seq ${gap.to + 1} where seq ${gap.from} was expected; seq ${r.seq} appears later, at line ${line} (records reordered)`;
      }
      this.#error(line, 'out-of-order', `seq ${r.seq} appears after seq ${this.#expectedSeq - 1} (records reordered or duplicated)`);
    } else {
      if (r.seq > this.#expectedSeq) {
        const problem = this.#error(line, 'sequence-gap',
          `seq ${r.seq} where seq ${this.#expectedSeq} was expected: ${describeRange(this.#expectedSeq, r.seq - 1)} missing (deleted)`);
        this.#gaps.push({ problem, from: this.#expectedSeq, to: r.seq - 1 });
      } else if (this.#expectedPrev !== undefined && r.prev !== this.#expectedPrev) {
        this.#error(line, 'prev-mismatch', `record seq ${r.seq} does not link to the record before it (that record was replaced or re-hashed)`);
      }
      // Link on the stored hash, so that an edited record is reported once, not again at the next line.
      this.#expectedSeq = r.seq + 1;
      this.#expectedPrev = r.hash;
      this.last = { seq: r.seq, hash: r.hash, line };
    }
    this.#checkAgainstCheckpoint(r.seq, r.hash, line);
  }

  /**
   * Ends the check. Returns the line number of a trailing partial line (an unparsable last line,
   * unless an unterminated fragment follows it) for the caller to warn about or cut away.
   */
  end(unterminatedTail: boolean): number | undefined {
    let partial: number | undefined;
    if (this.#heldBack && !unterminatedTail) partial = this.#heldBack.line;
    else if (this.#heldBack) this.problems.push(this.#heldBack);
    this.#heldBack = undefined;
    const kept = partial !== undefined ? this.lines - 1 : this.lines;
    const cp = this.#checkpoint;
    if (this.#missingCheckpoint && this.records > 0) {
      this.#error(0, 'checkpoint-missing', 'the ledger holds records but its checkpoint file is missing, so a cut-off tail cannot be ruled out');
    } else if (cp && !this.#checkpointSeen && cp.seq > 0) {
      const lastSeq = this.last?.seq ?? 0;
      if (lastSeq < cp.seq) {
        this.#error(kept + 1, 'truncated',
          `the ledger ends at seq ${lastSeq} but its checkpoint records seq ${cp.seq}: ${describeRange(lastSeq + 1, cp.seq)} cut off the end`);
      } else {
        this.#error(0, 'checkpoint-mismatch', `the checkpoint names seq ${cp.seq}, which the ledger does not hold`);
      }
    }
    return partial;
  }

  #checkAgainstCheckpoint(seq: number, hash: string, line: number): void {
    const cp = this.#checkpoint;
    if (!cp || seq !== cp.seq || this.#checkpointSeen) return;
    this.#checkpointSeen = true;
    if (hash !== cp.hash) {
      this.#error(line, 'checkpoint-mismatch', `record seq ${seq} does not have the hash the checkpoint records for it`);
    } else if (cp.count !== this.lines && !this.problems.some((p) => p.severity === 'error')) {
      // Only worth saying when the chain itself looked sound: otherwise the cause is already reported.
      this.#error(line, 'checkpoint-mismatch', `the checkpoint counts ${cp.count} records up to seq ${seq}, the ledger ${this.lines}`);
    }
  }

  #error(line: number, kind: LedgerProblemKind, message: string): LedgerProblem {
    const problem: LedgerProblem = { line, kind, severity: 'error', message };
    this.problems.push(problem);
    return problem;
  }
}

function describeRange(from: number, to: number): string {
  return from === to ? `record seq ${from} is` : `records seq ${from}..${to} are`;
}
