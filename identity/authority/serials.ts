import { randomFillSync } from 'node:crypto';

const SERIAL_BYTES = 16;
const SERIALS_PER_FILL = 256;

/**
 * Random certificate serials, 128 bits (RFC 5280 allows up to 20 octets; CA/B asks for 64 bits of
 * entropy), positive and of a fixed length: as trust-anchors' randomSerial, but the random bytes
 * are drawn 4 KiB at a time (one randomFillSync per 256 serials) instead of one call per serial.
 */
export class SerialSource {
  #pool = Buffer.alloc(SERIAL_BYTES * SERIALS_PER_FILL);
  #at = this.#pool.length;

  next(): Buffer {
    if (this.#at === this.#pool.length) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    // A copy: the pool is refilled in place, and the serial outlives this call.
    const serial = Buffer.from(this.#pool.subarray(this.#at, this.#at + SERIAL_BYTES));
    this.#pool.fill(0, this.#at, this.#at + SERIAL_BYTES); // a drawn serial does not stay behind in the pool
    this.#at += SERIAL_BYTES;
    serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero octet to drop
    return serial;
  }
}
