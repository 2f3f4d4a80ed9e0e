import { parseServiceAccountUsername } from '../../common/names.ts';
import { Statuses, type ResourceRef } from './kube-status.ts';

/**
 * Authentication and authorization for the test API server: one token registry serves both the
 * bearer tokens that clients present and the TokenReview API, as in a real cluster where the
 * ServiceAccount token authenticator backs both.
 */

export interface TokenIdentity {
  username: string;
  uid?: string;
  /** Defaults: ServiceAccount groups for `system:serviceaccount:NS:SA`, else `system:authenticated`. */
  groups?: string[];
  /** The token's `aud` claim. Defaults to the server's API audiences. */
  audiences?: string[];
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'delete';

/** A deny rule: every field left out matches anything. */
export interface ForbidRule {
  verb?: Verb | Verb[];
  resource?: string;
  namespace?: string;
  name?: string;
}

export interface User {
  username: string;
  uid: string;
  groups: string[];
  audiences: string[];
}

export interface TokenReviewStatus {
  authenticated: boolean;
  user: { username?: string; uid?: string; groups?: string[] };
  audiences?: string[];
  error?: string;
}

function defaultGroups(username: string): string[] {
  const sa = parseServiceAccountUsername(username);
  return sa
    ? ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated']
    : ['system:authenticated'];
}

export class Authenticator {
  readonly #tokens = new Map<string, User>();
  readonly #revoked = new Set<string>();
  readonly #denies: { username: string; rule: ForbidRule }[] = [];

  constructor(readonly apiAudiences: string[]) {}

  register(token: string, identity: TokenIdentity): void {
    this.#revoked.delete(token);
    this.#tokens.set(token, {
      username: identity.username,
      uid: identity.uid ?? '',
      groups: identity.groups ?? defaultGroups(identity.username),
      audiences: identity.audiences ?? this.apiAudiences,
    });
  }

  /** As when the token's Pod or ServiceAccount is deleted: it no longer authenticates. */
  revoke(token: string): void {
    this.#revoked.add(token);
  }

  forbid(token: string, rule: ForbidRule): void {
    const user = this.#tokens.get(token);
    if (!user) throw new Error('forbid: register the token first');
    this.#denies.push({ username: user.username, rule });
  }

  clearForbids(): void {
    this.#denies.length = 0;
  }

  /** The caller of an API request, or a 401 Status for a missing, unknown or revoked token. */
  authenticate(authorization: string | undefined): User {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const review = m ? this.review(m[1]!, this.apiAudiences) : undefined;
    if (!m || !review?.authenticated) throw Statuses.unauthorized();
    return this.#tokens.get(m[1]!)!;
  }

  authorize(user: User, verb: Verb, ref: ResourceRef, namespace: string | undefined, name?: string): void {
    const denied = this.#denies.some(({ username, rule }) => {
      const verbs = rule.verb === undefined ? undefined : ([] as Verb[]).concat(rule.verb);
      return (
        username === user.username &&
        (verbs === undefined || verbs.includes(verb)) &&
        (rule.resource === undefined || rule.resource === ref.resource) &&
        (rule.namespace === undefined || rule.namespace === namespace) &&
        (rule.name === undefined || rule.name === name)
      );
    });
    if (denied) throw Statuses.forbidden(ref, verb, user.username, namespace, name);
  }

  /**
   * What the ServiceAccount token authenticator decides, with the TokenReview REST semantics
   * (pkg/registry/authentication/tokenreview): the review's audiences default to the API
   * audiences, must intersect the token's, and the answer carries the intersection.
   */
  review(token: string, requested: string[]): TokenReviewStatus {
    const audiences = requested.length > 0 ? requested : this.apiAudiences;
    const user = this.#tokens.get(token);
    if (!user) return { authenticated: false, user: {}, error: '[invalid bearer token, token lookup failed]' };
    if (this.#revoked.has(token)) {
      return { authenticated: false, user: {}, error: '[invalid bearer token, service account token has been invalidated]' };
    }
    const granted = user.audiences.filter((a) => audiences.includes(a));
    if (granted.length === 0) {
      const error = `[invalid bearer token, token audiences ${JSON.stringify(user.audiences)} is invalid for the target audiences ${JSON.stringify(audiences)}]`;
      return { authenticated: false, user: {}, error };
    }
    const info: TokenReviewStatus['user'] = { username: user.username, groups: user.groups };
    if (user.uid) info.uid = user.uid;
    return { authenticated: true, user: info, audiences: granted };
  }
}
