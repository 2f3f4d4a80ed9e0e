/**
 * The load generator: real TLS gRPC Certify calls, one HTTP/2 connection per concurrent caller
 * (as each proxy has its own), requests prepared in advance so that the generator spends its
 * time sending, not computing.
 */
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { checkServerIdentityExact } from '../identity/grpc/client.ts';
import { identityServiceDefinition, type CertifyRequestMessage, type CertifyResponseMessage } from '../identity/grpc/codec.ts';

export interface PreparedRequest {
  message: CertifyRequestMessage;
}

export interface ClientPoolOptions {
  address: string;
  serverIdentity: string;
  trustBundlePem: string;
  connections: number;
  timeoutMs?: number;
}

type Call = (message: CertifyRequestMessage, done: (err: grpc.ServiceError | null, res?: CertifyResponseMessage) => void) => void;

export interface ClientPool {
  /** One call function per connection. */
  calls: Call[];
  /** True once close() was called: callers stop sending. */
  readonly closed: boolean;
  /** Waits until every connection is established (TLS handshake done). */
  connect(timeoutMs: number): Promise<void>;
  close(): void;
}

export function createClientPool(options: ClientPoolOptions): ClientPool {
  const secureContext = createSecureContext({ ca: options.trustBundlePem, minVersion: 'TLSv1.2' });
  const credentials = grpc.credentials.createFromSecureContext(secureContext, {
    checkServerIdentity: checkServerIdentityExact(options.serverIdentity),
  });
  const method = identityServiceDefinition().Certify;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clients: grpc.Client[] = [];
  for (let i = 0; i < options.connections; i++) {
    clients.push(
      new grpc.Client(options.address, credentials, {
        'grpc.ssl_target_name_override': options.serverIdentity,
        'grpc.default_authority': options.serverIdentity,
        // Without this, grpc-js shares one subchannel (one connection) between equal clients.
        'grpc.use_local_subchannel_pool': 1,
      }),
    );
  }
  const metadata = new grpc.Metadata();
  const calls: Call[] = clients.map(
    (client) => (message, done) =>
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, message, metadata, { deadline: Date.now() + timeoutMs }, (err, res) =>
        done(err, res),
      ),
  );
  let closed = false;
  return {
    calls,
    get closed() {
      return closed;
    },
    connect: async (timeout) => {
      await Promise.all(
        clients.map(
          (client, i) =>
            new Promise<void>((resolve, reject) =>
              client.waitForReady(Date.now() + timeout, (err) => (err ? reject(new Error(`connection ${i}: ${err.message}`)) : resolve())),
            ),
        ),
      );
    },
    close: () => {
      closed = true;
      for (const client of clients) client.close();
    },
  };
}

export interface LevelResult {
  concurrency: number;
  requests: number;
  ok: number;
  errors: number;
  /** gRPC status name -> count, for the failures. */
  errorCodes: Record<string, number>;
  firstError?: string;
  seconds: number;
  perSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** monotonic microseconds (process.hrtime), to locate the level in a server CPU profile. */
  startUs: number;
  endUs: number;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Sends `requests` with `concurrency` callers, caller i on connection i. Each caller sends its
 * next request when the previous answer arrives (closed loop). No request is started after
 * `maxSeconds`, so that a slow server cannot make the run unbounded.
 */
export async function runLevel(
  pool: ClientPool,
  concurrency: number,
  requests: readonly PreparedRequest[],
  options: { maxSeconds?: number; onResponse?: (res: CertifyResponseMessage, req: PreparedRequest) => void } = {},
): Promise<LevelResult> {
  const { onResponse } = options;
  let deadline = Infinity;
  if (concurrency > pool.calls.length) throw new Error(`concurrency ${concurrency} exceeds the ${pool.calls.length} connections`);
  const latencies = new Float64Array(requests.length);
  const errorCodes: Record<string, number> = {};
  let firstError: string | undefined;
  let next = 0;
  let ok = 0;
  let errors = 0;

  const caller = (slot: number) =>
    new Promise<void>((resolve) => {
      const call = pool.calls[slot]!;
      const send = (): void => {
        if (next >= requests.length || performance.now() > deadline || pool.closed) return resolve();
        const index = next++;
        const request = requests[index]!;
        const t0 = performance.now();
        const done = (err: grpc.ServiceError | null, res?: CertifyResponseMessage): void => {
          latencies[index] = performance.now() - t0;
          if (err || !res) {
            errors++;
            const code = err ? (grpc.status[err.code] ?? String(err.code)) : 'EMPTY';
            errorCodes[code] = (errorCodes[code] ?? 0) + 1;
            firstError ??= err ? `${code}: ${err.details}` : 'empty response';
          } else {
            ok++;
            onResponse?.(res, request);
          }
          send();
        };
        try {
          call(request.message, done);
        } catch (err) {
          // The pool was closed under us (SIGINT): count it and stop this caller.
          errors++;
          errorCodes['CLIENT'] = (errorCodes['CLIENT'] ?? 0) + 1;
          firstError ??= (err as Error).message;
          latencies[index] = performance.now() - t0;
          return resolve();
        }
      };
      send();
    });

  const startUs = nowUs();
  const start = performance.now();
  deadline = start + (options.maxSeconds ?? Infinity) * 1000;
  await Promise.all(Array.from({ length: concurrency }, (_, slot) => caller(slot)));
  const seconds = (performance.now() - start) / 1000;
  const endUs = nowUs();

  const sent = next;
  const sorted = latencies.slice(0, sent).sort();
  const pct = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    concurrency,
    requests: sent,
    ok,
    errors,
    errorCodes,
    ...(firstError ? { firstError } : {}),
    seconds,
    perSec: ok / seconds,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: sorted.length ? sorted[sorted.length - 1]! : NaN, mean: sum / sorted.length },
    startUs,
    endUs,
  };
}
