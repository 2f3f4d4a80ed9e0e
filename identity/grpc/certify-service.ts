/**
 * The identity service's gRPC transport: Linkerd's `io.linkerd.proxy.identity.Identity/Certify`
 * over TLS. It checks that the request is complete, hands it to `certify`, and turns the outcome
 * into a response or a status. How certificates are made is not its business.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, grpcStatusOf, isIdentityError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { CertifyMetrics } from '../metrics.ts';
import {
  identityServiceDefinition,
  toResponseMessage,
  type CertifyFunction,
  type CertifyRequestMessage,
  type CertifyResponseMessage,
} from './codec.ts';
import type { ServingCredentialsSource } from './serving-credentials.ts';
import { rotatingServerCredentials } from './server-tls.ts';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** How long close() lets in-flight calls finish before cutting connections. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Longest identity we copy into a log line; a DNS name is at most 253 characters. */
const MAX_LOGGED_IDENTITY = 256;
const GENERIC_INTERNAL_MESSAGE = 'internal error';

export interface IdentityGrpcServerOptions {
  host: string;
  /** 0 picks an ephemeral port; the bound one is in the result. */
  port: number;
  certify: CertifyFunction;
  serving: ServingCredentialsSource;
  logger: Logger;
  metrics?: CertifyMetrics;
  /** Largest request accepted, in bytes; grpc-js refuses bigger ones with RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
}

export interface IdentityGrpcServer {
  port: number;
  /** Stops accepting, lets in-flight calls finish (up to a grace period), then closes. */
  close(): Promise<void>;
}

/**
 * Starts the Certify service on `host:port`, TLS only, serving `serving`'s current credentials
 * and following its updates for new connections.
 *
 * @example
 * const server = await startIdentityGrpcServer({
 *   host: '0.0.0.0', port: 8080, certify: (req) => authority.certify(req), serving, logger,
 *   metrics: createIdentityMetrics(),
 * });
 */
export async function startIdentityGrpcServer(options: IdentityGrpcServerOptions): Promise<IdentityGrpcServer> {
  const { logger, metrics, serving } = options;
  const credentials = rotatingServerCredentials(serving);

  const recordServing = (notAfter: Date): void => metrics?.servingCertificateExpiry.set(notAfter.getTime() / 1000);
  recordServing(serving.info().notAfter);
  const unsubscribe = serving.subscribe((_credentials, info) => {
    recordServing(info.notAfter);
    logger.info({ event: 'serving_credentials.rotated', fingerprint: info.fingerprint256, notAfter: info.notAfter }, 'serving certificate replaced; new connections use it');
  });

  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    // Channelz keeps per-call statistics and traces for a debugging service we do not expose.
    'grpc.enable_channelz': 0,
  });
  server.addService(identityServiceDefinition(), {
    Certify: certifyHandler(options),
  });

  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  } catch (err) {
    unsubscribe();
    server.forceShutdown();
    throw err;
  }
  logger.info({ event: 'identity_grpc.listening', host: options.host, port }, 'identity service listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        let timer: NodeJS.Timeout | undefined;
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        timer = setTimeout(() => {
          server.forceShutdown();
          done();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(done);
      }),
  };
}

function certifyHandler(
  options: IdentityGrpcServerOptions,
): grpc.handleUnaryCall<CertifyRequestMessage, CertifyResponseMessage> {
  const { certify, logger, metrics } = options;

  return (call, callback) => {
    const started = performance.now();
    const request = call.request;
    const finish = (code: grpc.status): void => {
      metrics?.certifyRequests.inc({ code: grpc.status[code] ?? String(code) });
      metrics?.certifyDuration.observe((performance.now() - started) / 1000);
    };

    const answer = async (): Promise<CertifyResponseMessage> => {
      requireComplete(request);
      const result = await certify({
        identity: request.identity,
        token: request.token,
        csr: request.certificate_signing_request,
      });
      if (!(result.validUntil instanceof Date) || Number.isNaN(result.validUntil.getTime())) {
        throw new TypeError('certify returned an invalid validUntil');
      }
      return toResponseMessage(result);
    };

    const deny = (err: unknown): void => {
      const code = grpcStatusOf(err) as grpc.status;
      const safe = isIdentityError(err);
      const event = {
        event: 'certify.denied',
        code: grpc.status[code],
        errorCode: safe ? err.code : undefined,
        identity: request.identity.slice(0, MAX_LOGGED_IDENTITY),
        peer: call.getPeer(),
        reason: safe ? err.message : GENERIC_INTERNAL_MESSAGE,
      };
      // A client's mistake is a warning; anything we did not raise on purpose is a bug, logged
      // with its cause, and the client learns nothing about it.
      if (safe && code !== grpc.status.INTERNAL) logger.warn(event, 'certify denied');
      else logger.error({ ...event, err }, 'certify failed');
      callback({ code, details: safe ? err.message : GENERIC_INTERNAL_MESSAGE }, null);
      finish(code);
    };

    // Success and failure are sibling handlers, so a throw while answering cannot make us answer
    // (and count) the same call twice; the last catch keeps it from becoming an unhandled rejection.
    answer()
      .then((response) => {
        callback(null, response);
        finish(grpc.status.OK);
      }, deny)
      .catch((err: unknown) => logger.error({ event: 'certify.answer_failed', err }, 'could not answer a certify call'));
  };
}

/** Presence at the boundary, so that `certify` never sees an incomplete request. */
function requireComplete(request: CertifyRequestMessage): void {
  if (request.identity.length === 0) throw new InvalidArgumentError('identity is required');
  if (request.token.length === 0) throw new InvalidArgumentError('token is required');
  if (request.certificate_signing_request.length === 0) {
    throw new InvalidArgumentError('certificate_signing_request is required');
  }
}
