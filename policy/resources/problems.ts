import { ConfigError } from '../../common/errors.ts';
import type { SourceRef } from './types.ts';

/** One reason a resource is refused, located as kubectl would locate it. */
export interface ValidationProblem {
  source: SourceRef;
  /** `Server demo/api`, when the document got far enough to name one. */
  resource?: string;
  /** `spec.port`, `spec.client.networks[0].except[1]`; absent for a document-level problem. */
  field?: string;
  reason: string;
}

export function formatSource(source: SourceRef): string {
  return `${source.file} (document ${source.document}${source.item !== undefined ? `, item ${source.item}` : ''})`;
}

/** `policy.yaml (document 3): Server demo/api: spec.port: must be a port number 1-65535 or a port name` */
export function formatProblem(problem: ValidationProblem): string {
  const parts = [formatSource(problem.source)];
  if (problem.resource) parts.push(problem.resource);
  if (problem.field) parts.push(problem.field);
  parts.push(problem.reason);
  return parts.join(': ');
}

/** The resources were refused: every problem found, in file and document order. */
export class PolicyValidationError extends ConfigError {
  readonly problems: readonly ValidationProblem[];
  constructor(problems: readonly ValidationProblem[]) {
    const lines = problems.map((p) => `  ${formatProblem(p)}`);
    super(`invalid policy resources (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.problems = problems;
  }
}
