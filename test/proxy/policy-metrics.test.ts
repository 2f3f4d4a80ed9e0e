/**
 * Enforcement's accounting, without sockets: Linkerd's `inbound_tcp_authz_*` labels for every
 * kind of decision, what admit() counts and logs, what a re-check after a policy change does to
 * open connections, and the policy status metrics and admin document.
 */
import { describe, expect, it } from 'vitest';
import { authzLabels, createProxyMetrics } from '../../proxy/app/admin/metrics.ts';
import { policyStatusDocument, trackPolicyStatus } from '../../proxy/app/admin/policy-status.ts';
import type { InboundConnectionFacts, InboundDecision, InboundPolicy, InboundPolicyStatus } from '../../proxy/app/inbound/authorize.ts';
import { InboundEnforcement } from '../../proxy/app/inbound/enforcement.ts';
import type { PumpSide } from '../../proxy/io/pump.ts';
import { idOf, metric } from './support/mesh.ts';
import { capturingLogger } from './support/policy.ts';

const WEB = idOf('web');
const SERVER = { kind: 'server', name: 'demo/api' };
const allowWeb: InboundDecision = { decision: 'allow', server: SERVER, authorization: { kind: 'authorizationpolicy', name: 'demo/api-from-web' }, reason: 'admitted by AuthorizationPolicy demo/api-from-web' };
const deny: InboundDecision = { decision: 'deny', server: SERVER, authorization: null, reason: 'no authorization admits it; accessPolicy deny' };
const audit: InboundDecision = { decision: 'audit', server: SERVER, authorization: { kind: 'default', name: 'audit' }, reason: 'accessPolicy audit admits it' };
const defaultAllow: InboundDecision = {
  decision: 'allow',
  server: { kind: 'default', name: 'all-unauthenticated' },
  authorization: { kind: 'default', name: 'all-unauthenticated' },
  reason: 'default policy all-unauthenticated',
};
const webFacts: InboundConnectionFacts = { clientIdentity: WEB, clientIp: '127.0.0.1', clientAddress: '127.0.0.1:50000', tls: true, targetPort: 8080 };
const plainFacts: InboundConnectionFacts = { clientIp: '127.0.0.1', clientAddress: '127.0.0.1:50001', tls: false, targetPort: 8080 };

/** A policy whose decision and status the test sets, and whose change notifications it sends. */
function controlledPolicy() {
  let answer: (f: InboundConnectionFacts) => InboundDecision = () => allowWeb;
  let status: InboundPolicyStatus = { source: 'test', state: 'default', sinceMs: 0, generation: 0, detail: 'nothing yet' };
  const subscribers = new Set<() => void>();
  const policy: InboundPolicy = {
    decide: (f) => answer(f),
    subscribe: (fn) => (subscribers.add(fn), () => void subscribers.delete(fn)),
    status: () => status,
    close: async () => {},
  };
  return {
    policy,
    change(next: (f: InboundConnectionFacts) => InboundDecision, nextStatus: Partial<InboundPolicyStatus> = {}) {
      answer = next;
      status = { ...status, ...nextStatus };
      for (const fn of subscribers) fn();
    },
    subscribers,
  };
}

/** A socket stand-in: resetSide() on a plain TCP side calls resetAndDestroy(). */
function fakeSide() {
  const socket = { destroyed: false, resets: 0, resetAndDestroy: () => ((socket.destroyed = true), socket.resets++), destroy: () => (socket.destroyed = true) };
  return { side: { stream: socket, tcp: socket } as unknown as PumpSide, socket };
}

describe('authzLabels', () => {
  const cases: [string, InboundDecision, InboundConnectionFacts, Record<string, string>][] = [
    ['ok/server-authorization', allowWeb, webFacts, { srv_group: 'policy.linkerd.io', srv_kind: 'server', srv_name: 'api', authz_kind: 'authorizationpolicy', authz_name: 'api-from-web', tls: 'true', client_id: WEB }],
    ['ok/deny-has-no-authorization', deny, plainFacts, { srv_group: 'policy.linkerd.io', srv_kind: 'server', srv_name: 'api', authz_kind: '', authz_name: '', tls: 'false', client_id: '' }],
    ['ok/audit-is-default-audit', { ...audit, authorization: { kind: 'serverauthorization', name: 'demo/x' } }, webFacts, { srv_kind: 'server', authz_kind: 'default', authz_name: 'audit' }],
    ['ok/default-policy', defaultAllow, plainFacts, { srv_group: '', srv_kind: 'default', srv_name: 'all-unauthenticated', authz_kind: 'default', authz_name: 'all-unauthenticated', tls: 'false' }],
  ];
  it.each(cases)('%s', (_name, decision, facts, expected) => {
    expect(authzLabels(decision, facts)).toMatchObject(expected);
  });
});

