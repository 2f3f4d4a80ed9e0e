import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeDecisions, impactFindings } from '../../policy/audit/decision-impact.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { defaultEvaluatorConfig } from '../../policy/evaluator/types.ts';
import { loadResources } from '../../policy/resources/load.ts';

const IMPACT = fileURLToPath(new URL('./fixtures/audit/impact/', import.meta.url));
const LOGS = `${IMPACT}decisions/`;
const id = (sa: string) => `${sa}.demo.serviceaccount.identity.linkerd.cluster.local`;

async function proposedIndex(): Promise<PolicyIndex> {
  const { resources } = await loadResources([`${IMPACT}proposed.yaml`]);
  return PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' }));
}

/** `count client -> target` for a list of groups. */
const lines = (groups: readonly { count: number; client: string; server: string | null; pod?: string; port?: number }[]) =>
  groups.map((g) => `${g.count} ${g.client} -> ${g.server ?? `${g.pod}:${g.port}`}`);

describe('impact of switching audit to enforce', () => {
  it('every logged audit decision would have been refused, grouped by client and server', async () => {
    const impact = await analyzeDecisions([LOGS]);
    expect(impact.proposed).toBeUndefined();
    expect(impact.enforce.wouldRefuse).toBe(6);
    expect(lines(impact.enforce.groups)).toEqual([
      `2 ${id('jobs')} -> demo/api-http`,
      `2 ${id('ops')} -> demo/api-0:9990`,
      '1 unauthenticated 10.1.2.3 -> demo/api-http',
      `1 ${id('web')} -> demo/api-0:9990`,
    ]);
    expect(impact.enforce.groups[0]).toMatchObject({
      firstSeen: '2026-08-01T10:00:06Z',
      lastSeen: '2026-08-01T10:00:07Z',
      example: { decisionId: '00000000-0000-4000-8000-000000000006', file: `${LOGS}decisions.jsonl.1`, line: 1 },
    });
    const finding = impactFindings(impact).find((f) => f.code === 'enforce-would-refuse')!;
    expect(finding.severity).toBe('medium');
    expect(finding.message).toContain('6 logged connection(s) were admitted only by audit mode');
  });

  it('no audit decisions: nothing would be refused, no finding', async () => {
    const impact = await analyzeDecisions([`${LOGS}decisions.jsonl.2`]);
    expect(impact.enforce).toEqual({ wouldRefuse: 0, groups: [] });
    expect(impactFindings(impact).map((f) => f.code)).toEqual(['decision-log-bad-lines']);
  });
});

describe('impact of proposed resources', () => {
  it('re-decides every logged connection: refused, newly allowed, unchanged, pods missing', async () => {
    const impact = await analyzeDecisions([LOGS], await proposedIndex());
    const proposed = impact.proposed!;
    expect({ evaluated: proposed.evaluated, refused: proposed.refused, newlyAllowed: proposed.newlyAllowed, unchanged: proposed.unchanged }).toEqual({
      evaluated: 10,
      refused: 4,
      newlyAllowed: 1,
      unchanged: 5,
    });
    // Grouped by the Server that would refuse under the proposal (the admin port gets one).
    expect(lines(proposed.refusedGroups)).toEqual([`2 ${id('jobs')} -> demo/api-http`, '1 unauthenticated 10.1.2.3 -> demo/api-http', `1 ${id('web')} -> demo/api-admin`]);
    expect(proposed.refusedGroups[0]!.example.reason).toContain('no authorization for Server demo/api-http admits');
    expect(lines(proposed.newlyAllowedGroups)).toEqual([`1 ${id('ops')} -> demo/api-http`]);
    expect(proposed.newlyAllowedGroups[0]!.example.reason).toBe(`AuthorizationPolicy demo/api-http-clients admits ${id('ops')} from 10.1.0.12 to Server demo/api-http`);
    expect(proposed.missingPods).toEqual([{ pod: 'demo/old-0', count: 2 }]);
  });

  it('each headline is a finding: would refuse (medium), would allow (low), pods missing (low), bad lines (low)', async () => {
    const findings = impactFindings(await analyzeDecisions([LOGS], await proposedIndex()));
    expect(findings.map((f) => `${f.severity} ${f.code}`)).toEqual([
      'low decision-log-bad-lines',
      'medium enforce-would-refuse',
      'medium proposed-would-refuse',
      'low proposed-would-allow',
      'low proposed-pods-missing',
    ]);
    const missing = findings.find((f) => f.code === 'proposed-pods-missing')!;
    expect(missing.resources).toEqual([{ resource: 'Pod/demo/old-0' }]);
    expect(missing.message).toContain('2 logged connection(s) go to 1 pod(s) the proposed resources do not contain (demo/old-0)');
    const bad = findings.find((f) => f.code === 'decision-log-bad-lines')!;
    expect(bad.message).toContain(`${LOGS}decisions.jsonl.2:3 (not JSON)`);
    expect(bad.message).toContain(`${LOGS}decisions.jsonl.1:2 (port: must be a port number 1-65535 (got 0))`);
  });

  it('the current resources as the proposal: nothing refused; only the deny logged before audit mode changes', async () => {
    const { resources } = await loadResources([`${IMPACT}current.yaml`]);
    const impact = await analyzeDecisions([LOGS], PolicyIndex.build(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' })));
    expect(impact.proposed).toMatchObject({ evaluated: 12, refused: 0, newlyAllowed: 1, unchanged: 11, missingPods: [] });
    expect(impact.proposed!.newlyAllowedGroups[0]!.example.reason).toContain('accessPolicy audit admits it in audit mode');
  });
});
