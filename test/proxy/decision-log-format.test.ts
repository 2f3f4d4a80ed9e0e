/**
 * The proxy writes the decision log (v1) from its own types, without importing policy/. These
 * tests hold its output to policy/'s reader and writer, so that the two cannot drift apart.
 */
import { describe, expect, it } from 'vitest';
import { formatDecisionLine, parseDecisionLine, type DecisionRecord } from '../../policy/audit/decision-log.ts';
import type { InboundConnectionFacts, InboundDecision } from '../../proxy/app/inbound/authorize.ts';
import { authorizationName, decisionRecord, formatDecisionRecord, MAX_REASON_LENGTH, serverName } from '../../proxy/app/inbound/decision-record.ts';
import { podOfIdentity } from '../../proxy/config-policy.ts';

const WEB = 'web.demo.serviceaccount.identity.linkerd.cluster.local';
const mtls: InboundConnectionFacts = { clientIdentity: WEB, clientIp: '10.1.0.10', clientAddress: '10.1.0.10:50000', tls: true, targetPort: 8080 };
const plain: InboundConnectionFacts = { clientIp: 'fd00::7', clientAddress: '[fd00::7]:50001', tls: false, targetPort: 5432 };
const allow: InboundDecision = {
  decision: 'allow',
  server: { kind: 'server', name: 'demo/api' },
  authorization: { kind: 'authorizationpolicy', name: 'demo/api-from-web' },
  reason: 'AuthorizationPolicy demo/api-from-web admits web',
};
const ID = '6f1c1a52-8f4e-4c47-9d1e-0c6a0f7e2b11';
const TIME = Date.parse('2026-08-01T10:00:00.123Z');

const parse = (line: string): DecisionRecord => {
  expect(line.endsWith('\n')).toBe(true);
  expect(line.indexOf('\n')).toBe(line.length - 1);
  const parsed = parseDecisionLine(line.slice(0, -1));
  if ('error' in parsed) throw new Error(`policy/'s reader refused the proxy's line: ${parsed.error}\n${line}`);
  return parsed.record;
};

describe('decision log format (v1), as the proxy writes it', () => {
  it("an admitted mTLS connection: the line is byte for byte policy/'s formatDecisionLine of the same record", () => {
    const record = decisionRecord({ pod: 'demo/api-0', facts: mtls, decision: allow, decisionId: ID, timeMs: TIME, bytesIn: 1200, bytesOut: 340, durationMs: 12.5 });
    const line = formatDecisionRecord(record);
    const expected: DecisionRecord = {
      v: 1,
      time: '2026-08-01T10:00:00.123Z',
      pod: 'demo/api-0',
      port: 8080,
      clientIdentity: WEB,
      clientIp: '10.1.0.10',
      tls: true,
      decision: 'allow',
      server: 'demo/api',
      authorization: 'AuthorizationPolicy/demo/api-from-web',
      reason: allow.reason,
      bytesIn: 1200,
      bytesOut: 340,
      durationMs: 12.5,
      decisionId: ID,
    };
    expect(parse(line)).toEqual(expected);
    expect(line).toBe(formatDecisionLine(expected));
  });

  it('a denial of a plaintext client on a default policy: no identity, no server, no authorization, zero bytes', () => {
    const deny: InboundDecision = { decision: 'deny', server: { kind: 'default', name: 'all-authenticated' }, authorization: null, reason: 'default policy all-authenticated requires an identity' };
    const record = parse(formatDecisionRecord(decisionRecord({ pod: 'demo/db', facts: plain, decision: deny, decisionId: ID, timeMs: TIME })));
    expect(record).toMatchObject({ clientIdentity: null, clientIp: 'fd00::7', tls: false, decision: 'deny', server: null, authorization: null, bytesIn: 0, bytesOut: 0, durationMs: 0, port: 5432 });
  });

  it('maps Servers and authorizations: Kind/NS/NAME, default/POLICY, null', () => {
    expect(serverName({ kind: 'server', name: 'demo/api' })).toBe('demo/api');
    expect(serverName({ kind: 'default', name: 'all-unauthenticated' })).toBeNull();
    expect(serverName({ kind: 'default', name: 'error' })).toBeNull();
    expect(authorizationName({ kind: 'authorizationpolicy', name: 'demo/a' })).toBe('AuthorizationPolicy/demo/a');
    expect(authorizationName({ kind: 'serverauthorization', name: 'demo/b' })).toBe('ServerAuthorization/demo/b');
    expect(authorizationName({ kind: 'default', name: 'audit' })).toBe('default/audit');
    expect(authorizationName({ kind: 'default', name: 'all-unauthenticated' })).toBe('default/all-unauthenticated');
    expect(authorizationName(null)).toBeNull();
    // Every mapping is one policy/'s reader accepts.
    for (const authorization of [{ kind: 'serverauthorization', name: 'demo/b' }, { kind: 'default', name: 'audit' }, null]) {
      const audit: InboundDecision = { ...allow, decision: 'audit', authorization };
      parse(formatDecisionRecord(decisionRecord({ pod: 'demo/api-0', facts: mtls, decision: audit, decisionId: ID, timeMs: TIME })));
    }
  });

  it('a denial never names an authorization; a long reason is cut; durations are rounded to the microsecond', () => {
    const odd: InboundDecision = { ...allow, decision: 'deny', reason: `"quoted" ${'é'.repeat(3 * MAX_REASON_LENGTH)}` };
    const record = parse(formatDecisionRecord(decisionRecord({ pod: 'demo/api-0', facts: mtls, decision: odd, decisionId: ID, timeMs: TIME, durationMs: 1.23456789 })));
    expect(record.authorization).toBeNull();
    expect(record.reason.length).toBe(MAX_REASON_LENGTH);
    expect(record.reason.endsWith('…')).toBe(true);
    expect(record.durationMs).toBe(1.235);
  });

  it('without --pod, the pod is NS/SA of the local identity', () => {
    expect(podOfIdentity(WEB)).toBe('demo/web');
    expect(podOfIdentity('solo')).toBe('default/solo');
    parse(formatDecisionRecord(decisionRecord({ pod: podOfIdentity(WEB), facts: mtls, decision: allow, decisionId: ID, timeMs: TIME })));
  });
});
