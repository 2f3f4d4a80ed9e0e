/**
 * The proxy's identity client: obtains and renews this workload's certificate from the identity
 * service (Linkerd's Certify API) and hands it to the data plane through a `CredentialsSink`.
 */
export { IdentityClient } from './client.ts';
export type { IdentityClientOptions, IdentityClientStatus } from './options.ts';
export { IdentityRenewalError, type RenewalStage } from './attempt.ts';
export {
  DEFAULT_JITTER_FRACTION,
  DEFAULT_MAX_REFRESH_MS,
  DEFAULT_MIN_REFRESH_MS,
  DEFAULT_RETRY_MIN_MS,
  REFRESH_PERCENT,
  refreshDelayMs,
  retryDelayMs,
  type RefreshDelayInput,
  type RetryDelayOptions,
} from './schedule.ts';
export type { CredentialsSink, IssuedCredentials } from './types.ts';
