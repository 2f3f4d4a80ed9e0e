/**
 * A crypto worker: parses CSRs and verifies their signatures for the pool in pool.ts. It holds no
 * state, so that a worker that dies can be replaced without losing anything but the jobs it had
 * in hand.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { InvalidArgumentError } from '../../common/errors.ts';
import { verifyCsr } from '../authority/csr.ts';
import type { FromWorker, ToWorker, WireCsr } from './protocol.ts';

export function serveCryptoJobs(port: MessagePort = parentPort!): void {
  const send = (reply: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  port.on('message', (job: ToWorker) => {
    try {
      const { spkiDer, publicKeyBits, ...facts } = verifyCsr(Buffer.from(job.der));
      // Both buffers are views into `der` (from offset 0 of its ArrayBuffer), which goes back as it came.
      const csr: WireCsr = { ...facts, spki: [spkiDer.byteOffset, spkiDer.length], bits: [publicKeyBits.byteOffset, publicKeyBits.length] };
      send({ kind: 'csr', id: job.id, der: job.der, csr }, [job.der]);
    } catch (err) {
      if (err instanceof InvalidArgumentError) send({ kind: 'refused', id: job.id, message: err.message });
      else send({ kind: 'failed', id: job.id, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  });
  send({ kind: 'ready' });
}