describe('InboundEnforcement', () => {
  const setup = () => {
    const metrics = createProxyMetrics({ processMetrics: false });
    const logs = capturingLogger();
    const control = controlledPolicy();
    const enforcement = new InboundEnforcement({ policy: control.policy, metrics, logger: logs.logger, pod: 'demo/api-0' });
    const m = (name: string, labels: Record<string, string> = {}) => metric({ metrics } as never, name, labels);
    return { metrics, logs, control, enforcement, m };
  };

  it('counts allow, deny and audit with their labels, and logs denials and audits with a decision id', async () => {
    const { logs, control, enforcement, m } = setup();
    expect(enforcement.admit(webFacts)).toMatchObject({ admitted: true, decision: allowWeb });
    control.change(() => deny);
    const denied = enforcement.admit(plainFacts);
    control.change(() => audit);
    const audited = enforcement.admit(webFacts);
    expect(denied.admitted).toBe(false);
    expect(audited.admitted).toBe(true);
    expect(denied.decisionId).not.toBe(audited.decisionId);

    expect(await m('inbound_tcp_authz_allow_total', { authz_name: 'api-from-web', client_id: WEB, tls: 'true' })).toBe(1);
    expect(await m('inbound_tcp_authz_allow_total', { authz_kind: 'default', authz_name: 'audit' })).toBe(1);
    expect(await m('inbound_tcp_authz_audit_total', { srv_name: 'api', authz_name: 'audit', client_id: WEB })).toBe(1);
    expect(await m('inbound_tcp_authz_deny_total', { srv_name: 'api', tls: 'false', client_id: '' })).toBe(1);
    expect(await m('proxy_tcp_refused_total', { reason: 'unauthorized' })).toBe(1);

    expect(logs.events('inbound.denied')).toEqual([
      expect.objectContaining({
        level: 30,
        decisionId: denied.decisionId,
        pod: 'demo/api-0',
        port: 8080,
        server: SERVER,
        authorization: null,
        clientAddress: '127.0.0.1:50001',
        tls: false,
        reason: deny.reason,
      }),
    ]);
    expect(logs.events('inbound.audit')).toEqual([expect.objectContaining({ decisionId: audited.decisionId, clientIdentity: WEB, tls: true, reason: audit.reason })]);
    expect(logs.events('inbound.allowed')).toHaveLength(1); // debug only
  });

  it('fails closed when the policy throws', () => {
    const { control, enforcement } = setup();
    control.change(() => {
      throw new Error('boom');
    });
    expect(enforcement.admit(webFacts)).toMatchObject({ admitted: false, decision: { decision: 'deny', reason: expect.stringContaining('boom') } });
  });

  it('on a policy change, resets the open connections it now denies and leaves the others', async () => {
    const { logs, control, enforcement, m } = setup();
    const web = fakeSide();
    const plain = fakeSide();
    const upstream = fakeSide();
    const webConnection = enforcement.track(webFacts, enforcement.admit(webFacts), web.side);
    webConnection.attach(upstream.side);
    enforcement.track(plainFacts, enforcement.admit(plainFacts), plain.side);
    expect(enforcement.openConnections).toBe(2);

    control.change((f) => (f.clientIdentity ? deny : defaultAllow));
    expect(web.socket.resets).toBe(1);
    expect(upstream.socket.resets).toBe(1);
    expect(webConnection.revoked).toBe(true);
    expect(plain.socket.destroyed).toBe(false);
    expect(enforcement.openConnections).toBe(1);
    expect(await m('inbound_tcp_authz_terminate_total', { srv_name: 'api', client_id: WEB, tls: 'true' })).toBe(1);
    const [revoked] = logs.events('inbound.revoked');
    expect(revoked).toMatchObject({ pod: 'demo/api-0', clientIdentity: WEB, reason: deny.reason, previousAuthorization: allowWeb.authorization });
    expect(revoked!.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    // The plaintext connection is now admitted by something else: counted as a new permit.
    expect(await m('inbound_tcp_authz_allow_total', { srv_kind: 'default', authz_name: 'all-unauthenticated' })).toBe(1);

    control.change(() => deny);
    expect(plain.socket.resets).toBe(1);
    expect(enforcement.openConnections).toBe(0);
    enforcement.close();
    expect(control.subscribers.size).toBe(0);
  });
});

describe('policy status', () => {
  it('keeps proxy_inbound_policy_* in step with the policy', async () => {
    const metrics = createProxyMetrics({ processMetrics: false });
    const m = (name: string, labels: Record<string, string> = {}) => metric({ metrics } as never, name, labels);
    const control = controlledPolicy();
    const untrack = trackPolicyStatus(control.policy, metrics);
    expect(await m('proxy_inbound_policy_state', { state: 'default' })).toBe(1);
    expect(await m('proxy_inbound_policy_state', { state: 'current' })).toBe(0);

    control.change(() => allowWeb, { state: 'current', generation: 1 });
    control.change(() => allowWeb, { state: 'stale', detail: 'unreachable' });
    expect(await m('proxy_inbound_policy_state', { state: 'stale' })).toBe(1);
    expect(await m('proxy_inbound_policy_state', { state: 'current' })).toBe(0);
    expect(await m('proxy_inbound_policy_generation')).toBe(1);
    expect(await m('proxy_inbound_policy_updates_total')).toBe(2);
    untrack();
    expect(control.subscribers.size).toBe(0);
  });

  it('says what a stale policy means in the admin document', () => {
    const doc = policyStatusDocument({ source: 'directory /p', state: 'stale', sinceMs: 0, generation: 3, detail: 'invalid policy' });
    expect(doc).toEqual({ source: 'directory /p', state: 'stale', since: '1970-01-01T00:00:00.000Z', generation: 3, detail: 'invalid policy', summary: 'stale: keeping the last policy received' });
  });
});
