/** The identity client's settings and its status snapshot: plain data, apart from the running client. */
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import type { RenewalStage } from './attempt.ts';
import type { IssuedCredentials } from './types.ts';

export interface IdentityClientOptions {
  /** The identity to ask for, e.g. `web.demo.serviceaccount.identity.linkerd.cluster.local`. */
  localIdentity: string;
  /** The ServiceAccount token file; read again at every attempt. */
  tokenFile: string;
  /** Where the identity service listens, and the identity its certificate must carry. */
  service: { address: string; serverIdentity: string };
  /** The current trust bundle (PEM), read at every attempt since anchor rotation changes it. */
  trustBundlePem: () => string;
  clock: Clock;
  logger: Logger;
  /** Floor of the refresh delay and cap of the retry backoff; default 10 s. */
  minRefreshMs?: number;
  /** Cap of the refresh delay; default 24 h. */
  maxRefreshMs?: number;
  /** First retry delay after a failure; default min(1 s, minRefreshMs). */
  retryMinMs?: number;
  /** Uniform in [0, 1); default Math.random. Fixed in tests. */
  random?: () => number;
  /** Deadline of each Certify call; default 10 s. */
  timeoutMs?: number;
  /** Called after the sink accepted new credentials (metrics). Must not throw; a throw is logged. */
  onRenewed?(credentials: IssuedCredentials): void;
  /** Called after a failed attempt with its safe reason (metrics). Must not throw; a throw is logged. */
  onFailure?(reason: string, stage: RenewalStage): void;
}

export interface IdentityClientStatus {
  /** Credentials delivered to (and accepted by) the sink, the first included. */
  renewals: number;
  /** Failed attempts, all told. */
  failures: number;
  /** Failed attempts since the last success; drives the backoff. */
  consecutiveFailures: number;
  /** The reason of the most recent failure, kept after later successes (compare the dates). */
  lastError?: string;
  lastFailureAt?: Date;
  lastSuccessAt?: Date;
  /** When the next scheduled attempt runs, by the injected clock; absent while one runs or after stop. */
  nextAttemptAt?: Date;
  current?: { serialHex: string; notAfter: Date };
}
