/**
 * Set-up shared by the tests of the test API server (test/support/kube-api-server.ts), which check
 * it through the real client library: the server with a client of it, and the error a call failed with.
 */
import { expect } from 'vitest';
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { KubeApiServer, type KubeApiServerOptions } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';

/** A test API server, a kubeconfig for it, and a CoreV1 client. */
export async function startKubeApi(options: KubeApiServerOptions = {}): Promise<{ api: KubeApiServer; kc: KubeConfig; core: CoreV1Api }> {
  const api = await KubeApiServer.start(options);
  const kc = kubeConfigFor(api);
  return { api, kc, core: kc.makeApiClient(CoreV1Api) };
}

/** The HTTP code and Status body of a client call that must fail. */
export async function apiError(promise: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> | undefined }> {
  const err = await promise.then(
    () => expect.unreachable('the call should have failed'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiException);
  const e = err as ApiException<unknown>;
  return { code: e.code, status: typeof e.body === 'string' ? (JSON.parse(e.body) as Record<string, unknown>) : (e.body as Record<string, unknown>) };
}
