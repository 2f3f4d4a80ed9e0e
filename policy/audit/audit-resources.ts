/**
 * The policy audit of a resource set: every check, over one index built the way connections
 * are decided. Findings are derived from the resources themselves (each with its code); the
 * index answers only what the evaluator alone knows (which Server governs a pod port, conflicts).
 */
import { PolicyIndex } from '../evaluator/policy-index.ts';
import type { EvaluatorConfig } from '../evaluator/types.ts';
import type { ResourceSet } from '../resources/types.ts';
import { auditContext, type AuditContext } from './audit-context.ts';
import { checkAccess } from './check-access.ts';
import { checkDefaults } from './check-defaults.ts';
import { checkPorts } from './check-ports.ts';
import { checkReferences } from './check-references.ts';
import { checkServerAccess } from './check-server-access.ts';
import { checkServerSelection } from './check-server-selection.ts';
import { compareFindings, type Finding } from './finding.ts';

const CHECKS: readonly ((ctx: AuditContext) => Finding[])[] = [checkPorts, checkDefaults, checkServerSelection, checkServerAccess, checkReferences, checkAccess];

/**
 * Audits policy resources; findings sorted most severe first.
 *
 * @example
 *   const { resources } = await loadResources(['policy/']);
 *   const findings = auditResources(resources, defaultEvaluatorConfig({ defaultPolicy: 'deny' }));
 *   // [{ code: 'port-without-server', severity: 'info', resources: [{ resource: 'Pod/demo/api-0', ... }], message, fix }, ...]
 */
export function auditResources(resources: ResourceSet, config: EvaluatorConfig): Finding[] {
  const ctx = auditContext(resources, config, PolicyIndex.build(resources, config));
  return CHECKS.flatMap((check) => check(ctx)).sort(compareFindings);
}
