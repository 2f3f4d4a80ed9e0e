/**
 * Enforces the inbound policy: decides each new connection, counts and logs the decision as
 * Linkerd's proxy does (`inbound_tcp_authz_*`, one line per denial and per audit), and re-decides
 * every open connection whenever the policy changes, resetting those it no longer permits.
 *
 * Every logged decision carries a random id, so that a denial a client reports can be found in
 * the proxy's log, and a revocation is told apart from the admission it undoes.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../common/log.ts';
import type { PumpSide } from '../../io/pump.ts';
import { authzLabels, type ProxyMetrics } from '../admin/metrics.ts';
import type { InboundConnectionFacts, InboundDecision, InboundPolicy } from './authorize.ts';
import { OpenConnections, type OpenConnection } from './open-connections.ts';

export interface EnforcementOptions {
  policy: InboundPolicy;
  metrics: ProxyMetrics;
  logger: Logger;
  /** `NS/NAME` of this workload's pod, for the log lines; absent without a policy source. */
  pod?: string;
}

export interface Admission {
  decision: InboundDecision;
  decisionId: string;
  admitted: boolean;
}

export class InboundEnforcement {
  readonly #options: EnforcementOptions;
  readonly #logger: Logger;
  readonly #open = new OpenConnections();
  readonly #unsubscribe: () => void;

  constructor(options: EnforcementOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'inbound-policy' });
    this.#unsubscribe = options.policy.subscribe(() => this.recheck());
  }

  /** Connections admitted and still open. */
  get openConnections(): number {
    return this.#open.size;
  }

  /** Decides a new connection; counts it and logs a denial or an audit. The caller resets a refused one. */
  admit(facts: InboundConnectionFacts): Admission {
    const decision = this.#decide(facts);
    const decisionId = randomUUID();
    const labels = authzLabels(decision, facts);
    const fields = this.#fields(decisionId, facts, decision);
    switch (decision.decision) {
      case 'deny':
        this.#options.metrics.authzDeny.inc(labels);
        this.#options.metrics.tcpRefused.inc({ direction: 'inbound', reason: 'unauthorized' });
        this.#logger.info({ event: 'inbound.denied', ...fields }, `connection denied: ${decision.reason}`);
        return { decision, decisionId, admitted: false };
      case 'audit':
        this.#countAdmitted(decision, facts);
        this.#logger.info({ event: 'inbound.audit', ...fields }, `connection admitted in audit mode; it would have been denied: ${decision.reason}`);
        return { decision, decisionId, admitted: true };
      default:
        this.#countAdmitted(decision, facts);
        this.#logger.debug({ event: 'inbound.allowed', ...fields }, 'connection allowed');
        return { decision, decisionId, admitted: true };
    }
  }

  /** Keeps an admitted connection under watch until `closed()` or a revocation. */
  track(facts: InboundConnectionFacts, decision: InboundDecision, client: PumpSide): OpenConnection {
    return this.#open.open(facts, decision, client);
  }

  /** Decides every open connection again; runs on each change the policy reports. */
  recheck(): void {
    for (const connection of this.#open.list()) {
      const { facts } = connection;
      const decision = this.#decide(facts);
      if (decision.decision === 'deny') {
        const decisionId = randomUUID();
        this.#options.metrics.authzTerminate.inc(authzLabels(decision, facts));
        this.#logger.info(
          { event: 'inbound.revoked', ...this.#fields(decisionId, facts, decision), previousAuthorization: connection.decision.authorization },
          `open connection closed: the policy no longer permits it: ${decision.reason}`,
        );
        connection.revoke();
      } else if (!sameDecision(decision, connection.decision)) {
        // Still permitted, by something else now: counted as Linkerd counts a changed permit.
        connection.decision = decision;
        this.#countAdmitted(decision, facts);
        if (decision.decision === 'audit') {
          this.#logger.info({ event: 'inbound.audit', ...this.#fields(randomUUID(), facts, decision) }, `open connection now admitted in audit mode only: ${decision.reason}`);
        }
      }
    }
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Fails closed: a policy that throws denies, rather than taking the connection down or admitting it. */
  #decide(facts: InboundConnectionFacts): InboundDecision {
    try {
      return this.#options.policy.decide(facts);
    } catch (err) {
      return {
        decision: 'deny',
        server: { kind: 'default', name: 'error' },
        authorization: null,
        reason: `the policy could not decide, so the connection is denied: ${(err as Error).message}`,
      };
    }
  }

  #countAdmitted(decision: InboundDecision, facts: InboundConnectionFacts): void {
    const labels = authzLabels(decision, facts);
    this.#options.metrics.authzAllow.inc(labels);
    if (decision.decision === 'audit') this.#options.metrics.authzAudit.inc(labels);
  }

  #fields(decisionId: string, facts: InboundConnectionFacts, decision: InboundDecision) {
    return {
      decisionId,
      pod: this.#options.pod,
      port: facts.targetPort,
      server: decision.server,
      authorization: decision.authorization,
      clientIdentity: facts.clientIdentity,
      clientAddress: facts.clientAddress,
      tls: facts.tls,
      reason: decision.reason,
    };
  }
}

function sameDecision(a: InboundDecision, b: InboundDecision): boolean {
  const sameRef = (x: InboundDecision['server'] | null, y: InboundDecision['server'] | null) => x?.kind === y?.kind && x?.name === y?.name;
  return a.decision === b.decision && sameRef(a.server, b.server) && sameRef(a.authorization, b.authorization);
}
