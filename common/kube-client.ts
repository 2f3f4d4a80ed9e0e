import type { Agent } from 'node:http';
import {
  ApiException,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
} from '@kubernetes/client-node';

/**
 * Shared plumbing for the Kubernetes adapters (trust-anchors/kubernetes-store.ts,
 * identity/validators/token-review.ts): a deadline for API calls, and one reading of the client
 * library's errors. Only adapters import this module; the core never imports the client library.
 */

/** The per-call options of the client library's API methods (their last parameter). */
export type CallOptions = ConfigurationOptions<ObservableMiddleware>;

/** One API call, given the options that bound it. */
export type ApiCall<T> = (options: CallOptions) => Promise<T>;

/** What an API call's failure amounts to. `code` is the HTTP status, 0 when no answer came. */
export interface ApiFailure {
  code: number;
  /** The Status `reason` (`NotFound`, `Conflict`, `AlreadyExists`, `Expired`...), when the server sent one. */
  reason?: string;
  /** A short description, safe to log and to show: the Status message or the network error. */
  message: string;
  timedOut: boolean;
}

/** The error a call gets when its deadline passes (or its signal aborts it) before an answer. */
export class DeadlineError extends Error {
  constructor(readonly timeoutMs: number, aborted: boolean) {
    super(aborted ? 'the request was cancelled' : `no answer within ${timeoutMs} ms`);
  }
}

export function describeApiFailure(err: unknown): ApiFailure {
  if (err instanceof DeadlineError) return { code: 0, message: err.message, timedOut: true };
  if (err instanceof ApiException) {
    const e = err as ApiException<unknown>;
    let status: { reason?: unknown; message?: unknown } | undefined;
    try {
      status = typeof e.body === 'string' ? (JSON.parse(e.body) as typeof status) : (e.body as typeof status);
    } catch {
      status = undefined;
    }
    const failure: ApiFailure = { code: e.code, message: `HTTP ${e.code}`, timedOut: false };
    if (typeof status?.reason === 'string') failure.reason = status.reason;
    if (typeof status?.message === 'string') failure.message = `HTTP ${e.code}: ${status.message.slice(0, 300)}`;
    else if (e.code === 401) failure.message = 'HTTP 401: Unauthorized';
    return failure;
  }
  // node-fetch's FetchError (refused, reset, TLS), a watch's `{ statusCode }` error, or anything else.
  const code = typeof (err as { statusCode?: unknown })?.statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
  const message = err instanceof Error ? err.message : String(err);
  return { code, message: message.slice(0, 300), timedOut: false };
}

/**
 * Runs one API call with a deadline. The client library (1.x) takes no AbortSignal, so a
 * middleware captures the https.Agent it made for this request (one per request) and the
 * deadline destroys it: the socket closes and the call rejects, leaving no timer or socket behind.
 *
 * ```ts
 * const secret = await withDeadline((options) => core.readNamespacedSecret({ name, namespace }, options), { timeoutMs: 5_000 });
 * ```
 */
export async function withDeadline<T>(
  call: ApiCall<T>,
  limits: { timeoutMs: number; signal?: AbortSignal },
): Promise<T> {
  let agent: Agent | undefined;
  let expired: DeadlineError | undefined;
  const cancel = (aborted: boolean) => {
    expired ??= new DeadlineError(limits.timeoutMs, aborted);
    agent?.destroy();
  };
  if (limits.signal?.aborted) throw new DeadlineError(limits.timeoutMs, true);
  const timer = setTimeout(() => cancel(false), limits.timeoutMs);
  const onAbort = () => cancel(true);
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      if (expired) return new Observable(Promise.reject(expired));
      agent = context.getAgent();
      return new Observable(Promise.resolve(context));
    },
    post: (context) => new Observable(Promise.resolve(context)),
  };
  try {
    return await call({ middleware: [middleware], middlewareMergeStrategy: 'append' });
  } catch (err) {
    throw expired ?? err;
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A view of a KubeConfig that reports the agent behind each fetch it prepares, for `Watch`: the
 * library gives back the watch's AbortController only once the response headers have arrived, so
 * a watch that is still connecting can only be stopped by destroying its agent.
 */
export function reportingAgents(kubeConfig: KubeConfig, onAgent: (agent: Agent) => void): KubeConfig {
  const view = Object.create(kubeConfig) as KubeConfig;
  view.applyToFetchOptions = async (opts) => {
    const init = await kubeConfig.applyToFetchOptions(opts);
    if (init.agent && typeof init.agent === 'object') onAgent(init.agent as Agent);
    return init;
  };
  return view;
}
