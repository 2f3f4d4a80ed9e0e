/**
 * The proxy's Prometheus metrics. Every name and label key lives here; each proxy gets its own
 * Registry (never prom-client's global one), so that two proxies in one process — as in the end
 * to end tests — never see each other's numbers.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BUNDLE_RELOAD_RESULTS } from '../../meshtls/bundle-file.ts';
import { HANDSHAKE_FAILURE_REASONS } from '../../meshtls/failure-reason.ts';
import type { InboundDecision } from '../inbound/authorize.ts';
import { DECISION_LOG_DROP_REASONS } from '../inbound/decision-log.ts';

export type Direction = 'inbound' | 'outbound';
export type ConnectionLabels = 'direction' | 'tls' | 'peer_identity';

export interface ProxyMetrics {
  registry: Registry;
  /** `proxy_tcp_open_total{direction,tls,peer_identity}`: connections handed to the pump. */
  tcpOpen: Counter<ConnectionLabels>;
  /** `proxy_tcp_close_total{direction,tls,peer_identity}`: those connections, once closed. */
  tcpClose: Counter<ConnectionLabels>;
  /**
   * `proxy_tcp_bytes_total{direction,flow}`: application bytes (after TLS) on the accepted side;
   * `read` from the connecting client, `write` to it.
   */
  tcpBytes: Counter<'direction' | 'flow'>;
  /** `proxy_tls_handshake_failures_total{direction,reason}`; reasons in `HANDSHAKE_FAILURE_REASONS`. */
  handshakeFailures: Counter<'direction' | 'reason'>;
  /** `proxy_tcp_refused_total{direction,reason}`: connections refused outside the handshake. */
  tcpRefused: Counter<'direction' | 'reason'>;
  /** `proxy_identity_cert_expiry_timestamp_seconds`: notAfter of the certificate in use. */
  certExpiry: Gauge;
  /** `proxy_identity_renewals_total`: certificates accepted by the credential store. */
  renewals: Counter;
  /** `proxy_identity_renewal_failures_total`: failed attempts (certify call or refused certificate). */
  renewalFailures: Counter;
  /** `proxy_trust_bundle_reloads_total{result}`; result is applied, invalid or refused. */
  bundleReloads: Counter<'result'>;
  /** `inbound_tcp_authz_allow_total{AUTHZ_LABELS}`: connections admitted (audit ones included, as `default/audit`). */
  authzAllow: Counter<AuthzLabel>;
  /** `inbound_tcp_authz_deny_total{AUTHZ_LABELS}`: connections refused by policy. */
  authzDeny: Counter<AuthzLabel>;
  /** `inbound_tcp_authz_audit_total{AUTHZ_LABELS}`: connections admitted only by audit mode (would have been denied). */
  authzAudit: Counter<AuthzLabel>;
  /** `inbound_tcp_authz_terminate_total{AUTHZ_LABELS}`: open connections closed because a policy change denies them. */
  authzTerminate: Counter<AuthzLabel>;
  /** `proxy_inbound_policy_state{state}`: 1 for the current state (default, current, stale), 0 for the others. */
  policyState: Gauge<'state'>;
  /** `proxy_inbound_policy_updates_total`: changes reported by the policy source (a policy applied, or its status). */
  policyUpdates: Counter;
  /** `proxy_inbound_policy_generation`: how many policies the source has applied. */
  policyGeneration: Gauge;
  /** `proxy_decision_log_records_total`: decision records written to the decision log. */
  decisionLogRecords: Counter;
  /** `proxy_decision_log_dropped_total{reason}`: decision records dropped; reasons in `DECISION_LOG_DROP_REASONS`. */
  decisionLogDropped: Counter<'reason'>;
}

/** Linkerd's labels of `inbound_tcp_authz_*`: the server, the authorization, TLS and the client. */
export const AUTHZ_LABELS = ['srv_group', 'srv_kind', 'srv_name', 'authz_kind', 'authz_name', 'tls', 'client_id'] as const;
export type AuthzLabel = (typeof AUTHZ_LABELS)[number];
export const POLICY_STATES = ['default', 'current', 'stale'] as const;

