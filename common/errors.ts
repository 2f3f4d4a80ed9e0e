/**
 * Typed errors with stable codes. Every error the system raises on purpose is one of these;
 * the table below is the one place where a code maps to a gRPC status and a CLI exit code.
 *
 * `message` is safe to show to a client or an operator: it says what was wrong and what to do,
 * and never carries a token, a key or a whole certificate. A hidden `cause` may carry more for logs.
 */

/** gRPC status numbers (grpc/status.h); kept here so that this module imports no transport. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** CLI exit codes, in the spirit of sysexits(3). */
export const ExitCode = {
  OK: 0,
  FAILURE: 1, // a check found a problem
  USAGE: 64, // bad flags or arguments
  DATA: 65, // bad input data (CSR, token, file contents)
  NO_INPUT: 66, // a file or object that must exist does not
  UNAVAILABLE: 69, // a service could not be reached
  INTERNAL: 70, // a bug
  CANT_CREATE: 73, // refusing to overwrite
  TEMP_FAILURE: 75, // not done yet, try again later (a rotation waiting on proxies; its state is kept)
  CONFIG: 78, // trust material or configuration is invalid
} as const;

const codeTable = {
  ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, exit: ExitCode.DATA },
  ERR_CSR_REJECTED: { grpc: GrpcStatus.INVALID_ARGUMENT, exit: ExitCode.DATA },
  ERR_MESSAGE_TOO_LARGE: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, exit: ExitCode.DATA },
  ERR_TOKEN_INVALID: { grpc: GrpcStatus.UNAUTHENTICATED, exit: ExitCode.DATA },
  ERR_IDENTITY_MISMATCH: { grpc: GrpcStatus.PERMISSION_DENIED, exit: ExitCode.DATA },
  ERR_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, exit: ExitCode.UNAVAILABLE },
  /** A call to the identity service failed (client side); the service's own status is on the error. */
  ERR_CERTIFY_CALL: { grpc: GrpcStatus.UNAVAILABLE, exit: ExitCode.UNAVAILABLE },
  ERR_TRUST_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, exit: ExitCode.CONFIG },
  ERR_CONFIG_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, exit: ExitCode.CONFIG },
  ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, exit: ExitCode.NO_INPUT },
  ERR_ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, exit: ExitCode.CANT_CREATE },
  ERR_LEDGER_CORRUPT: { grpc: GrpcStatus.INTERNAL, exit: ExitCode.FAILURE },
  ERR_USAGE: { grpc: GrpcStatus.INVALID_ARGUMENT, exit: ExitCode.USAGE },
  /** A second rotation (or an issuer rotation) while an anchor rotation is under way. */
  ERR_ROTATION_IN_PROGRESS: { grpc: GrpcStatus.FAILED_PRECONDITION, exit: ExitCode.CANT_CREATE },
  /** A rotation step asked for out of order, or with no rotation to act on. */
  ERR_ROTATION_ORDER: { grpc: GrpcStatus.FAILED_PRECONDITION, exit: ExitCode.USAGE },
  /** Proxies that did not reach the awaited state in time; the rotation is paused and resumable. */
  ERR_FLEET_NOT_CONVERGED: { grpc: GrpcStatus.UNAVAILABLE, exit: ExitCode.TEMP_FAILURE },
  /** No proxies to wait for, and an empty fleet was not allowed. */
  ERR_FLEET_EMPTY: { grpc: GrpcStatus.FAILED_PRECONDITION, exit: ExitCode.CONFIG },
  /** A proxy's admin endpoint did not answer, or answered something we cannot trust. */
  ERR_PROXY_ADMIN: { grpc: GrpcStatus.UNAVAILABLE, exit: ExitCode.UNAVAILABLE },
  ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, exit: ExitCode.INTERNAL },
} as const;

export type ErrorCode = keyof typeof codeTable;

export abstract class IdentityError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A malformed request: missing fields, bytes that do not parse. */
export class InvalidArgumentError extends IdentityError {
  readonly code = 'ERR_INVALID_ARGUMENT' as const;
}

/** A CSR that parses but breaks the rules (key type, SANs, subject, signature). */
export class CsrRejectedError extends IdentityError {
  readonly code = 'ERR_CSR_REJECTED' as const;
}

export class MessageTooLargeError extends IdentityError {
  readonly code = 'ERR_MESSAGE_TOO_LARGE' as const;
}

/** A token that does not prove anything: bad signature, expired, wrong audience or issuer. */
export class TokenInvalidError extends IdentityError {
  readonly code = 'ERR_TOKEN_INVALID' as const;
}

/** A valid token whose ServiceAccount is not the one the request or the CSR names. */
export class IdentityMismatchError extends IdentityError {
  readonly code = 'ERR_IDENTITY_MISMATCH' as const;
}

/** A dependency (token reviewer, API server, identity service) cannot be reached. */
export class UnavailableError extends IdentityError {
  readonly code = 'ERR_UNAVAILABLE' as const;
}

/** Trust material that fails validation: chain, CA flags, key match, validity. */
export class TrustError extends IdentityError {
  readonly code = 'ERR_TRUST_INVALID' as const;
}

export class ConfigError extends IdentityError {
  readonly code = 'ERR_CONFIG_INVALID' as const;
}

export class NotFoundError extends IdentityError {
  readonly code = 'ERR_NOT_FOUND' as const;
}

export class AlreadyExistsError extends IdentityError {
  readonly code = 'ERR_ALREADY_EXISTS' as const;
}

export class LedgerCorruptError extends IdentityError {
  readonly code = 'ERR_LEDGER_CORRUPT' as const;
}

export class UsageError extends IdentityError {
  readonly code = 'ERR_USAGE' as const;
}

export class InternalError extends IdentityError {
  readonly code = 'ERR_INTERNAL' as const;
}

export function isIdentityError(err: unknown): err is IdentityError {
  return err instanceof IdentityError;
}

/** The gRPC status for an error; anything unexpected is INTERNAL (never a client's mistake). */
export function grpcStatusOf(err: unknown): number {
  return isIdentityError(err) ? codeTable[err.code].grpc : GrpcStatus.INTERNAL;
}

/** The CLI exit code for an error; anything unexpected is INTERNAL. */
export function exitCodeOf(err: unknown): number {
  return isIdentityError(err) ? codeTable[err.code].exit : ExitCode.INTERNAL;
}
