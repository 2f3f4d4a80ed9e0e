/**
 * A crypto worker: parses and verifies CSRs and checks local-mode tokens (jose) for the pool in
 * pool.ts. It holds no state but the token keys it was sent, so that a worker that dies can be
 * replaced without losing anything but the jobs it had in hand.
 */
import type { KeyObject } from 'node:crypto';
import { parentPort, type MessagePort } from 'node:worker_threads';
import { InvalidArgumentError } from '../../common/errors.ts';
import { verifyCsr } from '../authority/csr.ts';
import { verifyLocalJwt } from '../validators/local-jwt.ts';
import type { FromWorker, ToWorker, WireCsr } from './protocol.ts';

export function serveCryptoJobs(port: MessagePort = parentPort!): void {
  const keys = new Map<number, KeyObject>();
  // Replies made in the same tick go back as one message.
  let outbox: FromWorker[] = [];
  let transfers: ArrayBuffer[] = [];
  const flush = () => {
    const replies = outbox;
    const moved = transfers;
    outbox = [];
    transfers = [];
    port.postMessage(replies.length === 1 ? replies[0] : ({ kind: 'batch', replies } satisfies FromWorker), moved);
  };
  const send = (reply: FromWorker, transfer?: ArrayBuffer) => {
    if (outbox.length === 0) queueMicrotask(flush);
    outbox.push(reply);
    if (transfer) transfers.push(transfer);
  };
  const fail = (id: number, err: unknown) => {
    if (err instanceof InvalidArgumentError) send({ kind: 'refused', id, message: err.message });
    else send({ kind: 'failed', id, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  };

  const handle = (message: ToWorker): void => {
    switch (message.kind) {
      case 'batch':
        // Token checks first: jose hands the signature to the libuv pool and returns, so it runs
        // while this thread does the CSRs.
        for (const job of message.jobs) if (job.kind !== 'csr') handle(job);
        for (const job of message.jobs) if (job.kind === 'csr') handle(job);
        return;
      case 'key':
        keys.set(message.keyId, message.key);
        return;
      case 'csr':
        try {
          const { spkiDer, publicKeyBits, ...facts } = verifyCsr(Buffer.from(message.der));
          // Both buffers are views into `der` (from offset 0 of its ArrayBuffer), which goes back as it came.
          const csr: WireCsr = { ...facts, spki: [spkiDer.byteOffset, spkiDer.length], bits: [publicKeyBits.byteOffset, publicKeyBits.length] };
          send({ kind: 'csr', id: message.id, der: message.der, csr }, message.der);
        } catch (err) {
          fail(message.id, err);
        }
        return;
      case 'jwt': {
        const key = keys.get(message.keyId);
        if (!key) {
          send({ kind: 'failed', id: message.id, message: `no token key ${message.keyId} in this worker` });
          return;
        }
        verifyLocalJwt(message.token, key, message.check).then(
          (outcome) => send({ kind: 'jwt', id: message.id, outcome }),
          (err: unknown) => fail(message.id, err),
        );
        return;
      }
    }
  };
  port.on('message', handle);
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}