/** Stable label values, pre-created so that dashboards see zeros rather than gaps. */
export const REFUSAL_REASONS = ['detect-timeout', 'transport-header', 'port-not-allowed', 'unauthorized', 'app-unreachable'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export function createProxyMetrics(options: { processMetrics?: boolean } = {}): ProxyMetrics {
  const registry = new Registry();
  const registers = [registry];
  const connectionLabels = ['direction', 'tls', 'peer_identity'] as const;

  const handshakeFailures = new Counter({
    name: 'proxy_tls_handshake_failures_total',
    help: 'TLS handshakes that failed or were refused, by direction and reason.',
    labelNames: ['direction', 'reason'] as const,
    registers,
  });
  const tcpRefused = new Counter({
    name: 'proxy_tcp_refused_total',
    help: 'Connections refused after detection or the handshake, by direction and reason.',
    labelNames: ['direction', 'reason'] as const,
    registers,
  });
  const bundleReloads = new Counter({
    name: 'proxy_trust_bundle_reloads_total',
    help: 'Changes of the trust bundle file, by result (applied, invalid, refused).',
    labelNames: ['result'] as const,
    registers,
  });
  for (const direction of ['inbound', 'outbound'] as const) {
    for (const reason of HANDSHAKE_FAILURE_REASONS) handshakeFailures.inc({ direction, reason }, 0);
  }
  for (const reason of REFUSAL_REASONS) tcpRefused.inc({ direction: 'inbound', reason }, 0);
  for (const result of BUNDLE_RELOAD_RESULTS) bundleReloads.inc({ result }, 0);
  const decisionLogDropped = new Counter({
    name: 'proxy_decision_log_dropped_total',
    help: 'Decision log records dropped, by reason (queue-full, write-error, too-large, closed).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of DECISION_LOG_DROP_REASONS) decisionLogDropped.inc({ reason }, 0);

  const metrics: ProxyMetrics = {
    registry,
    tcpOpen: new Counter({ name: 'proxy_tcp_open_total', help: 'Connections opened (forwarding started).', labelNames: connectionLabels, registers }),
    tcpClose: new Counter({ name: 'proxy_tcp_close_total', help: 'Forwarded connections closed.', labelNames: connectionLabels, registers }),
    tcpBytes: new Counter({
      name: 'proxy_tcp_bytes_total',
      help: 'Application bytes forwarded, counted on the accepted connection: read from the client, written to it.',
      labelNames: ['direction', 'flow'] as const,
      registers,
    }),
    handshakeFailures,
    tcpRefused,
    certExpiry: new Gauge({
      name: 'proxy_identity_cert_expiry_timestamp_seconds',
      help: "notAfter of the proxy's certificate in use, as a Unix timestamp.",
      registers,
    }),
    renewals: new Counter({ name: 'proxy_identity_renewals_total', help: 'Certificates received and put in use.', registers }),
    renewalFailures: new Counter({
      name: 'proxy_identity_renewal_failures_total',
      help: 'Renewal attempts that failed: the certify call, or a certificate the proxy refused.',
      registers,
    }),
    bundleReloads,
    authzAllow: authzCounter('inbound_tcp_authz_allow_total', 'Inbound connections admitted by policy (audit mode included, as authz default/audit).', registers),
    authzDeny: authzCounter('inbound_tcp_authz_deny_total', 'Inbound connections refused by policy.', registers),
    authzAudit: authzCounter('inbound_tcp_authz_audit_total', 'Inbound connections admitted only by audit mode: they would have been denied.', registers),
    authzTerminate: authzCounter('inbound_tcp_authz_terminate_total', 'Open inbound connections closed because a policy change no longer permits them.', registers),
    policyState: new Gauge({
      name: 'proxy_inbound_policy_state',
      help: 'State of the inbound policy: 1 for the current one of default, current, stale.',
      labelNames: ['state'] as const,
      registers,
    }),
    policyUpdates: new Counter({ name: 'proxy_inbound_policy_updates_total', help: 'Changes reported by the inbound policy source (policy or status).', registers }),
    policyGeneration: new Gauge({ name: 'proxy_inbound_policy_generation', help: 'Inbound policies applied by the source since start.', registers }),
    decisionLogRecords: new Counter({ name: 'proxy_decision_log_records_total', help: 'Decision records written to the decision log.', registers }),
    decisionLogDropped,
  };
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return metrics;
}

function authzCounter(name: string, help: string, registers: Registry[]): Counter<AuthzLabel> {
  return new Counter({ name, help, labelNames: AUTHZ_LABELS, registers });
}

/** Label values for a connection; `peer_identity` is empty for an unauthenticated peer. */
export function connectionLabels(direction: Direction, peerIdentity: string | undefined) {
  return { direction, tls: peerIdentity ? 'true' : 'false', peer_identity: peerIdentity ?? '' };
}

/** The Server's group, as Linkerd labels it: empty for a default policy. */
const POLICY_GROUP = 'policy.linkerd.io';
const AUDIT_AUTHORIZATION = { kind: 'default', name: 'audit' } as const;

/**
 * Label values of a decision, as Linkerd's proxy sets them: names without their namespace (the
 * Server and its authorizations live in the pod's namespace), empty authorization labels for a
 * denial, `client_id` empty for a plaintext client.
 */
export function authzLabels(decision: InboundDecision, client: { tls: boolean; clientIdentity?: string | undefined }): Record<AuthzLabel, string> {
  const { server } = decision;
  // Audit admits through an authorization of its own, whatever the policy calls it.
  const authorization = decision.decision === 'audit' ? AUDIT_AUTHORIZATION : decision.authorization;
  return {
    srv_group: server.kind === 'server' ? POLICY_GROUP : '',
    srv_kind: server.kind,
    srv_name: bareName(server.name),
    authz_kind: authorization?.kind ?? '',
    authz_name: authorization ? bareName(authorization.name) : '',
    tls: client.tls ? 'true' : 'false',
    client_id: client.clientIdentity ?? '',
  };
}

/** `demo/api` -> `api`; a default policy's name (`audit`) has no namespace. */
const bareName = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
