/**
 * Enforces the inbound policy: decides each new connection, counts and logs the decision as
 * Linkerd's proxy does (`inbound_tcp_authz_*`, one line per denial and per audit), and re-decides
 * every open connection whenever the policy changes, resetting those it no longer permits.
 *
 * Every logged decision carries a random id, so that a denial a client reports can be found in
 * the proxy's log, and a revocation is told apart from the admission it undoes.
 *
 * With a decision log, every decision is also one record (decision-record.ts): a denial at once
 * (bytes 0, duration 0); an admission (allow or audit) when its connection ends, with the bytes
 * each way and the duration; a revocation as a `deny` record of its own (bytes 0), besides the
 * record of the admission it undoes. Records go to a queue (decision-log.ts): nothing here waits.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../common/log.ts';
import type { PumpSide } from '../../io/pump.ts';
import { authzLabels, type ProxyMetrics } from '../admin/metrics.ts';
import type { InboundConnectionFacts, InboundDecision, InboundPolicy } from './authorize.ts';
import type { DecisionLineSink } from './decision-log.ts';
import { decisionRecord, formatDecisionRecord } from './decision-record.ts';
import { OpenConnections, type ConnectionBytes, type OpenConnection } from './open-connections.ts';

export interface EnforcementOptions {
  policy: InboundPolicy;
  metrics: ProxyMetrics;
  logger: Logger;
  /** `NS/NAME` of this workload's pod, for the log lines; absent without a policy source. */
  pod?: string;
  /** Where decision records go, and the pod they name (`--pod`, else `NS/SA` of the local identity). */
  decisionLog?: { sink: DecisionLineSink; pod: string };
}

export interface Admission {
  decision: InboundDecision;
  decisionId: string;
  admitted: boolean;
  /** When the decision was made, ms since the epoch. */
  timeMs: number;
}

export class InboundEnforcement {
  readonly #options: EnforcementOptions;
  readonly #logger: Logger;
  readonly #open = new OpenConnections();
  readonly #unsubscribe: () => void;
  /** Admitted connections whose end (and so whose record) is still to come. */
  #unfinished = 0;
  #whenSettled: Array<() => void> = [];

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
    const timeMs = Date.now();
    const decisionId = randomUUID();
    const labels = authzLabels(decision, facts);
    const fields = this.#fields(decisionId, facts, decision);
    switch (decision.decision) {
      case 'deny':
        this.#options.metrics.authzDeny.inc(labels);
        this.#options.metrics.tcpRefused.inc({ direction: 'inbound', reason: 'unauthorized' });
        this.#logger.info({ event: 'inbound.denied', ...fields }, `connection denied: ${decision.reason}`);
        this.#record(facts, decision, decisionId, timeMs);
        return { decision, decisionId, admitted: false, timeMs };
      case 'audit':
        this.#countAdmitted(decision, facts);
        this.#logger.info({ event: 'inbound.audit', ...fields }, `connection admitted in audit mode; it would have been denied: ${decision.reason}`);
        return { decision, decisionId, admitted: true, timeMs };
      default:
        this.#countAdmitted(decision, facts);
        this.#logger.debug({ event: 'inbound.allowed', ...fields }, 'connection allowed');
        return { decision, decisionId, admitted: true, timeMs };
    }
  }

  /**
   * Keeps an admitted connection under watch until `closed()` or a revocation; its decision
   * record is written at `closed(bytes)`. `openedAt` (`performance.now()` when the proxy accepted
   * it) starts its duration.
   */
  track(facts: InboundConnectionFacts, admission: Admission, client: PumpSide, openedAt: number = performance.now()): OpenConnection {
    this.#unfinished++;
    const admitted = { decision: admission.decision, decisionId: admission.decisionId, timeMs: admission.timeMs, openedAt };
    return this.#open.open(facts, admitted, client, (c, bytes) => this.#ended(c, bytes));
  }

  /**
   * Resolves once every admitted connection has ended (and its record is queued), or after
   * `timeoutMs`; for closing the proxy after its listeners, before the decision log.
   */
  settled(timeoutMs: number): Promise<void> {
    if (this.#unfinished === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#whenSettled.push(done);
    });
  }

  /** Decides every open connection again; runs on each change the policy reports. */
  recheck(): void {
    for (const connection of this.#open.list()) {
      const { facts } = connection;
      const decision = this.#decide(facts);
      if (decision.decision === 'deny') {
        const decisionId = randomUUID();
        const timeMs = Date.now();
        this.#options.metrics.authzTerminate.inc(authzLabels(decision, facts));
        this.#logger.info(
          { event: 'inbound.revoked', ...this.#fields(decisionId, facts, decision), previousAuthorization: connection.decision.authorization },
          `open connection closed: the policy no longer permits it: ${decision.reason}`,
        );
        // The admission's own record follows when the connection has closed, with its bytes.
        this.#record(facts, decision, decisionId, timeMs);
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

  #ended(connection: OpenConnection, bytes: ConnectionBytes | undefined): void {
    const { admitted, facts } = connection;
    this.#record(facts, admitted.decision, admitted.decisionId, admitted.timeMs, bytes, performance.now() - admitted.openedAt);
    if (--this.#unfinished === 0) for (const done of this.#whenSettled.splice(0)) done();
  }

  #record(facts: InboundConnectionFacts, decision: InboundDecision, decisionId: string, timeMs: number, bytes?: ConnectionBytes, durationMs?: number): void {
    const log = this.#options.decisionLog;
    if (!log) return;
    const record = decisionRecord({
      pod: log.pod,
      facts,
      decision,
      decisionId,
      timeMs,
      ...(bytes ? { bytesIn: bytes.in, bytesOut: bytes.out } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
    });
    log.sink.write(formatDecisionRecord(record));
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
