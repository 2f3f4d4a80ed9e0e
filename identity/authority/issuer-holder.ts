import type { Issuer } from '../../trust-anchors/trust.ts';
import { LeafBuilder } from './leaf.ts';

/**
 * The issuer in service, swapped atomically: a request reads the current builder once and uses
 * it to the end, so a reload never fails a request in flight.
 */
export class IssuerHolder {
  #current: LeafBuilder | undefined;

  constructor(issuer?: Issuer) {
    if (issuer) this.#current = new LeafBuilder(issuer);
  }

  current(): LeafBuilder | undefined {
    return this.#current;
  }

  swap(issuer: Issuer): void {
    this.#current = new LeafBuilder(issuer);
  }
}
