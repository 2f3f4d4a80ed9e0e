import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenInvalidError, UnavailableError } from '../../common/errors.ts';
import { TokenReviewValidator, type TokenReviewValidatorOptions } from '../../identity/validators/token-review.ts';
import { IDENTITY_AUDIENCE } from '../../identity/validators/token-validator.ts';
import { KubeApiServer } from '../support/kube-api-server.ts';
import { kubeConfigFor } from '../support/kubeconfig.ts';

/** The identity service's own credentials, as in a cluster: a ServiceAccount token allowed to create TokenReviews. */
const REVIEWER = 'reviewer-token';
/** A workload's projected token for identity.l5d.io. */
const WEB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.web-workload-token.signature';

let api: KubeApiServer;

beforeEach(async () => {
  api = await KubeApiServer.start();
  api.registerToken(REVIEWER, { username: 'system:serviceaccount:linkerd:linkerd-identity' });
  api.registerToken(WEB_TOKEN, { username: 'system:serviceaccount:emojivoto:web', uid: 'uid-web', audiences: [IDENTITY_AUDIENCE] });
});
afterEach(async () => {
  await api.close();
});

function validator(options: Partial<TokenReviewValidatorOptions> = {}): TokenReviewValidator {
  return new TokenReviewValidator({ kubeConfig: kubeConfigFor(api, { token: REVIEWER }), ...options });
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** Rejects as expected, and the message never contains the token. */
async function refusal(token: string, v = validator()): Promise<Error> {
  const err = await v.validate(bytes(token)).then(
    () => expect.unreachable('the token should have been refused'),
    (e: unknown) => e as Error,
  );
  if (token.trim()) expect(err.message).not.toContain(token.trim());
  return err;
}

describe('a token the API server vouches for', () => {
  it('yields the ServiceAccount, asking for our audience', async () => {
    const v = validator();
    expect(v.kind).toBe('kubernetes');
    expect(await v.validate(bytes(WEB_TOKEN))).toEqual({
      namespace: 'emojivoto',
      name: 'web',
      subject: 'system:serviceaccount:emojivoto:web',
      uid: 'uid-web',
    });
    const review = api.requests.find((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews')!;
    expect(review).toMatchObject({ method: 'POST', user: 'system:serviceaccount:linkerd:linkerd-identity', status: 201 });
  });

  it('accepts another configured audience', async () => {
    api.registerToken('custom-aud', { username: 'system:serviceaccount:a:b', audiences: ['custom'] });
    await expect(validator({ audience: 'custom' }).validate(bytes('custom-aud\n'))).resolves.toMatchObject({ namespace: 'a', name: 'b' });
  });
});

describe('a token that proves nothing is TokenInvalidError', () => {
  it('for an audience that is not ours, saying why', async () => {
    api.registerToken('api-token', { username: 'system:serviceaccount:emojivoto:web' });
    const err = await refusal('api-token');
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(err.message).toContain('did not authenticate the token');
    expect(err.message).toContain('is invalid for the target audiences ["identity.l5d.io"]');
  });

  it('for an unknown or revoked token', async () => {
    expect(await refusal('never-issued')).toBeInstanceOf(TokenInvalidError);
    api.revokeToken(WEB_TOKEN);
    const err = await refusal(WEB_TOKEN);
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(err.message).toContain('invalidated');
  });

  it('for a user that is not a ServiceAccount', async () => {
    api.registerToken('human', { username: 'alice@example.com', audiences: [IDENTITY_AUDIENCE] });
    const err = await refusal('human');
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(err.message).toContain('"alice@example.com", which is not a ServiceAccount');
  });

  it('when the API server says it accepted the token for other audiences only', async () => {
    api.rewriteTokenReviews((status) => ({ ...status, audiences: ['https://kubernetes.default.svc.cluster.local'] }));
    const err = await refusal(WEB_TOKEN);
    expect(err).toBeInstanceOf(TokenInvalidError);
    expect(err.message).toContain('not for audience identity.l5d.io');
  });

  it('when the API server leaves status.audiences out, the username decides', async () => {
    api.rewriteTokenReviews(({ audiences: _dropped, ...status }) => status);
    await expect(validator().validate(bytes(WEB_TOKEN))).resolves.toMatchObject({ name: 'web' });
  });

  it('without asking anyone for an empty token', async () => {
    for (const empty of ['', '  \n']) {
      const err = await refusal(empty);
      expect(err).toBeInstanceOf(TokenInvalidError);
      expect(err.message).toBe('the token is empty');
    }
    expect(api.requests.filter((r) => r.path.includes('tokenreviews'))).toHaveLength(0);
  });

  it('never echoing a token that the error text happens to contain', async () => {
    api.rewriteTokenReviews(() => ({ authenticated: false, user: {}, error: `token ${WEB_TOKEN} is bad` }));
    const err = await refusal(WEB_TOKEN);
    expect(err.message).toContain('token [token] is bad');
  });
});

describe('a reviewer that cannot answer is UnavailableError', () => {
  it('when its own credentials are refused (401) or not allowed (403)', async () => {
    const unknown = await refusal(WEB_TOKEN, new TokenReviewValidator({ kubeConfig: kubeConfigFor(api, { token: 'stale' }) }));
    expect(unknown).toBeInstanceOf(UnavailableError);
    expect(unknown.message).toContain('HTTP 401');

    api.forbid(REVIEWER, { resource: 'tokenreviews' });
    const forbidden = await refusal(WEB_TOKEN);
    expect(forbidden).toBeInstanceOf(UnavailableError);
    expect(forbidden.message).toContain('it needs create on tokenreviews.authentication.k8s.io');
  });

  it('when the API server fails with 500 or 503', async () => {
    for (const code of [500, 503]) {
      api.fail({ code, count: 1 });
      const err = await refusal(WEB_TOKEN);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.message).toContain(`HTTP ${code}`);
    }
    await expect(validator().validate(bytes(WEB_TOKEN))).resolves.toMatchObject({ name: 'web' });
  });

  it('when the answer does not come in time, closing the connection', async () => {
    api.hang({ count: 1 });
    const err = await refusal(WEB_TOKEN, validator({ timeoutMs: 200 }));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('no answer within 200 ms');
    await api.waitUntil(() => api.connections === 0, 'the abandoned connection to close');
  });

  it('when nothing listens', async () => {
    const gone = await KubeApiServer.start();
    const kubeConfig = kubeConfigFor(gone);
    await gone.close();
    const err = await refusal(WEB_TOKEN, new TokenReviewValidator({ kubeConfig }));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain(`cannot reach the Kubernetes API server at ${gone.url}`);
  });
});
