/**
 * Reads a transport header off the front of a stream (the server side of a mutual-TLS connection
 * with ALPN `transport.l5d.io/v1`). Bytes after the header that arrived in the same read are put
 * back, so the application receives its stream from its first byte.
 */
import type { Duplex } from 'node:stream';
import { decodeTransportHeader, MAX_HEADER_LENGTH, TransportHeaderError, type TransportHeader } from './header.ts';

export interface ReadHeaderOptions {
  timeoutMs: number;
  maxLength?: number;
}

/** @throws TransportHeaderError for a bad header, a timeout, or a stream that ends first. */
export function readTransportHeader(stream: Duplex, options: ReadHeaderOptions): Promise<TransportHeader> {
  const maxLength = options.maxLength ?? MAX_HEADER_LENGTH;
  return new Promise<TransportHeader>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (outcome: { header: TransportHeader; rest: Buffer } | { error: Error }) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      stream.pause();
      if ('header' in outcome) {
        if (outcome.rest.length > 0) stream.unshift(outcome.rest);
        resolve(outcome.header);
      } else reject(outcome.error);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const buffered = Buffer.concat(chunks, length);
      try {
        const result = decodeTransportHeader(buffered, maxLength);
        if (result.status === 'complete') finish({ header: result.header, rest: buffered.subarray(result.consumed) });
      } catch (err) {
        finish({ error: err as Error });
      }
    };
    const onEnd = () => finish({ error: new TransportHeaderError(`the stream ended after ${length} bytes, inside the transport header`) });
    const onError = (err: Error) => finish({ error: err });
    const timer = setTimeout(
      () => finish({ error: new TransportHeaderError(`no complete transport header within ${options.timeoutMs} ms`) }),
      options.timeoutMs,
    );
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
