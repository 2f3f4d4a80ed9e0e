import { AuthenticationV1Api, type KubeConfig, type V1TokenReview } from '@kubernetes/client-node';
import { TokenInvalidError, UnavailableError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { isDnsLabel, parseServiceAccountUsername } from '../../common/names.ts';
import { describeApiFailure, withDeadline } from '../../common/kube-client.ts';
import { IDENTITY_AUDIENCE, type TokenSubject, type TokenValidator } from './token-validator.ts';

export interface TokenReviewValidatorOptions {
  /** Credentials of the identity service itself; it needs `create` on `tokenreviews.authentication.k8s.io`. */
  kubeConfig: KubeConfig;
  /** The audience the token must carry. Default `identity.l5d.io`. */
  audience?: string;
  /** Bound on each review. Default 5 s. */
  timeoutMs?: number;
  logger?: Logger;
}

/** Service account tokens are ~1 KiB; refuse to relay anything absurd to the API server. */
const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * Validates a ServiceAccount token the way Linkerd's identity service does: a TokenReview for our
 * audience; the token must authenticate, name a ServiceAccount and (when the API server says
 * which audiences it accepted) carry ours. A token that proves nothing is the client's problem
 * (TokenInvalidError); a reviewer that cannot answer is ours (UnavailableError).
 *
 * ```ts
 * const validator = new TokenReviewValidator({ kubeConfig });
 * const { namespace, name } = await validator.validate(tokenBytes);
 * ```
 */
export class TokenReviewValidator implements TokenValidator {
  readonly kind = 'kubernetes';
  readonly #api: AuthenticationV1Api;
  readonly #server: string;
  readonly #audience: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(options: TokenReviewValidatorOptions) {
    this.#api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.#server = options.kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API server';
    this.#audience = options.audience ?? IDENTITY_AUDIENCE;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#logger = options.logger ?? silentLogger;
  }

  async validate(tokenBytes: Uint8Array): Promise<TokenSubject> {
    if (tokenBytes.length > MAX_TOKEN_BYTES) throw new TokenInvalidError(`the token is ${tokenBytes.length} bytes; at most ${MAX_TOKEN_BYTES} are accepted`);
    const token = Buffer.from(tokenBytes).toString('utf8').trim();
    if (token.length === 0) throw new TokenInvalidError('the token is empty');
    const review = await this.#review(token);
    const status = review.status ?? {};
    const scrub = (text: string) => text.split(token).join('[token]').slice(0, 300);

    if (status.authenticated !== true) {
      const why = status.error ? `: ${scrub(status.error)}` : '';
      throw new TokenInvalidError(`the Kubernetes API server did not authenticate the token${why}`);
    }
    if (status.audiences !== undefined && !status.audiences.includes(this.#audience)) {
      throw new TokenInvalidError(
        `the token is not for audience ${this.#audience} (the API server accepted it for ${scrub(JSON.stringify(status.audiences))})`,
      );
    }
    const username = status.user?.username ?? '';
    const sa = parseServiceAccountUsername(username);
    if (!sa || !isDnsLabel(sa.namespace) || !isDnsLabel(sa.name)) {
      throw new TokenInvalidError(`the token belongs to "${scrub(username).slice(0, 120)}", which is not a ServiceAccount (system:serviceaccount:NS:SA)`);
    }
    const subject: TokenSubject = { namespace: sa.namespace, name: sa.name, subject: username };
    if (status.user?.uid) subject.uid = status.user.uid;
    this.#logger.debug({ subject: username }, 'token reviewed');
    return subject;
  }

  async #review(token: string): Promise<V1TokenReview> {
    const body: V1TokenReview = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [this.#audience] },
    };
    try {
      return await withDeadline((options) => this.#api.createTokenReview({ body }, options), { timeoutMs: this.#timeoutMs });
    } catch (err) {
      // Whatever went wrong, it is the reviewer's problem, not the client's: the token was never judged.
      // The failure never carries the token: a Status message does not echo the request body.
      const failure = describeApiFailure(err);
      const message =
        failure.code === 401 || failure.code === 403
          ? `the Kubernetes API server at ${this.#server} refused the identity service's own credentials (${failure.message}); ` +
            'it needs create on tokenreviews.authentication.k8s.io'
          : failure.code === 0
            ? `cannot reach the Kubernetes API server at ${this.#server} to review a token: ${failure.message}`
            : `the Kubernetes API server at ${this.#server} could not review the token: ${failure.message}`;
      this.#logger.warn({ code: failure.code, reason: failure.reason, timedOut: failure.timedOut }, message);
      throw new UnavailableError(message.split(token).join('[token]'), { cause: err });
    }
  }
}
