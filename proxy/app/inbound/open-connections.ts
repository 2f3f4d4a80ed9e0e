/**
 * The inbound connections a policy admitted and that are still open, with the facts they were
 * admitted on: when the policy changes, each is decided again, and one that is no longer
 * permitted is reset (Linkerd closes such connections too).
 */
import { resetSide, type PumpSide } from '../../io/pump.ts';
import type { InboundConnectionFacts, InboundDecision } from './authorize.ts';

/** How a connection was admitted: the decision, its id and when it was made. */
export interface AdmittedAs {
  decision: InboundDecision;
  decisionId: string;
  /** When the decision was made, ms since the epoch. */
  timeMs: number;
  /** When the proxy accepted the connection (`performance.now()`), for its duration. */
  openedAt: number;
}

/** Bytes forwarded: `in` read from the client, `out` written towards it. */
export interface ConnectionBytes {
  in: number;
  out: number;
}

export class OpenConnection {
  /** The decision in force for this connection; replaced when a policy change still admits it. */
  decision: InboundDecision;
  #sides: PumpSide[];
  #revoked = false;
  #ended = false;
  #release: () => void;
  #onEnd: (bytes: ConnectionBytes | undefined) => void;

  constructor(
    readonly facts: InboundConnectionFacts,
    /** The admission, unchanged by later decisions: what the decision log records. */
    readonly admitted: AdmittedAs,
    client: PumpSide,
    release: (c: OpenConnection) => void,
    onEnd: (c: OpenConnection, bytes: ConnectionBytes | undefined) => void,
  ) {
    this.decision = admitted.decision;
    this.#sides = [client];
    this.#release = () => release(this);
    this.#onEnd = (bytes) => onEnd(this, bytes);
  }

  /** True once a policy change has reset it: whoever is still setting it up must stop. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** The upstream, once dialled: a revocation resets it too. */
  attach(upstream: PumpSide): void {
    this.#sides.push(upstream);
  }

  /** Resets both sides (RST, so neither end reads a clean end of stream) and forgets it. */
  revoke(): void {
    if (this.#revoked) return;
    this.#revoked = true;
    this.#release();
    for (const side of this.#sides) resetSide(side);
  }

  /**
   * The connection is over (ended by itself, refused after admission, or after a revocation), with
   * the bytes it forwarded (none when it never reached the pump). Once; later calls do nothing.
   */
  closed(bytes?: ConnectionBytes): void {
    this.#release();
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(bytes);
  }
}

export class OpenConnections {
  readonly #all = new Set<OpenConnection>();

  open(facts: InboundConnectionFacts, admitted: AdmittedAs, client: PumpSide, onEnd: (c: OpenConnection, bytes: ConnectionBytes | undefined) => void): OpenConnection {
    const connection = new OpenConnection(facts, admitted, client, (c) => this.#all.delete(c), onEnd);
    this.#all.add(connection);
    return connection;
  }

  get size(): number {
    return this.#all.size;
  }

  /** A copy: revoking removes entries while the caller iterates. */
  list(): OpenConnection[] {
    return [...this.#all];
  }
}
