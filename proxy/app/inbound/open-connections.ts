/**
 * The inbound connections a policy admitted and that are still open, with the facts they were
 * admitted on: when the policy changes, each is decided again, and one that is no longer
 * permitted is reset (Linkerd closes such connections too).
 */
import { resetSide, type PumpSide } from '../../io/pump.ts';
import type { InboundConnectionFacts, InboundDecision } from './authorize.ts';

export class OpenConnection {
  /** The decision in force for this connection; replaced when a policy change still admits it. */
  decision: InboundDecision;
  #sides: PumpSide[];
  #revoked = false;
  #release: () => void;

  constructor(
    readonly facts: InboundConnectionFacts,
    decision: InboundDecision,
    client: PumpSide,
    release: (c: OpenConnection) => void,
  ) {
    this.decision = decision;
    this.#sides = [client];
    this.#release = () => release(this);
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

  /** The connection ended by itself. */
  closed(): void {
    this.#release();
  }
}

export class OpenConnections {
  readonly #all = new Set<OpenConnection>();

  open(facts: InboundConnectionFacts, decision: InboundDecision, client: PumpSide): OpenConnection {
    const connection = new OpenConnection(facts, decision, client, (c) => this.#all.delete(c));
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
